//! GRAN, the Generative Recurrent Adversarial Network of Im et al. 2016 ("Generating images with
//! recurrent adversarial networks", arXiv:1602.05110), and its DCGAN-style discriminator.
//!
//! The generator draws on a canvas in `T` steps (§3 of the paper):
//! `h_z = tanh(W z + b)`, `h_c,1 = 0`, `h_c,t = g(ΔC_{t-1})`, `ΔC_t = f([h_z, h_c,t])`,
//! `C = sigmoid(Σ_t ΔC_t)`, where `f` is a DCGAN decoder and `g` its mirror encoder. With `T = 1`
//! GRAN is DCGAN.
//!
//! `config.rs` holds the configuration, its checks and its counts (parameters, FLOPs, memory);
//! `generator.rs` the recurrent generator, `discriminator.rs` the DCGAN discriminator, `gan.rs`
//! GRAN as a [`super::gan::Gan`]: its noise, drawing and losses.

mod config;
mod discriminator;
mod gan;
mod generator;
#[cfg(test)]
mod tests;

pub use config::{GranConfig, NoiseMode};
pub use discriminator::GranDiscriminator;
pub use generator::{CanvasDrawing, GranGenerator};
