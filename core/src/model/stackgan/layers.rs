//! The building blocks of both StackGANs, after the authors' PyTorch code (hanzhanggit/StackGAN-
//! Pytorch, hanzhanggit/StackGAN-v2): nearest-neighbour up-sampling blocks, 3×3 joining blocks,
//! residual blocks, the discriminators' strided image encoders and their logit heads.
//!
//! Activations are a constant of each block: ReLU (StackGAN-v1's generators), GLU (StackGAN-v2's
//! generators: the convolution makes twice the channels and `a ⊙ σ(b)` halves them) or
//! LeakyReLU(0.2) (every discriminator).

//!
//! The blocks read and write [`Maps`]: channels-last rows on the CPU, NCHW elsewhere.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;

use crate::model::blocks::dcgan_init;
use crate::model::cpu::Activation;
use crate::model::maps::Maps;
pub use crate::model::maps::glu;

/// What a block applies after its BatchNorm: v1's generators use ReLU, v2's the GLU, the
/// discriminators LeakyReLU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockActivation {
    /// `max(z, 0)`.
    Relu,
    /// The gated linear unit over channels: the first half times σ(the second half).
    Glu,
    /// LeakyReLU with slope 0.2.
    LeakyRelu,
}

impl BlockActivation {
    /// Channels a convolution must produce for `out` channels after it (GLU halves them).
    fn widen(self, out: usize) -> usize {
        if self == BlockActivation::Glu {
            2 * out
        } else {
            out
        }
    }

    /// BatchNorm then this activation, fused where the device allows.
    fn after_norm(self, x: Maps, norm: &BatchNorm) -> Maps {
        match self {
            BlockActivation::Relu => x.norm_act(norm, Activation::Relu),
            BlockActivation::Glu => x.norm_act(norm, Activation::Identity).glu(),
            BlockActivation::LeakyRelu => x.norm_act(norm, Activation::LeakyRelu),
        }
    }
}

