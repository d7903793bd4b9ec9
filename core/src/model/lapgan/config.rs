//! LAPGAN's configuration: fields with the reference code's defaults, validation, the builders of
//! every level's networks, parameter and FLOP counts.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::pyramid::level_sides;
use super::{
    BandDiscriminator, BandGenerator, CoarseDiscriminator, CoarseGenerator, LapganDiscriminator,
    LapganGenerator,
};
use crate::error::{Error, Result};

/// LAPGAN's configuration; the defaults are the Fashion-MNIST CPU preset (28 → 14 → 7). The
/// reference's CIFAR-10 model is `levels = 3` at 32 (8 → 16 → 32) with 64-channel levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LapganConfig {
    /// Side of the square images (the finest level).
    pub image_size: usize,
    /// Channels: 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Levels of the pyramid, the finest included: 3 is 28 → 14 → 7.
    pub levels: usize,
    /// Dimensions of the coarsest level's noise z_K (reference: 100).
    pub z_dim: usize,
    /// Hidden units of the coarsest level's generator and discriminator MLPs.
    pub coarse_hidden: usize,
    /// Channels of each finer level's generator, finest first (`levels − 1` of them; the
    /// reference: 64).
    pub generator_widths: Vec<usize>,
    /// Channels of each finer level's discriminator, finest first (reference: 64).
    pub discriminator_widths: Vec<usize>,
    /// Side of the generators' first two kernels (reference: 7; the last is 5).
    pub generator_kernel: usize,
    /// Classes of the class-conditional model (0: unconditional). A label reaches every G_k
    /// and D_k, as an extra plane on the finer levels and a one-hot input on the coarsest.
    pub classes: usize,
    /// Dropout on the discriminators' hidden layers (reference: 0.5).
    pub dropout: f64,
    /// Every level's noise (z_K and the planes) uniform in (−1, 1), as the reference code draws
    /// it; off: N(0, 1), what runs made before this field read (their noise is unchanged).
    #[serde(default)]
    pub uniform_noise: bool,
}

impl Default for LapganConfig {
    fn default() -> Self {
        Self {
            image_size: 28,
            channels: 1,
            levels: 3,
            z_dim: 100,
            coarse_hidden: 600,
            generator_widths: vec![32, 64],
            discriminator_widths: vec![32, 64],
            generator_kernel: 5,
            classes: 0,
            dropout: 0.5,
            uniform_noise: true,
        }
    }
}

/// Smallest side a finer level's discriminator can read (a valid 5 × 5 then a strided 5 × 5).
const MIN_BAND_SIDE: usize = 9;

impl LapganConfig {
    /// The side of every level, finest first.
    pub fn sides(&self) -> Result<Vec<usize>> {
        level_sides(self.image_size, self.levels)
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
        if !(4..=1024).contains(&self.image_size) {
            return bad(
                "image_size",
                format!("expected 4–1024 pixels, found {}", self.image_size),
            );
        }
        if !(1..=8).contains(&self.levels) {
            return bad(
                "levels",
                format!("expected 1–8 levels, found {}", self.levels),
            );
        }
        let sides = self.sides()?;
        if let Some(&side) = sides[..self.levels - 1].last()
            && side < MIN_BAND_SIDE
        {
            return bad(
                "levels",
                format!(
                    "every level but the coarsest needs at least {MIN_BAND_SIDE} pixels for its \
                     discriminator; {} levels give sides {sides:?}",
                    self.levels
                ),
            );
        }
        for (name, widths) in [
            ("generator_widths", &self.generator_widths),
            ("discriminator_widths", &self.discriminator_widths),
        ] {
            if widths.len() != self.levels - 1 || widths.iter().any(|&w| w == 0 || w > 4096) {
                return bad(
                    name,
                    format!(
                        "expected one width of 1–4096 per level above the coarsest ({}), found {widths:?}",
                        self.levels - 1
                    ),
                );
            }
        }
        for (name, v) in [("z_dim", self.z_dim), ("coarse_hidden", self.coarse_hidden)] {
            if !(1..=16384).contains(&v) {
                return bad(name, format!("expected 1–16384, found {v}"));
            }
        }
        if self.generator_kernel.is_multiple_of(2) || !(3..=9).contains(&self.generator_kernel) {
            return bad(
                "generator_kernel",
                format!(
                    "expected an odd side of 3–9, found {}",
                    self.generator_kernel
                ),
            );
        }
        if self.classes > 1000 {
            return bad(
                "classes",
                format!("expected 0–1000, found {}", self.classes),
            );
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(
                "dropout",
                format!("expected 0 ≤ p < 1, found {}", self.dropout),
            );
        }
        Ok(())
    }

