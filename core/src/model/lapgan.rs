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

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use super::conv;
use super::pyramid::{Laplacian, level_sides, upsample};
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

    /// Parameters of (G, D), every level together.
    pub fn parameter_counts(&self) -> (usize, usize) {
        let device = Device::flex();
        (
            self.init_generator(&device).num_params(),
            self.init_discriminator(&device).num_params(),
        )
    }

    /// FLOPs of one training step (one D update then one G update) per image, counting a
    /// backward pass as twice its forward, as GRAN's [`super::gran::GranConfig::train_step_flops`].
    pub fn train_step_flops(&self) -> super::Flops {
        use super::{conv_flops, linear_flops};
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
        (g + 6 * d) + (3 * g + 3 * d)
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

/// Dropout whose masks the caller draws, so training stays reproducible from a checkpoint
/// (burn's `Dropout` draws from the backend's generator, which a checkpoint does not hold).
pub struct DropoutDraw<'a> {
    /// Returns `count` uniforms in [0, 1).
    pub uniforms: &'a mut dyn FnMut(usize) -> Vec<f32>,
}

impl DropoutDraw<'_> {
    fn apply<const D: usize>(&mut self, x: Tensor<D>, prob: f64) -> Tensor<D> {
        if prob == 0.0 {
            return x;
        }
        let shape = x.shape();
        let keep: Vec<f32> = (self.uniforms)(shape.num_elements())
            .into_iter()
            .map(|u| if f64::from(u) >= prob { 1.0 } else { 0.0 })
            .collect();
        let mask = Tensor::<D>::from_data(TensorData::new(keep, shape), &x.device());
        x * mask.mul_scalar(1.0 / (1.0 - prob))
    }
}

/// The coarsest level's generator: `[z, one-hot] → FC → ReLU → FC → ReLU → FC → I_K`. (The
/// reference's second hidden layer is a sigmoid; with Adam it left this MLP collapsed to one
/// image after 929 steps on Fashion-MNIST's 7 × 7 low-pass images, where ReLU drew varied
/// shirts, trousers and bags — measured with `levels = 1`.)
#[derive(Module, Debug)]
pub struct CoarseGenerator {
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
    channels: usize,
    side: usize,
}

impl CoarseGenerator {
    /// # Shapes
    /// - `z`: `[batch, z_dim]`, `labels`: `[batch, classes]` one-hot when conditional
    /// - output: `[batch, channels, side_K, side_K]`
    pub fn forward(&self, z: Tensor<2>, labels: Option<Tensor<2>>) -> Tensor<4> {
        let batch = z.dims()[0];
        let input = with_labels(z, labels); // [batch, z_dim + classes]
        let x = relu(self.fc2.forward(relu(self.fc1.forward(input))));
        self.fc3
            .forward(x)
            .reshape([batch, self.channels, self.side, self.side])
    }
}

/// A finer level's generator: `[noise plane, l_k, label plane] → conv → ReLU → conv → ReLU →
/// conv → h̃_k`, every convolution keeping the side.
#[derive(Module, Debug)]
pub struct BandGenerator {
    convs: Vec<Conv2d>,
    label: Option<Linear>,
    side: usize,
}

impl BandGenerator {
    /// The band-pass residual h̃_k.
    ///
    /// # Shapes
    /// - `noise`: `[batch, 1, side, side]`, `low`: `[batch, channels, side, side]`
    /// - output: `[batch, channels, side, side]`
    pub fn forward(
        &self,
        noise: Tensor<4>,
        low: Tensor<4>,
        labels: Option<Tensor<2>>,
    ) -> Tensor<4> {
        let mut x = Tensor::cat(
            [
                vec![noise, low],
                label_plane(&self.label, labels, self.side),
            ]
            .concat(),
            1,
        ); // [batch, 1 + channels (+1), side, side]
        let last = self.convs.len() - 1;
        for (i, layer) in self.convs.iter().enumerate() {
            x = conv::conv2d(layer, x);
            if i < last {
                x = relu(x);
            }
        }
        x
    }
}

/// The coarsest level's discriminator: `[I_K, one-hot] → FC → ReLU → dropout → FC → ReLU →
/// dropout → logit`.
#[derive(Module, Debug)]
pub struct CoarseDiscriminator {
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
}

/// A finer level's discriminator on `h + l_k`: valid 5 × 5 conv → ReLU → strided valid 5 × 5
/// conv → ReLU → dropout → logit.
#[derive(Module, Debug)]
pub struct BandDiscriminator {
    conv1: Conv2d,
    conv2: Conv2d,
    fc: Linear,
    label: Option<Linear>,
    side: usize,
}