/// A `kernel`×`kernel` convolution with DCGAN's N(0, 0.02) weights.
pub fn conv2d(
    inputs: usize,
    outputs: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    bias: bool,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new([inputs, outputs], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_bias(bias)
        .with_initializer(dcgan_init())
        .init(device)
}

/// Nearest-neighbour up-sampling by 2: `[b, c, h, w] → [b, c, 2h, 2w]`.
pub fn upsample_nearest(x: Tensor<4>) -> Tensor<4> {
    Maps::Nchw(x).upsample().into_nchw()
}

/// 3×3 convolution (no bias), BatchNorm, activation: the code's `Block3x3_relu` /
/// `Block3x3_leakRelu`.
#[derive(Module, Debug)]
pub struct Join {
    conv: Conv2d,
    norm: BatchNorm,
    #[module(skip)]
    act: BlockActivation,
}

impl Join {
    /// `inputs` → `outputs` channels at the same side.
    pub fn new(inputs: usize, outputs: usize, act: BlockActivation, device: &Device) -> Self {
        Self {
            conv: conv2d(inputs, act.widen(outputs), 3, 1, 1, false, device),
            norm: BatchNormConfig::new(act.widen(outputs)).init(device),
            act,
        }
    }

    /// `[b, inputs, s, s] → [b, outputs, s, s]`.
    pub fn forward(&self, x: Maps) -> Maps {
        self.act.after_norm(x.conv(&self.conv), &self.norm)
    }

    /// [`Self::forward`] of the maps with a `[b, e]` condition tiled over them after their
    /// channels (`inputs` counts both).
    pub fn forward_with_condition(&self, x: Maps, condition: Tensor<2>) -> Maps {
        self.act
            .after_norm(x.conv_with_condition(&self.conv, condition), &self.norm)
    }
}

/// Nearest ×2, then a [`Join`]: the code's `upBlock`.
#[derive(Module, Debug)]
pub struct Up {
    join: Join,
}

impl Up {
    /// `inputs` → `outputs` channels at twice the side.
    pub fn new(inputs: usize, outputs: usize, act: BlockActivation, device: &Device) -> Self {
        Self {
            join: Join::new(inputs, outputs, act, device),
        }
    }

    /// `[b, inputs, s, s] → [b, outputs, 2s, 2s]`.
    pub fn forward(&self, x: Maps) -> Maps {
        self.join.forward(x.upsample())
    }
}

/// `count` up-sampling blocks from `width` channels, each halving the width (never below 1);
/// returns them and the width they end at.
pub fn up_stack(
    width: usize,
    count: usize,
    act: BlockActivation,
    device: &Device,
) -> (Vec<Up>, usize) {
    let mut w = width;
    let blocks = (0..count)
        .map(|_| {
            let next = (w / 2).max(1);
            let up = Up::new(w, next, act, device);
            w = next;
            up
        })
        .collect();
    (blocks, w)
}

/// `x + BN(conv(act(BN(conv(x)))))`: the code's `ResBlock`.
#[derive(Module, Debug)]
pub struct Residual {
    first: Join,
    conv: Conv2d,
    norm: BatchNorm,
}

impl Residual {
    /// A residual block over `width` channels.
    pub fn new(width: usize, act: BlockActivation, device: &Device) -> Self {
        Self {
            first: Join::new(width, width, act, device),
            conv: conv2d(width, width, 3, 1, 1, false, device),
            norm: BatchNormConfig::new(width).init(device),
        }
    }

    /// Same shape in and out.
    pub fn forward(&self, x: Maps) -> Maps {
        let y = self
            .first
            .forward(x.clone())
            .conv(&self.conv)
            .norm_act(&self.norm, Activation::Identity);
        x + y
    }
}

/// 3×3 convolution to image channels, then tanh: images in `[-1, 1]` (the code's `GET_IMAGE_G`).
#[derive(Module, Debug)]
pub struct ToImage {
    conv: Conv2d,
}

impl ToImage {
    /// From `width` feature channels to `channels` image channels.
    pub fn new(width: usize, channels: usize, device: &Device) -> Self {
        Self {
            conv: conv2d(width, channels, 3, 1, 1, false, device),
        }
    }

    /// `[b, width, s, s] → [b, channels, s, s]` in `[-1, 1]`.
    pub fn forward(&self, x: Maps) -> Tensor<4> {
        x.conv(&self.conv).tanh().into_nchw()
    }
}

/// How many stride-2 halvings take `side` down to its base: while the side is even and above 4.
pub fn halvings(side: usize) -> usize {
    let (mut s, mut n) = (side, 0);
    while s > 4 && s.is_multiple_of(2) {
        s /= 2;
        n += 1;
    }
    n
}

/// A discriminator's image encoder: 4×4 stride-2 convolutions (the first without BatchNorm)
/// with LeakyReLU, doubling the width from `width` each time, down to the base side (4, or the
/// first odd side: 28 → 14 → 7); past 8·`width` channels, 3×3 blocks bring the width back to
/// 8·`width` (the code's `D_NET128`/`D_NET256`). A side with no halving gets one 3×3 convolution.
#[derive(Module, Debug)]
pub struct ImageEncoder {
    downs: Vec<Conv2d>,
    norms: Vec<BatchNorm>,
    reduce: Vec<Join>,
    out_width: usize,
    out_side: usize,
}

impl ImageEncoder {
    /// An encoder of `channels`×`side`×`side` images.
    pub fn new(channels: usize, side: usize, width: usize, device: &Device) -> Self {
        let n = halvings(side);
        let mut downs = Vec::new();
        let mut norms = Vec::new();
        let mut w = width;
        if n == 0 {
            downs.push(conv2d(channels, width, 3, 1, 1, false, device));
        }
        for i in 0..n {
            let inputs = if i == 0 { channels } else { w };
            let outputs = width << i;
            downs.push(conv2d(inputs, outputs, 4, 2, 1, false, device));
            if i > 0 {
                norms.push(BatchNormConfig::new(outputs).init(device));
            }
            w = outputs;
        }
        let mut reduce = Vec::new();
        while w > 8 * width {
            reduce.push(Join::new(w, w / 2, BlockActivation::LeakyRelu, device));
            w /= 2;
        }
        Self {
            downs,
            norms,
            reduce,
            out_width: w,
            out_side: side >> n,
        }
    }

    /// Channels of the encoding.
    pub fn out_width(&self) -> usize {
        self.out_width
    }

    /// Side of the encoding.
    pub fn out_side(&self) -> usize {
        self.out_side
    }

    /// `[b, channels, side, side]` in `[-1, 1]` → `[b, out_width, out_side, out_side]`.
    pub fn forward(&self, x: Tensor<4>) -> Maps {
        let mut h = Maps::new(x); // channels-last on the CPU
        for (i, down) in self.downs.iter().enumerate() {
            h = h.conv(down);
            h = match i.checked_sub(1) {
                Some(j) => h.norm_act(&self.norms[j], Activation::LeakyRelu),
                None => h.act(Activation::LeakyRelu),
            };
        }
        for r in &self.reduce {
            h = r.forward(h);
        }
        h
    }
}

/// A logit from an encoding: the code's `D_GET_LOGITS`. Conditional: the condition tiled over
/// the map, joined by a 3×3 block, then a convolution as large as the map; unconditional: that
/// convolution alone.
#[derive(Module, Debug)]
pub struct Logits {
    join: Option<Join>,
    out: Conv2d,
}

impl Logits {
    /// A head over `width`×`side`×`side` encodings, reading a `condition`-wide vector when
    /// `condition > 0`.
    pub fn new(width: usize, side: usize, condition: usize, device: &Device) -> Self {
        Self {
            join: (condition > 0)
                .then(|| Join::new(width + condition, width, BlockActivation::LeakyRelu, device)),
            out: conv2d(width, 1, side, 1, 0, true, device),
        }
    }

    /// `[b, width, s, s]` (and `[b, condition]`) → `[b, 1]` logits.
    pub fn forward(&self, h: Maps, condition: Option<Tensor<2>>) -> Tensor<2> {
        let h = match (&self.join, condition) {
            (Some(join), Some(c)) => join.forward_with_condition(h, c),
            (None, None) => h,
            (Some(_), None) => panic!("a conditional head needs its condition"),
            (None, Some(_)) => panic!("an unconditional head reads no condition"),
        };
        h.conv(&self.out).into_flat_nchw() // [b, 1 · 1 · 1]
    }
}
