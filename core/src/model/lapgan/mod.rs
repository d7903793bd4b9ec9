//! LAPGAN, the Laplacian pyramid of adversarial networks of Denton et al. 2015 ("Deep generative
//! image models using a Laplacian pyramid of adversarial networks", arXiv:1506.05751), with the
//! networks of its reference code (facebook/eyescream, `cifar/scripts/`).
//!
//! Images live in `[-1, 1]` inside the model. Level 0 is the finest (the image's side), level
//! `K = levels − 1` the coarsest. The coarsest level is a plain GAN on the low-pass image `I_K`:
//! multilayer perceptrons, as the reference's `train_cifar.lua`. Every finer level k is a
//! conditional GAN on the band-pass image `h_k = I_k − l_k` given `l_k = u(I_{k+1})`:
//! `G_k` reads a noise plane and `l_k` (and a label plane when class-conditional) through three
//! same-size convolutions and writes `h̃_k`; `D_k` reads `h + l_k` (the reference's `CAddTable`)
//! through a valid 5 × 5 convolution, a strided one, dropout and one logit.
//!
//! Sampling runs the pyramid's recurrence from coarse to fine:
//! `Ĩ_K = G_K(z_K)`, `Ĩ_k = u(Ĩ_{k+1}) + G_k(z_k, u(Ĩ_{k+1}))`.
//!
//! What "the discriminator" of the whole model is, for GAM battles, the arena and
//! nearest-neighbour features: `D_0`, the finest level's, on the full image (`h_0 + l_0 = I_0`),
//! so it judges exactly what the model outputs, as GRAN's D does.
//!
//! `config.rs` holds the configuration and the builders of every level's networks,
//! `generator.rs` and `discriminator.rs` the networks, `pyramid.rs` the Laplacian pyramid
//! itself, `gan.rs` LAPGAN as a [`super::gan::Gan`]: its noise, drawing and summed losses.

use burn::nn::Linear;
use burn::prelude::*;

use crate::error::Result;
use pyramid::Laplacian;

mod config;
mod discriminator;
mod gan;
mod generator;
pub mod pyramid;
#[cfg(test)]
mod tests;

pub use config::LapganConfig;
pub use discriminator::{BandDiscriminator, CoarseDiscriminator, DropoutDraw, LapganDiscriminator};
pub use generator::{BandGenerator, CoarseGenerator, LapganGenerator, LapganNoise, PyramidDrawing};

/// `[x, labels]` along the features, or `x` when unconditional.
pub(super) fn with_labels(x: Tensor<2>, labels: Option<Tensor<2>>) -> Tensor<2> {
    match labels {
        Some(l) => Tensor::cat(vec![x, l], 1),
        None => x,
    }
}

/// The label's learned plane `[batch, 1, side, side]`, when the level is conditional.
pub(super) fn label_plane(
    fc: &Option<Linear>,
    labels: Option<Tensor<2>>,
    side: usize,
) -> Vec<Tensor<4>> {
    match (fc, labels) {
        (Some(fc), Some(l)) => {
            let batch = l.dims()[0];
            vec![fc.forward(l).reshape([batch, 1, side, side])]
        }
        _ => Vec::new(),
    }
}

/// `[-1, 1] → [0, 1]`, clamped.
pub fn to_unit(x: Tensor<4>) -> Tensor<4> {
    x.add_scalar(1.0).mul_scalar(0.5).clamp(0.0, 1.0)
}

/// `[0, 1] → [-1, 1]`.
pub fn from_unit(x: Tensor<4>) -> Tensor<4> {
    x.mul_scalar(2.0).sub_scalar(1.0)
}

/// A batch of real images as the levels train on them, in `[-1, 1]` units.
#[derive(Debug, Clone)]
pub struct RealPyramid {
    /// `h_k`, finest first.
    pub bands: Vec<Tensor<4>>,
    /// `l_k = u(I_{k+1})`, finest first.
    pub lows: Vec<Tensor<4>>,
    /// `I_K`.
    pub coarse: Tensor<4>,
}

impl RealPyramid {
    /// The pyramid of `images` (`[batch, C, side, side]` in `[0, 1]`).
    pub fn of(images: Tensor<4>, levels: usize) -> Result<Self> {
        let laplacian = Laplacian::decompose(from_unit(images), levels)?;
        let gaussian = laplacian.images();
        let lows = laplacian
            .bands
            .iter()
            .zip(&gaussian)
            .map(|(h, i)| i.clone() - h.clone()) // l_k = I_k − h_k = u(I_{k+1})
            .collect();
        Ok(Self {
            bands: laplacian.bands,
            lows,
            coarse: laplacian.low,
        })
    }
}