impl BandDiscriminator {
    /// The activations before the logit (dropout applied when `draw` is given).
    ///
    /// # Shapes
    /// - `image`: `[batch, channels, side, side]` (`h + l_k`)
    /// - output: `[batch, width · s²]`
    fn features(
        &self,
        image: Tensor<4>,
        labels: Option<Tensor<2>>,
        draw: Option<(&mut DropoutDraw, f64)>,
    ) -> Tensor<2> {
        let x = Tensor::cat(
            [vec![image], label_plane(&self.label, labels, self.side)].concat(),
            1,
        );
        let x = relu(conv::conv2d(&self.conv1, x)); // [batch, width, side − 4, side − 4]
        let x = relu(conv::conv2d(&self.conv2, x)).flatten(1, 3); // [batch, width · s²]
        match draw {
            Some((draw, prob)) => draw.apply(x, prob),
            None => x,
        }
    }
}

/// `[x, labels]` along the features, or `x` when unconditional.
fn with_labels(x: Tensor<2>, labels: Option<Tensor<2>>) -> Tensor<2> {
    match labels {
        Some(l) => Tensor::cat(vec![x, l], 1),
        None => x,
    }
}

/// The label's learned plane `[batch, 1, side, side]`, when the level is conditional.
fn label_plane(fc: &Option<Linear>, labels: Option<Tensor<2>>, side: usize) -> Vec<Tensor<4>> {
    match (fc, labels) {
        (Some(fc), Some(l)) => {
            let batch = l.dims()[0];
            vec![fc.forward(l).reshape([batch, 1, side, side])]
        }
        _ => Vec::new(),
    }
}

/// The noise of one LAPGAN drawing: z_K for the coarsest level and one plane per finer level.
#[derive(Debug, Clone)]
pub struct LapganNoise {
    /// `[batch, z_dim]`.
    pub coarse: Tensor<2>,
    /// `[batch, 1, side_k, side_k]` for k = 0 … K − 1, finest first.
    pub planes: Vec<Tensor<4>>,
}

/// Every level of a drawing, finest first, in `[-1, 1]` image units.
#[derive(Debug, Clone)]
pub struct PyramidDrawing {
    /// `l_k = u(Ĩ_{k+1})` for the finer levels (K − 1 of them).
    pub lows: Vec<Tensor<4>>,
    /// `h̃_k = G_k(z_k, l_k)` for the finer levels.
    pub residuals: Vec<Tensor<4>>,
    /// `Ĩ_0 … Ĩ_K`: each level's image, the coarsest last.
    pub images: Vec<Tensor<4>>,
}

