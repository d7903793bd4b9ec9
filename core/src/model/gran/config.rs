//! GRAN's configuration: the paper's MNIST model by default, its checks, and what it costs
//! (parameters, FLOPs, training memory).

use burn::nn::{BatchNormConfig, LinearConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::{GranDiscriminator, GranGenerator};
use crate::error::{Error, Result};
use crate::model::Flops;
use crate::model::blocks::{ConvDecoder, ConvEncoder, dcgan_init};
use crate::model::gan::Gan;

/// Whether the generator sees one z for the whole drawing or a fresh z at every step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseMode {
    /// One z drawn per image, fed at every step (the paper's default).
    #[default]
    Once,
    /// A fresh z at every step.
    PerStep,
}

impl NoiseMode {
    /// The name used in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            NoiseMode::Once => "once",
            NoiseMode::PerStep => "per-step",
        }
    }

    /// Parses [`Self::name`].
    pub fn parse(text: &str) -> crate::Result<Self> {
        match text {
            "once" => Ok(NoiseMode::Once),
            "per-step" => Ok(NoiseMode::PerStep),
            other => Err(crate::Error::config(
                "noise",
                format!("expected once or per-step, found {other:?}"),
            )),
        }
    }
}

/// GRAN's configuration; defaults are the paper's MNIST model (Table 5: decoder [80, 40, 1],
/// 5 × 5 kernels, z of 60 dimensions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GranConfig {
    /// Side of the square images, in pixels.
    pub image_size: usize,
    /// Channels: 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// T, the number of drawing steps trained (T = 1 is DCGAN).
    pub steps: usize,
    /// Dimensions of z.
    pub z_dim: usize,
    /// z once per image or per step.
    pub noise: NoiseMode,
    /// Dimensions of h_z = tanh(W z + b).
    pub hz_dim: usize,
    /// Dimensions of h_c = g(ΔC).
    pub hc_dim: usize,
    /// Channels of the decoder f, from its first feature map to the image (last = `channels`);
    /// each layer after the first doubles the side.
    pub decoder_widths: Vec<usize>,
    /// Channels of the discriminator's convolutions after the image; each halves the side.
    pub discriminator_widths: Vec<usize>,
    /// Side of every convolution kernel.
    pub kernel_size: usize,
    /// BatchNorm in f, g and D (never on D's first layer).
    pub batch_norm: bool,
    /// BatchNorm before the tanh of h_z and of h_c, as in the authors' code (`recGenI28.py`:
    /// both are `Batch_Norm_layer(…).propagate(…, atype='tanh')`). Without it h_z = tanh(W z + b)
    /// starts near ±0.15 while h_c is g's full-scale output, and the generator learns to ignore
    /// z (measured: GRAN3 on Fashion-MNIST collapses to two or three images). Configs written
    /// before this field existed read as `false`, so their checkpoints still load.
    #[serde(default)]
    pub latent_norm: bool,
}

impl Default for GranConfig {
    fn default() -> Self {
        Self {
            image_size: 28,
            channels: 1,
            steps: 3,
            z_dim: 60,
            noise: NoiseMode::Once,
            hz_dim: 100,
            hc_dim: 100,
            decoder_widths: vec![80, 40, 1],
            discriminator_widths: vec![40, 80],
            kernel_size: 5,
            batch_norm: true,
            latent_norm: true,
        }
    }
}

impl GranConfig {
    /// Number of ×2 up-sampling layers in f.
    pub fn upsamplings(&self) -> usize {
        self.decoder_widths.len().saturating_sub(1)
    }

    /// Side of f's first feature map.
    pub fn base_side(&self) -> usize {
        self.image_size >> self.upsamplings()
    }

