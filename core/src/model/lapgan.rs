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

use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::cpu::Activation;
use super::maps::Maps;
use super::pyramid::{Laplacian, upsample};
use crate::error::Result;

mod config;
pub use config::LapganConfig;

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
        let x = Tensor::cat(
            [
                vec![noise, low],
                label_plane(&self.label, labels, self.side),
            ]
            .concat(),
            1,
        ); // [batch, 1 + channels (+1), side, side]
        let last = self.convs.len() - 1;
        let mut x = Maps::new(x); // channels-last on the CPU
        for (i, layer) in self.convs.iter().enumerate() {
            x = x.conv(layer);
            if i < last {
                x = x.act(Activation::Relu);
            }
        }
        x.into_nchw()
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
        let x = Maps::new(x) // channels-last on the CPU
            .conv(&self.conv1) // [batch, width, side − 4, side − 4]
            .act(Activation::Relu)
            .conv(&self.conv2)
            .act(Activation::Relu)
            .into_flat_nchw(); // [batch, width · s²]
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

impl LapganNoise {
    /// The noise of `batch` drawings from flat values: z_K's (`batch × z_dim`), then one plane per
    /// finer level (`batch × side²`, finest first; `sides` are every level's, finest first).
    pub fn from_values(
        batch: usize,
        z_dim: usize,
        sides: &[usize],
        coarse: Vec<f32>,
        planes: Vec<Vec<f32>>,
        device: &Device,
    ) -> Self {
        Self {
            coarse: Tensor::from_data(TensorData::new(coarse, [batch, z_dim]), device),
            planes: planes
                .into_iter()
                .zip(sides)
                .map(|(p, &s)| Tensor::from_data(TensorData::new(p, [batch, 1, s, s]), device))
                .collect(),
        }
    }
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
    uniform_noise: bool,
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
        LapganNoise::from_values(batch, self.z_dim, &self.sides, coarse, planes, device)
    }

    /// The noise the levels read: the drawn N(0, 1) values as they are, or mapped to U(−1, 1)
    /// by `erf(x / √2)` (the normal CDF, rescaled) when the model draws uniform noise, so both
    /// read the same stream of normals.
    fn shaped(&self, noise: &LapganNoise) -> LapganNoise {
        if !self.uniform_noise {
            return noise.clone();
        }
        let uniform = |x: Tensor<4>| x.mul_scalar(std::f32::consts::FRAC_1_SQRT_2).erf();
        LapganNoise {
            coarse: noise
                .coarse
                .clone()
                .mul_scalar(std::f32::consts::FRAC_1_SQRT_2)
                .erf(),
            planes: noise.planes.iter().cloned().map(uniform).collect(),
        }
    }

    /// Samples coarse to fine: `Ĩ_K = G_K(z_K)`, `Ĩ_k = u(Ĩ_{k+1}) + G_k(z_k, u(Ĩ_{k+1}))`.
    pub fn generate(&self, noise: &LapganNoise, labels: Option<Tensor<2>>) -> PyramidDrawing {
        let noise = &self.shaped(noise);
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
        let noise = &self.shaped(noise);
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
