//! Evaluation: the Generative Adversarial Metric (GAM) battles of Im et al. 2016 and the arena
//! that plays them round robin; sample-quality scores from an in-app classifier (classifier score,
//! Fréchet distance, class coverage) and the nearest-neighbour memorisation check.

pub mod arena;
pub mod classifier;
pub mod collapse;
pub mod folder;
pub mod frechet;
pub mod gam;
pub mod score;
pub mod text_check;
pub mod variety;
