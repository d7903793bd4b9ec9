//! StackGAN's generator, v1's stages or v2's tree, and the noise it reads.

use burn::prelude::*;

use super::config::{StackGanConfig, Version};
use super::v1::V1Generator;
use super::v2::{StageDrawing, V2Generator};

/// Either generator.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum StackGanGenerator {
    /// Stage-I and Stage-II.
    V1(V1Generator),
    /// The tree.
    V2(V2Generator),
}

impl StackGanConfig {
    /// The generator.
    pub fn init_generator(&self, device: &Device) -> StackGanGenerator {
        match self.version {
            Version::V1 => StackGanGenerator::V1(V1Generator::new(self, device)),
            Version::V2 => StackGanGenerator::V2(V2Generator::new(self, device)),
        }
    }
}

/// The noise of a batch: z and, for a text model, ε for each Conditioning Augmentation.
#[derive(Debug, Clone)]
pub struct StackNoise {
    /// `[b, z_dim]`.
    pub z: Tensor<2>,
    /// `[b, condition_dim]` per CA network (v1: two; v2: one; none without text).
    pub eps: Vec<Tensor<2>>,
    /// Standard normals for instance noise, `[2b, channels, side, side]` per scale (the first
    /// `b` for real images, the rest for fakes); empty when the model adds none.
    pub instance: Vec<Tensor<4>>,
}

impl StackNoise {
    /// The standard normals of a training batch of `batch` images' instance noise, from
    /// `normals`: none when `config` adds no noise. Only training draws them (the trainer,
    /// after z and ε), so sampling reads the same stream whatever the setting.
    pub fn instance_normals(
        config: &StackGanConfig,
        batch: usize,
        normals: &mut dyn FnMut(usize) -> Vec<f32>,
        device: &Device,
    ) -> Vec<Tensor<4>> {
        if config.instance_noise <= 0.0 {
            return Vec::new();
        }
        config
            .sides()
            .into_iter()
            .map(|s| {
                let shape = [2 * batch, config.channels, s, s];
                let values = normals(shape.iter().product());
                Tensor::from_data(TensorData::new(values, shape), device)
            })
            .collect()
    }

    /// `images` (`[n, c, s, s]`, n ≤ b) of `scale` with instance noise of standard deviation
    /// `sigma` added: the real half of this batch's normals, or the fake half. Unchanged when
    /// `sigma` is 0 or the batch drew none.
    pub fn noisy(&self, images: Tensor<4>, scale: usize, fake: bool, sigma: f32) -> Tensor<4> {
        let Some(normals) = self.instance.get(scale).filter(|_| sigma > 0.0) else {
            return images;
        };
        let n = images.dims()[0];
        let b = normals.dims()[0] / 2;
        let start = if fake { b } else { 0 };
        images + normals.clone().narrow(0, start, n) * f64::from(sigma)
    }
}

impl StackGanGenerator {
    /// The condition μ (detached) that the Conditioning Augmentation of `scale` (v1: its
    /// stage; v2: the tree's one) makes of sentence embeddings `text`; `None` without text.
    pub fn mu(&self, text: Tensor<2>, scale: usize) -> Option<Tensor<2>> {
        let mu = match self {
            StackGanGenerator::V1(g) => Some(g.mu(text, scale)),
            StackGanGenerator::V2(g) => g.mu(text),
        };
        mu.map(|m| m.detach())
    }

    /// Draws `stages` stages (v1: 1 or 2; v2 always draws every scale) from sentence
    /// embeddings `text` (`[b, text_dim]`, `None` for an unconditional v2).
    pub fn draw(&self, noise: &StackNoise, text: Option<Tensor<2>>, stages: usize) -> StageDrawing {
        match self {
            StackGanGenerator::V1(g) => {
                let text = text.expect("StackGAN-v1 draws from text");
                let eps = [noise.eps[0].clone(), noise.eps[1].clone()];
                g.forward(noise.z.clone(), text, eps, stages)
            }
            StackGanGenerator::V2(g) => {
                let text = text.map(|t| (t, noise.eps[0].clone()));
                g.forward(noise.z.clone(), text)
            }
        }
    }
}
