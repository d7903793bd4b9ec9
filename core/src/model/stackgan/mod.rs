//! StackGAN-v1 and StackGAN-v2 (Zhang et al. 2017, 2018): text-to-image GANs that draw in
//! stages or scales, with Conditioning Augmentation, matching-aware discriminators, and (v2)
//! joint conditional/unconditional losses with colour consistency between scales.
//!
//! Conventions, as the authors' code: generators draw in `[-1, 1]` (tanh) and discriminators
//! read `[-1, 1]`; [`to_unit`] converts for the rest of Easel. The discriminators read the
//! condition μ of the generator's Conditioning Augmentation, detached (both reference codes
//! do), or with [`DiscriminatorText::Embedding`] their own compression of the embeddings.
//! A mismatched pair is a real image with the next image's condition in the batch (StackGAN-v1's
//! code), and with [`Mismatch::NearestOtherClass`] also with its nearest condition of another
//! class in the batch ([`nearest_other_class`]), or with [`Mismatch::Counterpart`] with the
//! caption of one of its counterparts, a random other class's closest image ([`counterparts`],
//! found once over the training set); real images at
//! coarser scales are the finest ones blurred and decimated
//! ([`crate::model::lapgan::pyramid::downsample`]).
//!
//! `config.rs` holds the configuration; `generator.rs` either generator over `v1.rs` (Stage-I
//! and Stage-II) and `v2.rs` (the tree), with `conditioning.rs` (Conditioning Augmentation and
//! its KL term); `discriminator.rs` every scale's discriminator; `layers.rs` the blocks both
//! share; `mismatch.rs` the mismatched pairs; `losses.rs` the loss terms; `training.rs` a
//! training step's D and G losses; `gan.rs` StackGAN as a [`super::gan::Gan`]; `flops.rs` its
//! counts.

use burn::prelude::*;

pub mod conditioning;
pub mod config;
pub mod discriminator;
pub mod flops;
mod gan;
pub mod generator;
pub mod layers;
pub mod losses;
pub mod mismatch;
#[cfg(test)]
mod tests;
pub mod training;
pub mod v1;
pub mod v2;

pub use config::{DiscriminatorText, EncoderChoice, Mismatch, StackGanConfig, Version};
pub use discriminator::{ScaleDiscriminator, StackGanDiscriminator};
pub use generator::{StackGanGenerator, StackNoise};
pub use mismatch::{COUNTERPART_POOL, counterparts, nearest_other_class, pick_counterpart};
pub use training::{discriminator_loss, generator_loss, mode_seeking, real_scales, trained_scales};
pub use v2::StageDrawing;

/// `[-1, 1]` images to `[0, 1]`.
pub fn to_unit(images: Tensor<4>) -> Tensor<4> {
    (images + 1.0) * 0.5
}