    /// Builds the generators of every level (validate first).
    pub fn init_generator(&self, device: &Device) -> LapganGenerator {
        let sides = self.sides().expect("validated");
        let low_side = sides[self.levels - 1];
        LapganGenerator {
            coarse: CoarseGenerator {
                fc1: dense(self.z_dim + self.classes, self.coarse_hidden, 0.05, device),
                fc2: dense(self.coarse_hidden, self.coarse_hidden, 0.05, device),
                fc3: dense(
                    self.coarse_hidden,
                    self.channels * low_side * low_side,
                    0.05,
                    device,
                ),
                channels: self.channels,
                side: low_side,
            },
            bands: (0..self.levels - 1)
                .map(|k| {
                    let (width, side, kernel) =
                        (self.generator_widths[k], sides[k], self.generator_kernel);
                    let inputs = 1 + self.channels + usize::from(self.classes > 0);
                    BandGenerator {
                        convs: vec![
                            same_conv(inputs, width, kernel, device),
                            same_conv(width, width, kernel, device),
                            same_conv(width, self.channels, 5, device),
                        ],
                        label: self.label_plane(side, device),
                        side,
                    }
                })
                .collect(),
            sides,
            z_dim: self.z_dim,
            classes: self.classes,
            uniform_noise: self.uniform_noise,
        }
    }

    /// Builds the discriminators of every level (validate first).
    pub fn init_discriminator(&self, device: &Device) -> LapganDiscriminator {
        let sides = self.sides().expect("validated");
        let low_side = sides[self.levels - 1];
        let pixels = self.channels * low_side * low_side;
        LapganDiscriminator {
            coarse: CoarseDiscriminator {
                fc1: dense(pixels + self.classes, self.coarse_hidden, 0.02, device),
                fc2: dense(self.coarse_hidden, self.coarse_hidden, 0.02, device),
                fc3: dense(self.coarse_hidden, 1, 0.02, device),
            },
            bands: (0..self.levels - 1)
                .map(|k| {
                    let (width, side) = (self.discriminator_widths[k], sides[k]);
                    let inputs = self.channels + usize::from(self.classes > 0);
                    let out = band_feature_side(side);
                    BandDiscriminator {
                        conv1: Conv2dConfig::new([inputs, width], [5, 5]).init(device),
                        conv2: Conv2dConfig::new([width, width], [5, 5])
                            .with_stride([2, 2])
                            .init(device),
                        fc: LinearConfig::new(width * out * out, 1).init(device),
                        label: self.label_plane(side, device),
                        side,
                    }
                })
                .collect(),
            dropout: self.dropout,
            classes: self.classes,
        }
    }

    /// FLOPs of (G, D) on one image: every level's generator drawing, every level's
    /// discriminator judging.
    pub fn flops(&self) -> (crate::model::Flops, crate::model::Flops) {
        use crate::model::{conv_flops, linear_flops};
        let sides = self.sides().expect("validated");
        let low = sides[self.levels - 1];
        let pixels = self.channels * low * low;
        let h = self.coarse_hidden;
        let mut g = linear_flops(self.z_dim + self.classes, h)
            + linear_flops(h, h)
            + linear_flops(h, pixels);
        let mut d =
            linear_flops(pixels + self.classes, h) + linear_flops(h, h) + linear_flops(h, 1);
        let label = usize::from(self.classes > 0);
        for (k, &side) in sides[..self.levels - 1].iter().enumerate() {
            let (wg, wd, kg) = (
                self.generator_widths[k],
                self.discriminator_widths[k],
                self.generator_kernel,
            );
            g += conv_flops(1 + self.channels + label, wg, kg, side)
                + conv_flops(wg, wg, kg, side)
                + conv_flops(wg, self.channels, 5, side);
            let out = band_feature_side(side);
            d += conv_flops(self.channels + label, wd, 5, side - 4)
                + conv_flops(wd, wd, 5, out)
                + linear_flops(wd * out * out, 1);
        }
        (g, d)
    }

    fn label_plane(&self, side: usize, device: &Device) -> Option<Linear> {
        (self.classes > 0).then(|| LinearConfig::new(self.classes, side * side).init(device))
    }
}

/// The side of a finer level's discriminator features: valid 5 × 5, then strided valid 5 × 5.
fn band_feature_side(side: usize) -> usize {
    (side - 4 - 5) / 2 + 1
}

fn dense(inputs: usize, outputs: usize, std: f64, device: &Device) -> Linear {
    // The reference draws these weights from N(0, std²) with zero biases (`setWeights`): G 0.05, D
    // 0.005; Easel gives D DCGAN's 0.02, which trained the coarsest level faster with Adam.
    LinearConfig::new(inputs, outputs)
        .with_initializer(Initializer::Normal { mean: 0.0, std })
        .init(device)
}

fn same_conv(inputs: usize, outputs: usize, kernel: usize, device: &Device) -> Conv2d {
    let p = (kernel - 1) / 2;
    Conv2dConfig::new([inputs, outputs], [kernel, kernel])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .init(device)
}
