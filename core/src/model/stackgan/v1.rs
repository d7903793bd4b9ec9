//! StackGAN-v1 (Zhang et al. 2017): Stage-I draws a low-resolution image from (z, ĉ); Stage-II
//! encodes that image with strided convolutions, joins it with its own ĉ tiled over the map,
//! refines it with residual blocks and up-samples to the high resolution. After the authors'
//! `STAGE1_G` / `STAGE2_G` (hanzhanggit/StackGAN-Pytorch), with ReLU activations; each stage has
//! its own Conditioning Augmentation. Stage-II reads Stage-I's image detached: the paper trains
//! Stage-I first, then Stage-II with Stage-I fixed.

use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::conditioning::CondAugment;
use super::config::StackGanConfig;
use super::layers::{BlockActivation, Join, Residual, ToImage, Up, conv2d, up_stack};
use super::v2::StageDrawing;
use crate::model::blocks::dcgan_init;
use crate::model::cpu::Activation;
use crate::model::maps::Maps;

/// Stage-I: (z, ĉ) → FC → up-sampling blocks → image.
#[derive(Module, Debug)]
pub struct Stage1 {
    ca: CondAugment,
    fc: Linear,
    fc_norm: BatchNorm,
    ups: Vec<Up>,
    head: ToImage,
    base_width: usize,
    base_side: usize,
}

/// Stage-II: Stage-I's image → encoder → ⊕ ĉ → residual blocks → up-sampling → image.
#[derive(Module, Debug)]
pub struct Stage2 {
    ca: CondAugment,
    first: Conv2d,
    downs: Vec<Conv2d>,
    down_norms: Vec<BatchNorm>,
    join: Join,
    residual: Vec<Residual>,
    ups: Vec<Up>,
    head: ToImage,
}

/// Both stages of StackGAN-v1.
#[derive(Module, Debug)]
pub struct V1Generator {
    stage1: Stage1,
    stage2: Stage2,
}

impl V1Generator {
    /// Builds both stages of `config` (validated).
    pub fn new(config: &StackGanConfig, device: &Device) -> Self {
        let (base_side, ups) = config.base();
        let cond = config.condition_dim;
        let w0 = config.generator_width;
        let (stage1_ups, width) = up_stack(w0, ups, BlockActivation::Relu, device);
        let stage1 = Stage1 {
            ca: CondAugment::new(config.text_dim, cond, device),
            fc: LinearConfig::new(config.z_dim + cond, w0 * base_side * base_side)
                .with_bias(false)
                .with_initializer(dcgan_init())
                .init(device),
            fc_norm: BatchNormConfig::new(w0 * base_side * base_side).init(device),
            ups: stage1_ups,
            head: ToImage::new(width, config.channels, device),
            base_width: w0,
            base_side,
        };

        let gf = (w0 / 8).max(1);
        let downs = config.stage2_downs();
        let top = gf << downs;
        let ups2 = downs + config.stage_ratio.trailing_zeros() as usize;
        let (stage2_ups, width) = up_stack(top, ups2, BlockActivation::Relu, device);
        let stage2 = Stage2 {
            ca: CondAugment::new(config.text_dim, cond, device),
            first: conv2d(config.channels, gf, 3, 1, 1, false, device),
            downs: (0..downs)
                .map(|i| conv2d(gf << i, gf << (i + 1), 4, 2, 1, false, device))
                .collect(),
            down_norms: (0..downs)
                .map(|i| BatchNormConfig::new(gf << (i + 1)).init(device))
                .collect(),
            join: Join::new(top + cond, top, BlockActivation::Relu, device),
            residual: (0..config.residual_blocks)
                .map(|_| Residual::new(top, BlockActivation::Relu, device))
                .collect(),
            ups: stage2_ups,
            head: ToImage::new(width, config.channels, device),
        };
        Self { stage1, stage2 }
    }

    /// The condition μ that stage `stage` (0: Stage-I, 1: Stage-II) makes of `text`.
    pub fn mu(&self, text: Tensor<2>, stage: usize) -> Tensor<2> {
        if stage == 0 {
            self.stage1.ca.mu(text)
        } else {
            self.stage2.ca.mu(text)
        }
    }

    /// Draws Stage-I, and Stage-II on top of it when `stages` is 2. `text`: `[b, text_dim]`;
    /// `eps`: one `[b, condition_dim]` tensor of normals per stage (zeros: ĉ = μ).
    pub fn forward(
        &self,
        z: Tensor<2>,
        text: Tensor<2>,
        eps: [Tensor<2>; 2],
        stages: usize,
    ) -> StageDrawing {
        let [eps1, eps2] = eps;
        let b = z.dims()[0];
        let s1 = &self.stage1;
        let a1 = s1.ca.forward(text.clone(), eps1);
        let input = Tensor::cat(vec![a1.c.clone(), z], 1);
        let mut h = Maps::new(relu(s1.fc_norm.forward(s1.fc.forward(input))).reshape([
            b,
            s1.base_width,
            s1.base_side,
            s1.base_side,
        ])); // channels-last on the CPU
        for up in &s1.ups {
            h = up.forward(h);
        }
        let low = s1.head.forward(h);
        if stages < 2 {
            return StageDrawing {
                images: vec![low],
                augmented: vec![a1],
            };
        }
        let s2 = &self.stage2;
        let a2 = s2.ca.forward(text, eps2);
        let mut h = Maps::new(low.clone().detach())
            .conv(&s2.first)
            .act(Activation::Relu);
        for (down, norm) in s2.downs.iter().zip(&s2.down_norms) {
            h = h.conv(down).norm_act(norm, Activation::Relu);
        }
        h = s2.join.forward_with_condition(h, a2.c.clone());
        for r in &s2.residual {
            h = r.forward(h);
        }
        for up in &s2.ups {
            h = up.forward(h);
        }
        let high = s2.head.forward(h);
        StageDrawing {
            images: vec![low, high],
            augmented: vec![a1, a2],
        }
    }
}
