//! StackGAN-v2 (StackGAN++, Zhang et al. 2018): a tree of generators. F0 maps (z, ĉ) through an
//! FC layer and GLU up-sampling blocks to the first scale's features h_0; each next stage F_i
//! joins h_{i−1} with ĉ tiled over the map, applies residual blocks and doubles the side; every
//! h_i has its own 3×3 + tanh image head. After the authors' `G_NET` (hanzhanggit/StackGAN-v2).

use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::prelude::*;

use super::conditioning::{Augmented, CondAugment};
use super::config::StackGanConfig;
use super::layers::{BlockActivation, Join, Residual, ToImage, Up, glu, up_stack};
use crate::model::blocks::dcgan_init;
use crate::model::maps::Maps;

/// A stage above the first: join with ĉ, residual blocks, up-sample.
#[derive(Module, Debug)]
pub struct NextStage {
    join: Join,
    residual: Vec<Residual>,
    up: Up,
}

impl NextStage {
    fn new(width: usize, condition: usize, blocks: usize, device: &Device) -> Self {
        Self {
            join: Join::new(width + condition, width, BlockActivation::Glu, device),
            residual: (0..blocks)
                .map(|_| Residual::new(width, BlockActivation::Glu, device))
                .collect(),
            up: Up::new(width, width / 2, BlockActivation::Glu, device),
        }
    }

    /// `[b, w, s, s]` (and ĉ) → `[b, w/2, 2s, 2s]`.
    fn forward(&self, h: Maps, c: Option<Tensor<2>>) -> Maps {
        let mut h = match c {
            Some(c) => self.join.forward_with_condition(h, c),
            None => self.join.forward(h),
        };
        for r in &self.residual {
            h = r.forward(h);
        }
        self.up.forward(h)
    }
}

/// StackGAN-v2's generator tree.
#[derive(Module, Debug)]
pub struct V2Generator {
    ca: Option<CondAugment>,
    fc: Linear,
    fc_norm: BatchNorm,
    ups: Vec<Up>,
    stages: Vec<NextStage>,
    heads: Vec<ToImage>,
    base_width: usize,
    base_side: usize,
}

/// What a generator draws for a batch.
#[derive(Debug, Clone)]
pub struct StageDrawing {
    /// Images at every scale or stage, coarse to fine, in `[-1, 1]`.
    pub images: Vec<Tensor<4>>,
    /// Conditioning Augmentation's output for each CA network (v2: one; v1: one per stage
    /// run; none when unconditional).
    pub augmented: Vec<Augmented>,
}

impl V2Generator {
    /// Builds the tree of `config` (validated).
    pub fn new(config: &StackGanConfig, device: &Device) -> Self {
        let (base_side, ups) = config.base();
        let cond = if config.conditional() {
            config.condition_dim
        } else {
            0
        };
        let w0 = config.generator_width;
        let features = w0 * base_side * base_side;
        let (up_blocks, mut width) = up_stack(w0, ups, BlockActivation::Glu, device);
        let mut heads = vec![ToImage::new(width, config.channels, device)];
        let mut stages = Vec::new();
        for _ in 1..config.scales {
            stages.push(NextStage::new(width, cond, config.residual_blocks, device));
            width /= 2;
            heads.push(ToImage::new(width, config.channels, device));
        }
        Self {
            ca: config
                .conditional()
                .then(|| CondAugment::new(config.text_dim, config.condition_dim, device)),
            fc: LinearConfig::new(config.z_dim + cond, 2 * features)
                .with_bias(false)
                .with_initializer(dcgan_init())
                .init(device),
            fc_norm: BatchNormConfig::new(2 * features).init(device),
            ups: up_blocks,
            stages,
            heads,
            base_width: w0,
            base_side,
        }
    }

    /// The condition μ the tree makes of `text` (`None` without text).
    pub fn mu(&self, text: Tensor<2>) -> Option<Tensor<2>> {
        self.ca.as_ref().map(|ca| ca.mu(text))
    }

    /// Draws every scale. `z`: `[b, z_dim]`; `text`: `[b, text_dim]` embeddings and `eps`:
    /// `[b, condition_dim]` normals for a conditional model (zeros: ĉ = μ).
    pub fn forward(&self, z: Tensor<2>, text: Option<(Tensor<2>, Tensor<2>)>) -> StageDrawing {
        let b = z.dims()[0];
        let augmented = match (&self.ca, text) {
            (Some(ca), Some((embedding, eps))) => Some(ca.forward(embedding, eps)),
            (None, None) => None,
            (Some(_), None) => panic!("a text-conditional generator needs text"),
            (None, Some(_)) => panic!("an unconditional generator reads no text"),
        };
        let c = augmented.as_ref().map(|a| a.c.clone());
        let input = match &c {
            Some(c) => Tensor::cat(vec![c.clone(), z], 1),
            None => z,
        };
        let mut h = Maps::new(glu(self.fc_norm.forward(self.fc.forward(input))).reshape([
            b,
            self.base_width,
            self.base_side,
            self.base_side,
        ])); // channels-last on the CPU
        for up in &self.ups {
            h = up.forward(h);
        }
        let mut images = vec![self.heads[0].forward(h.clone())];
        for (stage, head) in self.stages.iter().zip(&self.heads[1..]) {
            h = stage.forward(h, c.clone());
            images.push(head.forward(h.clone()));
        }
        StageDrawing {
            images,
            augmented: augmented.into_iter().collect(),
        }
    }
}
