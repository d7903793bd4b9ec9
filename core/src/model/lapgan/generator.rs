//! LAPGAN's generators: the coarsest level's MLP and every finer level's band generator.

use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::pyramid::upsample;
use super::{RealPyramid, label_plane, to_unit, with_labels};
use crate::model::cpu::Activation;
use crate::model::maps::Maps;

/// The coarsest level's generator: `[z, one-hot] → FC → ReLU → FC → ReLU → FC → I_K`. (The
/// reference's second hidden layer is a sigmoid; with Adam it left this MLP collapsed to one
/// image after 929 steps on Fashion-MNIST's 7 × 7 low-pass images, where ReLU drew varied
/// shirts, trousers and bags — measured with `levels = 1`.)
#[derive(Module, Debug)]
pub struct CoarseGenerator {
    pub(super) fc1: Linear,
    pub(super) fc2: Linear,
    pub(super) fc3: Linear,
    pub(super) channels: usize,
    pub(super) side: usize,
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
    pub(super) convs: Vec<Conv2d>,
    pub(super) label: Option<Linear>,
    pub(super) side: usize,
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

/// Every level's generator.
#[derive(Module, Debug)]
pub struct LapganGenerator {
    pub(super) coarse: CoarseGenerator,
    pub(super) bands: Vec<BandGenerator>,
    pub(super) sides: Vec<usize>,
    pub(super) z_dim: usize,
    pub(super) classes: usize,
    pub(super) uniform_noise: bool,
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
    pub(super) fn shaped(&self, noise: &LapganNoise) -> LapganNoise {
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
