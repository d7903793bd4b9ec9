//! Evaluation: the Generative Adversarial Metric (GAM) battles of Im et al. 2016, and the arena
//! that plays them round robin.

pub mod arena;
pub mod gam;