    /// Checks every field, naming the first that is wrong and why.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |field: &str, reason: String| Err(Error::config(format!("model.{field}"), reason));
        if ![1, 3].contains(&self.channels) {
            return bad(
                "channels",
                format!("expected 1 or 3, found {}", self.channels),
            );
        }
        if !(1..=64).contains(&self.steps) {
            return bad(
                "steps",
                format!("expected 1–64 drawing steps, found {}", self.steps),
            );
        }
        for (name, v) in [
            ("z_dim", self.z_dim),
            ("hz_dim", self.hz_dim),
            ("hc_dim", self.hc_dim),
        ] {
            if !(1..=4096).contains(&v) {
                return bad(name, format!("expected 1–4096, found {v}"));
            }
        }
        if !(2..=9).contains(&self.kernel_size) {
            return bad(
                "kernel_size",
                format!("expected 2–9, found {}", self.kernel_size),
            );
        }
        if self.decoder_widths.len() < 2 {
            return bad(
                "decoder_widths",
                format!(
                    "expected at least two widths (a feature map and the image), found {:?}",
                    self.decoder_widths
                ),
            );
        }
        if self.decoder_widths.iter().any(|&w| w == 0 || w > 4096) {
            return bad(
                "decoder_widths",
                format!(
                    "every width must be 1–4096, found {:?}",
                    self.decoder_widths
                ),
            );
        }
        if self.decoder_widths.last() != Some(&self.channels) {
            return bad(
                "decoder_widths",
                format!(
                    "the last width is the image's channels ({}), found {:?}",
                    self.channels, self.decoder_widths
                ),
            );
        }
        if !(4..=1024).contains(&self.image_size) {
            return bad(
                "image_size",
                format!("expected 4–1024 pixels, found {}", self.image_size),
            );
        }
        let factor = 1usize << self.upsamplings();
        if !self.image_size.is_multiple_of(factor) || self.base_side() < 2 {
            return bad(
                "image_size",
                format!(
                    "{} up-samplings need a side divisible by {factor} with at least 2 pixels left, found {}",
                    self.upsamplings(),
                    self.image_size
                ),
            );
        }
        if self.discriminator_widths.is_empty()
            || self
                .discriminator_widths
                .iter()
                .any(|&w| w == 0 || w > 4096)
        {
            return bad(
                "discriminator_widths",
                format!(
                    "expected one or more widths of 1–4096, found {:?}",
                    self.discriminator_widths
                ),
            );
        }
        let d_factor = 1usize << self.discriminator_widths.len();
        if !self.image_size.is_multiple_of(d_factor) {
            return bad(
                "discriminator_widths",
                format!(
                    "{} strided layers need a side divisible by {d_factor}, found {}",
                    self.discriminator_widths.len(),
                    self.image_size
                ),
            );
        }
        Ok(())
    }

    /// g's channels: the image, then f's hidden widths in reverse.
    fn encoder_widths(&self) -> Vec<usize> {
        let mut w: Vec<usize> = self.decoder_widths.iter().rev().copied().collect();
        w[0] = self.channels;
        w
    }

    fn discriminator_channels(&self) -> Vec<usize> {
        std::iter::once(self.channels)
            .chain(self.discriminator_widths.iter().copied())
            .collect()
    }

    /// Builds the generator (validate first).
    pub fn init_generator(&self, device: &Device) -> GranGenerator {
        GranGenerator {
            z_projection: LinearConfig::new(self.z_dim, self.hz_dim)
                .with_initializer(dcgan_init())
                .init(device),
            decoder: ConvDecoder::new(
                self.hz_dim + self.hc_dim,
                &self.decoder_widths,
                self.base_side(),
                self.kernel_size,
                self.batch_norm,
                device,
            ),
            encoder: ConvEncoder::new(
                &self.encoder_widths(),
                self.image_size,
                self.kernel_size,
                self.hc_dim,
                self.batch_norm,
                false,
                device,
            ),
            hz_norm: self
                .latent_norm
                .then(|| BatchNormConfig::new(self.hz_dim).init(device)),
            hc_norm: self
                .latent_norm
                .then(|| BatchNormConfig::new(self.hc_dim).init(device)),
            hc_dim: self.hc_dim,
        }
    }

    /// Builds the discriminator (validate first).
    pub fn init_discriminator(&self, device: &Device) -> GranDiscriminator {
        GranDiscriminator {
            encoder: ConvEncoder::new(
                &self.discriminator_channels(),
                self.image_size,
                self.kernel_size,
                1,
                self.batch_norm,
                true,
                device,
            ),
        }
    }

    /// FLOPs of drawing one image in `T` steps.
    pub fn generator_flops(&self) -> Flops {
        let decoder = ConvDecoder::flops(
            self.hz_dim + self.hc_dim,
            &self.decoder_widths,
            self.base_side(),
            self.kernel_size,
        );
        let encoder = ConvEncoder::flops(
            &self.encoder_widths(),
            self.image_size,
            self.kernel_size,
            self.hc_dim,
        );
        let steps = self.steps as Flops;
        crate::model::linear_flops(self.z_dim, self.hz_dim)
            + steps * decoder
            + (steps - 1) * encoder
    }

    /// FLOPs of the discriminator on one image.
    pub fn discriminator_flops(&self) -> Flops {
        ConvEncoder::flops(
            &self.discriminator_channels(),
            self.image_size,
            self.kernel_size,
            1,
        )
    }

    /// Floats of activation kept for the backward pass per image: every feature map of f (T times),
    /// g (T − 1 times) and D (three passes per step), counted once each.
    fn activation_floats_per_image(&self) -> usize {
        let mut decoder = 0;
        let mut side = self.base_side();
        for &w in &self.decoder_widths {
            decoder += w * side * side;
            side *= 2;
        }
        let mut discriminator = 0;
        let mut side = self.image_size;
        for &w in &self.discriminator_channels() {
            discriminator += w * side * side;
            side /= 2;
        }
        let steps = self.steps;
        // g mirrors f's maps; BatchNorm and activations roughly double what a layer keeps.
        2 * (steps * decoder + (steps - 1) * decoder + 3 * discriminator)
    }

    /// Estimated memory of training at `batch_size`: weights, gradients and Adam's two moments
    /// (4 floats per parameter) plus the activations kept for backward, in bytes.
    pub fn training_memory_bytes(&self, batch_size: usize) -> u64 {
        let (g, d) = Gan::parameter_counts(self);
        let floats = 4 * (g + d) + batch_size * self.activation_floats_per_image();
        4 * floats as u64
    }
}
