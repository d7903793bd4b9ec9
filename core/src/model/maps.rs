//! Feature maps in the layout the device trains fastest in: channels-last rows on the CPU
//! (each convolution one fused kernel, BatchNorm and its activation one pass: [`cpu`]), burn's
//! NCHW tensors elsewhere. The layers of LAPGAN's finer levels and of both StackGANs are
//! written once against [`Maps`]; the images they read and write stay NCHW at their edges.

use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use super::conv;
use super::cpu::{self, Activation, RowOps, Rows};
use burn::backend::Dispatch;

/// A batch of feature maps.
#[derive(Debug, Clone)]
pub enum Maps {
    /// `[batch, channels, height, width]`: burn's layout and kernels.
    Nchw(Tensor<4>),
    /// `[batch · height · width, channels]`: the CPU's fused kernels.
    Rows(Rows),
}

/// `a ⊙ σ(b)` where `[a, b]` are the two halves of dimension 1 (a gated linear unit over
/// channels, in either layout: both keep the channels on dimension 1).
pub fn glu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let half = x.dims()[1] / 2;
    x.clone().narrow(1, 0, half) * sigmoid(x.narrow(1, half, half))
}

impl Maps {
    /// Images `[batch, c, h, w]` in the device's layout: rows on the CPU, NCHW elsewhere.
    pub fn new(images: Tensor<4>) -> Self {
        if cpu::uses_rows(&images.device()) {
            Self::Rows(Rows::from_nchw(images))
        } else {
            Self::Nchw(images)
        }
    }

    /// Back to images `[batch, c, h, w]`.
    pub fn into_nchw(self) -> Tensor<4> {
        match self {
            Self::Nchw(x) => x,
            Self::Rows(rows) => rows.into_nchw(),
        }
    }

    /// The NCHW flattening `[batch, c · h · w]` (what a dense layer reads).
    pub fn into_flat_nchw(self) -> Tensor<2> {
        self.into_nchw().flatten(1, 3)
    }

    /// Images in the batch.
    pub fn batch(&self) -> usize {
        match self {
            Self::Nchw(x) => x.dims()[0],
            Self::Rows(rows) => rows.batch,
        }
    }

    /// Height and width.
    pub fn side(&self) -> [usize; 2] {
        match self {
            Self::Nchw(x) => {
                let [_, _, h, w] = x.dims();
                [h, w]
            }
            Self::Rows(rows) => rows.side,
        }
    }

    /// `conv.forward` (on the CPU: a square kernel, equal strides, valid or symmetric padding).
    pub fn conv(self, conv: &Conv2d) -> Self {
        match self {
            Self::Nchw(x) => Self::Nchw(conv::conv2d(conv, x)),
            Self::Rows(rows) => Self::Rows(cpu::conv2d(conv, rows)),
        }
    }

    /// The activation on every value.
    pub fn act(self, act: Activation) -> Self {
        match self {
            Self::Nchw(x) => Self::Nchw(act.apply(x)),
            Self::Rows(rows) => Self::Rows(rows.act(act)),
        }
    }

    /// BatchNorm (batch statistics when training, as burn's `BatchNorm::forward`), then `act`.
    pub fn norm_act(self, norm: &BatchNorm, act: Activation) -> Self {
        match self {
            Self::Nchw(x) => Self::Nchw(act.apply(norm.forward(x))),
            Self::Rows(rows) => Self::Rows(rows.norm_act(norm, act)),
        }
    }

    /// [`glu`] over the channels: half as many out (one fused kernel on the CPU).
    pub fn glu(self) -> Self {
        match self {
            Self::Nchw(x) => Self::Nchw(glu(x)),
            Self::Rows(rows) => Self::Rows(Rows {
                x: Tensor::from_dispatch(<Dispatch as RowOps>::glu_rows(rows.x.into_dispatch())),
                ..rows
            }),
        }
    }

    /// `tanh` on every value.
    pub fn tanh(self) -> Self {
        match self {
            Self::Nchw(x) => Self::Nchw(x.tanh()),
            Self::Rows(rows) => Self::Rows(Rows {
                x: rows.x.tanh(),
                ..rows
            }),
        }
    }

    /// Nearest-neighbour up-sampling by 2: each value fills a 2 × 2 block.
    pub fn upsample(self) -> Self {
        match self {
            Self::Nchw(x) => {
                let [b, c, h, w] = x.dims();
                Self::Nchw(
                    x.reshape([b, c, h, 1, w, 1])
                        .expand([b, c, h, 2, w, 2])
                        .reshape([b, c, 2 * h, 2 * w]),
                )
            }
            Self::Rows(Rows { x, batch, side }) => {
                let ([h, w], c) = (side, x.dims()[1]);
                let x = x
                    .reshape([batch, h, 1, w, 1, c])
                    .expand([batch, h, 2, w, 2, c])
                    .reshape([batch * 4 * h * w, c]);
                Self::Rows(Rows {
                    x,
                    batch,
                    side: [2 * h, 2 * w],
                })
            }
        }
    }

