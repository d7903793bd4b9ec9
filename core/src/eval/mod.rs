//! Evaluation: the Generative Adversarial Metric (GAM) battles of Im et al. 2016.

pub mod gam;