impl PyramidDrawing {
    /// The finished image, `Ĩ_0` mapped to `[0, 1]` and clamped.
    pub fn image(&self) -> Tensor<4> {
        to_unit(self.images[0].clone())
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

/// Every level's generator.
#[derive(Module, Debug)]
pub struct LapganGenerator {
    coarse: CoarseGenerator,
    bands: Vec<BandGenerator>,
    sides: Vec<usize>,
    z_dim: usize,
    classes: usize,
}

impl LapganGenerator {
    /// Sides of the levels, finest first.
    pub fn sides(&self) -> &[usize] {
        &self.sides
    }

    /// The numbers of noise values a drawing of `batch` images reads: z_K's, then each finer
    /// level's plane, finest first.
    pub fn noise_sizes(&self, batch: usize) -> (usize, Vec<usize>) {
        let planes = self.sides[..self.sides.len() - 1]
            .iter()
            .map(|s| batch * s * s)
            .collect();
        (batch * self.z_dim, planes)
    }

    /// Builds the noise of `batch` drawings from flat values laid out as [`Self::noise_sizes`].
    pub fn noise(
        &self,
        batch: usize,
        coarse: Vec<f32>,
        planes: Vec<Vec<f32>>,
        device: &Device,
    ) -> LapganNoise {
        LapganNoise {
            coarse: Tensor::from_data(TensorData::new(coarse, [batch, self.z_dim]), device),
            planes: planes
                .into_iter()
                .zip(&self.sides)
                .map(|(p, &s)| Tensor::from_data(TensorData::new(p, [batch, 1, s, s]), device))
                .collect(),
        }
    }

    /// Samples coarse to fine: `Ĩ_K = G_K(z_K)`, `Ĩ_k = u(Ĩ_{k+1}) + G_k(z_k, u(Ĩ_{k+1}))`.
    pub fn generate(&self, noise: &LapganNoise, labels: Option<Tensor<2>>) -> PyramidDrawing {
        let mut image = self.coarse.forward(noise.coarse.clone(), labels.clone());
        let mut drawing = PyramidDrawing {
            lows: Vec::new(),
            residuals: Vec::new(),
            images: vec![image.clone()],
        };
        for k in (0..self.bands.len()).rev() {
            let low = upsample(image, self.sides[k]); // [batch, C, side_k, side_k]
            let residual =
                self.bands[k].forward(noise.planes[k].clone(), low.clone(), labels.clone());
            image = low.clone() + residual.clone();
            drawing.lows.push(low);
            drawing.residuals.push(residual);
            drawing.images.push(image.clone());
        }
        drawing.lows.reverse();
        drawing.residuals.reverse();
        drawing.images.reverse();
        drawing
    }

    /// The finished images in `[0, 1]`.
    pub fn forward(&self, noise: &LapganNoise, labels: Option<Tensor<2>>) -> Tensor<4> {
        self.generate(noise, labels).image()
    }

    /// What training's G step feeds the discriminators: each level's fake given the *real*
    /// pyramid's low-pass images (Denton et al. train the levels independently): the coarsest
    /// level's `G_K(z_K)` and every finer level's `h̃_k = G_k(z_k, l_k)`.
    pub fn training_fakes(
        &self,
        noise: &LapganNoise,
        real: &RealPyramid,
        labels: Option<Tensor<2>>,
    ) -> (Tensor<4>, Vec<Tensor<4>>) {
        let coarse = self.coarse.forward(noise.coarse.clone(), labels.clone());
        let bands = self
            .bands
            .iter()
            .enumerate()
            .map(|(k, g)| {
                g.forward(
                    noise.planes[k].clone(),
                    real.lows[k].clone(),
                    labels.clone(),
                )
            })
            .collect();
        (coarse, bands)
    }

    /// The one-hot label width (0 when unconditional).
    pub fn classes(&self) -> usize {
        self.classes
    }
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

/// Every level's discriminator.
#[derive(Module, Debug)]
pub struct LapganDiscriminator {
    coarse: CoarseDiscriminator,
    bands: Vec<BandDiscriminator>,
    dropout: f64,
    classes: usize,
}

impl LapganDiscriminator {
    /// Each level's logits, finest first and the coarsest last, on band-pass images `bands`
    /// given the low-pass `lows` and on the coarsest image `coarse`. Dropout when `draw` is
    /// given (training).
    pub fn level_logits(
        &self,
        coarse: Tensor<4>,
        bands: &[Tensor<4>],
        lows: &[Tensor<4>],
        labels: Option<Tensor<2>>,
        mut draw: Option<&mut DropoutDraw>,
    ) -> Vec<Tensor<2>> {
        let mut logits: Vec<Tensor<2>> = self
            .bands
            .iter()
            .enumerate()
            .map(|(k, d)| {
                let f = d.features(
                    bands[k].clone() + lows[k].clone(),
                    labels.clone(),
                    draw.as_deref_mut().map(|dr| (dr, self.dropout)),
                );
                d.fc.forward(f)
            })
            .collect();
        logits.push(self.coarse_logit(coarse, labels, draw));
        logits
    }

    fn coarse_logit(
        &self,
        image: Tensor<4>,
        labels: Option<Tensor<2>>,
        mut draw: Option<&mut DropoutDraw>,
    ) -> Tensor<2> {
        let c = &self.coarse;
        let mut x = relu(c.fc1.forward(with_labels(image.flatten(1, 3), labels)));
        if let Some(d) = draw.as_deref_mut() {
            x = d.apply(x, self.dropout);
        }
        let mut x = relu(c.fc2.forward(x));
        if let Some(d) = draw {
            x = d.apply(x, self.dropout);
        }
        c.fc3.forward(x)
    }

    /// The model's discriminator on whole images (`[batch, C, side, side]` in `[0, 1]`): the
    /// finest level's `D_0` (`h_0 + l_0 = I_0`), or the coarsest's when there is one level.
    /// Output `[batch, 1]`.
    pub fn forward(&self, images: Tensor<4>, labels: Option<Tensor<2>>) -> Tensor<2> {
        let x = from_unit(images);
        match self.bands.first() {
            Some(d) => d.fc.forward(d.features(x, labels, None)),
            None => self.coarse_logit(x, labels, None),
        }
    }

    /// The activations `D_0`'s logit reads (the memorisation check's feature space).
    pub fn features(&self, images: Tensor<4>, labels: Option<Tensor<2>>) -> Tensor<2> {
        let x = from_unit(images);
        match self.bands.first() {
            Some(d) => d.features(x, labels, None),
            None => relu(
                self.coarse.fc2.forward(relu(
                    self.coarse
                        .fc1
                        .forward(with_labels(x.flatten(1, 3), labels)),
                )),
            ),
        }
    }

    /// The one-hot label width (0 when unconditional).
    pub fn classes(&self) -> usize {
        self.classes
    }
}

#[cfg(test)]
#[path = "lapgan_tests.rs"]
mod tests;