    /// `conv.forward` of the maps with a `[batch, e]` condition tiled over them after their
    /// channels (on the CPU without tiling it: [`cpu::conv2d_with_condition`]).
    pub fn conv_with_condition(self, conv: &Conv2d, condition: Tensor<2>) -> Self {
        let [b, e] = condition.dims();
        assert_eq!(b, self.batch(), "a condition per image");
        match self {
            Self::Nchw(x) => {
                let [_, _, h, w] = x.dims();
                let tiled = condition.reshape([b, e, 1, 1]).expand([b, e, h, w]);
                Self::Nchw(conv::conv2d(conv, Tensor::cat(vec![x, tiled], 1)))
            }
            Self::Rows(rows) => Self::Rows(cpu::conv2d_with_condition(conv, rows, condition)),
        }
    }

    /// Images `start .. start + len` of the batch.
    pub fn narrow_batch(self, start: usize, len: usize) -> Self {
        match self {
            Self::Nchw(x) => Self::Nchw(x.narrow(0, start, len)),
            Self::Rows(rows) => rows.per_image(|x| x.narrow(0, start, len)),
        }
    }
}

/// The element-wise sum of two batches of maps of one shape (a residual connection).
impl std::ops::Add for Maps {
    type Output = Maps;

    fn add(self, other: Self) -> Self {
        match (self, other) {
            (Self::Nchw(a), Self::Nchw(b)) => Self::Nchw(a + b),
            (Self::Rows(a), Self::Rows(b)) => {
                assert_eq!((a.batch, a.side), (b.batch, b.side), "maps of one shape");
                Self::Rows(Rows { x: a.x + b.x, ..a })
            }
            (a, b) => Self::Nchw(a.into_nchw() + b.into_nchw()),
        }
    }
}

impl Rows {
    /// `f` on the `[batch, h · w · c]` matrix of the images' rows, one image per row (free:
    /// the rows of an image are contiguous), read back as rows.
    fn per_image(self, f: impl FnOnce(Tensor<2>) -> Tensor<2>) -> Maps {
        let c = self.channels();
        let [h, w] = self.side;
        let images = f(self.x.reshape([self.batch, h * w * c]));
        let batch = images.dims()[0];
        Maps::Rows(Rows {
            x: images.reshape([batch * h * w, c]),
            batch,
            side: self.side,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::{BatchNormConfig, PaddingConfig2d};
    use burn::tensor::Distribution;

    use crate::model::testing::assert_close;

    /// Every operation gives the same values and the same gradients of its input, weights and
    /// condition in both layouts: a strided 4 × 4 convolution, a same-size 3 × 3 one
    /// reading a condition tiled over the maps (its border windows included), BatchNorm with
    /// each activation, GLU, up-sampling, a residual sum, the batch and a part of it,
    /// tanh.
    #[test]
    fn rows_and_nchw_agree_on_values_and_gradients() {
        let device = Device::flex().autodiff();
        let down = Conv2dConfig::new([3, 8], [4, 4])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(&device);
        let same = Conv2dConfig::new([6, 4], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(&device);
        let norm = BatchNormConfig::new(8).init(&device);
        let x = Tensor::<4>::random([3, 3, 10, 10], Distribution::Default, &device).require_grad();
        let c = Tensor::<2>::random([3, 2], Distribution::Default, &device).require_grad();
        let run = |maps: Maps| {
            let h = maps.conv(&down).norm_act(&norm, Activation::LeakyRelu); // [3, 8, 5, 5]
            let h = (h.clone() + h.norm_act(&norm, Activation::Identity)).glu(); // 4 channels
            let h = h.upsample().conv_with_condition(&same, c.clone()); // [3, 4, 10, 10]
            let h = h.act(Activation::Relu).tanh();
            (h.clone().narrow_batch(1, 2).into_nchw(), h.into_nchw())
        };
        let (rows_first, rows_whole) = run(Maps::Rows(Rows::from_nchw(x.clone())));
        let (nchw_first, nchw_whole) = run(Maps::Nchw(x.clone()));
        assert_eq!(rows_first.dims(), [2, 4, 10, 10]);
        assert_eq!(rows_whole.dims(), [3, 4, 10, 10]);
        let target = |dims: [usize; 4]| Tensor::<4>::random(dims, Distribution::Default, &device);
        let (t1, t2) = (target([2, 4, 10, 10]), target([3, 4, 10, 10]));
        let loss = |a: Tensor<4>, b: Tensor<4>| (a * t1.clone()).sum() + (b * t2.clone()).sum();
        let g_rows = loss(rows_first.clone(), rows_whole.clone()).backward();
        let g_nchw = loss(nchw_first.clone(), nchw_whole.clone()).backward();
        assert_close(rows_first, nchw_first, "narrowed");
        assert_close(rows_whole, nchw_whole, "whole");
        let grad = |t: Option<Tensor<4>>| t.expect("a gradient");
        assert_close(grad(x.grad(&g_rows)), grad(x.grad(&g_nchw)), "dx");
        for (conv, what) in [(&down, "strided"), (&same, "same-size")] {
            assert_close(
                grad(conv.weight.grad(&g_rows)),
                grad(conv.weight.grad(&g_nchw)),
                &format!("{what} dW"),
            );
        }
        assert_close(c.grad(&g_rows).unwrap(), c.grad(&g_nchw).unwrap(), "dc");
        assert_close(
            norm.gamma.grad(&g_rows).unwrap(),
            norm.gamma.grad(&g_nchw).unwrap(),
            "dγ",
        );
    }
}
