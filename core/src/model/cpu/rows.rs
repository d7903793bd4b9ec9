//! The channels-last layers on burn tensors: [`Rows`], and BatchNorm, convolutions and
//! transposed convolutions on them, each reading burn's layer as its parameters and calling the
//! [`RowOps`] kernels.

use burn::backend::Dispatch;
use burn::nn::BatchNorm;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use burn::tensor::TensorData;

use super::{Activation, RowOps};
use crate::model::conv::Windows;

/// Whether `device` takes the channels-last path (the CPU backend).
pub fn uses_rows(device: &Device) -> bool {
    crate::model::conv::uses_windows(device)
}

/// Channels-last activations: `[batch · height · width, channels]` rows of a batch of images.
#[derive(Debug, Clone)]
pub struct Rows {
    /// `[batch · height · width, channels]`.
    pub x: Tensor<2>,
    /// Images in the batch.
    pub batch: usize,
    /// Height and width of each image.
    pub side: [usize; 2],
}

impl Rows {
    /// NCHW images `[batch, c, h, w]` as rows (one copy; none when `c == 1`).
    pub fn from_nchw(images: Tensor<4>) -> Self {
        let [batch, c, h, w] = images.dims();
        let x = if c == 1 {
            images.reshape([batch * h * w, 1])
        } else {
            images
                .permute([0, 2, 3, 1]) // [batch, h, w, c]
                .reshape([batch * h * w, c])
        };
        Self {
            x,
            batch,
            side: [h, w],
        }
    }

    /// `[batch, c · h · w]` features in NCHW order (what a dense layer after a burn convolution
    /// reads) as rows of a `c`-channel `side` map.
    pub fn from_flat_nchw(x: Tensor<2>, c: usize, side: [usize; 2]) -> Self {
        let [batch, _] = x.dims();
        Self::from_nchw(x.reshape([batch, c, side[0], side[1]]))
    }

    /// Channels per row.
    pub fn channels(&self) -> usize {
        self.x.dims()[1]
    }

    /// Back to NCHW images `[batch, c, h, w]`.
    pub fn into_nchw(self) -> Tensor<4> {
        let c = self.channels();
        let [h, w] = self.side;
        if c == 1 {
            return self.x.reshape([self.batch, 1, h, w]);
        }
        self.x.reshape([self.batch, h, w, c]).permute([0, 3, 1, 2]) // [batch, c, h, w]
    }

    /// The NCHW flattening `[batch, c · h · w]` (what a dense layer after a burn convolution
    /// reads).
    pub fn into_flat_nchw(self) -> Tensor<2> {
        self.into_nchw().flatten(1, 3)
    }

    /// The activation applied to every value.
    pub fn act(self, act: Activation) -> Self {
        let x = if act == Activation::Identity {
            self.x
        } else if uses_rows(&self.x.device()) {
            Tensor::from_dispatch(<Dispatch as RowOps>::act_rows(
                self.x.into_dispatch(),
                act.slope(),
            ))
        } else {
            act.apply(self.x)
        };
        Self { x, ..self }
    }

    /// BatchNorm `norm` (batch statistics when training on an autodiff device, the running
    /// statistics otherwise, as burn's `BatchNorm::forward`) then `act`, fused.
    pub fn norm_act(self, norm: &BatchNorm, act: Activation) -> Self {
        Self {
            x: batch_norm_act(norm, self.x, act),
            ..self
        }
    }
}

/// BatchNorm over the rows of `x` (`[rows, channels]`) then `act`, fused on the CPU; the same
/// running-statistics update and the same inference formula as burn's `BatchNorm` (its
/// `momentum`, biased variance).
pub fn batch_norm_act(norm: &BatchNorm, x: Tensor<2>, act: Activation) -> Tensor<2> {
    let device = x.device();
    if !uses_rows(&device) {
        return act.apply(norm.forward(x));
    }
    if !(device.is_autodiff() && norm.training.is_enabled()) {
        let mean = norm.running_mean.value().to_device(&device);
        let var = norm.running_var.value().to_device(&device);
        let scale = norm.gamma.val() / (var + norm.epsilon).sqrt();
        let shift = norm.beta.val() - mean * scale.clone();
        return act.apply(x * scale.unsqueeze_dim(0) + shift.unsqueeze_dim(0));
    }
    let (output, mean, variance) = <Dispatch as RowOps>::batch_norm_act(
        x.into_dispatch(),
        norm.gamma.val().into_dispatch(),
        norm.beta.val().into_dispatch(),
        norm.epsilon,
        act.slope(),
    );
    let (mean, variance) = (
        Tensor::<1>::from_dispatch(mean),
        Tensor::<1>::from_dispatch(variance),
    );
    let m = norm.momentum;
    let running_mean = norm.running_mean.value_sync().to_device(&device);
    let running_var = norm.running_var.value_sync().to_device(&device);
    norm.running_mean
        .update((running_mean.mul_scalar(1.0 - m) + mean.mul_scalar(m)).detach());
    norm.running_var
        .update((running_var.mul_scalar(1.0 - m) + variance.mul_scalar(m)).detach());
    Tensor::from_dispatch(output)
}

/// A layer's bias, or zeros (untracked) for a layer without one.
fn bias_or_zeros(
    bias: Option<&burn::module::Param<Tensor<1>>>,
    c: usize,
    device: &Device,
) -> Tensor<1> {
    bias.map(|b| b.val())
        .unwrap_or_else(|| Tensor::zeros([c], device))
}

/// `conv.forward` on rows, for a square-kernel, strided, symmetrically padded convolution:
/// gathering the windows, the matrix product and the bias in one kernel whose
/// `[batch · windows, c_out]` output is the next layer's rows ([`layers`]).
pub fn conv2d(conv: &Conv2d, rows: Rows) -> Rows {
    let windows = conv_windows(conv, conv.weight.dims()[1], rows.side);
    let Rows { x, batch, .. } = rows;
    let bias = bias_or_zeros(conv.bias.as_ref(), windows_out(conv), &x.device());
    let out = <Dispatch as RowOps>::conv_rows(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        bias.into_dispatch(),
        windows,
    );
    Rows {
        x: Tensor::from_dispatch(out),
        batch,
        side: [windows.out_height, windows.out_width],
    }
}

/// A convolution's output channels.
fn windows_out(conv: &Conv2d) -> usize {
    conv.weight.dims()[0]
}

/// The windows of `conv` over `c_in`-channel maps of `side`.
fn conv_windows(conv: &Conv2d, c_in: usize, side: [usize; 2]) -> Windows {
    let padding = match conv.padding {
        PaddingConfig2d::Explicit(top, left, bottom, right)
            if top == left && top == bottom && top == right =>
        {
            top
        }
        PaddingConfig2d::Valid => 0,
        _ => panic!("conv2d on rows: valid or symmetric explicit padding"),
    };
    let [_, _, kernel, kernel_w] = conv.weight.dims();
    assert!(
        kernel == kernel_w
            && conv.stride[0] == conv.stride[1]
            && conv.dilation == [1, 1]
            && conv.groups == 1,
        "conv2d on rows: square kernel, equal strides, no dilation or groups"
    );
    Windows::new(c_in, side, kernel, conv.stride[0], padding)
}

/// `conv.forward` of the maps with a `[batch, e]` condition tiled over them after their
/// channels, without tiling it: the tiled part of every window is the same vector, so its
/// share of the output is, per image, the sum over the kernel taps inside the image of
/// `W_tap · c` — `k²` products per image and a `[windows, k²]` 0/1 mask of the taps each window
/// reads inside the image. Exact, borders included; StackGAN's joins spent up to 80% of their
/// products on the tiled channels.
pub fn conv2d_with_condition(conv: &Conv2d, rows: Rows, condition: Tensor<2>) -> Rows {
    let [c_out, c_total, kernel, _] = conv.weight.dims();
    let c_maps = rows.channels();
    let [batch, e] = condition.dims();
    assert_eq!(
        (c_maps + e, batch),
        (c_total, rows.batch),
        "conv2d_with_condition: channels and batch"
    );
    let windows = conv_windows(conv, c_maps, rows.side);
    let device = rows.x.device();
    let weight = conv.weight.val();
    let maps_part = <Dispatch as RowOps>::conv_rows(
        rows.x.into_dispatch(),
        weight.clone().narrow(1, 0, c_maps).into_dispatch(),
        bias_or_zeros(conv.bias.as_ref(), c_out, &device).into_dispatch(),
        windows,
    );
    let taps = kernel * kernel;
    let per_tap = condition
        .matmul(
            weight
                .narrow(1, c_maps, e) // [c_out, e, k, k]
                .permute([1, 2, 3, 0]) // [e, k, k, c_out]
                .reshape([e, taps * c_out]),
        )
        .reshape([batch, taps, c_out]); // W_tap · c for every image and tap
    let per_image = windows.per_image();
    let inside = Tensor::<2>::from_data(
        TensorData::new(taps_inside(&windows), [per_image, taps]),
        &device,
    );
    let condition_part = inside
        .unsqueeze::<3>()
        .expand([batch, per_image, taps])
        .matmul(per_tap) // [batch, windows, c_out]
        .reshape([batch * per_image, c_out]);
    Rows {
        x: Tensor::from_dispatch(maps_part) + condition_part,
        batch,
        side: [windows.out_height, windows.out_width],
    }
}

/// For every window (row-major) and kernel tap (`ky · k + kx`), 1 where the tap reads inside
/// the image, 0 in the padding.
fn taps_inside(w: &Windows) -> Vec<f32> {
    let inside = |o: usize, t: usize, side: usize| {
        (o * w.stride + t)
            .checked_sub(w.padding)
            .is_some_and(|i| i < side)
    };
    let mut mask = Vec::with_capacity(w.per_image() * w.kernel * w.kernel);
    for oy in 0..w.out_height {
        for ox in 0..w.out_width {
            for ky in 0..w.kernel {
                for kx in 0..w.kernel {
                    let both = inside(oy, ky, w.height) && inside(ox, kx, w.width);
                    mask.push(if both { 1.0 } else { 0.0 });
                }
            }
        }
    }
    mask
}

/// `deconv.forward` on rows, for a square-kernel transposed convolution with equal strides
/// and paddings: the matrix product `[batch · h · w, c_in] × [c_in, k · k · c_out]`, adding each
/// row back into the output and the bias in one kernel ([`layers`]).
pub fn conv_transpose2d(deconv: &ConvTranspose2d, rows: Rows) -> Rows {
    let [c_in, c_out, kernel, kernel_w] = deconv.weight.dims();
    let [stride, stride_w] = deconv.stride;
    let [padding, padding_w] = deconv.padding;
    assert!(
        kernel == kernel_w
            && stride == stride_w
            && padding == padding_w
            && deconv.padding_out[0] == deconv.padding_out[1]
            && deconv.dilation == [1, 1]
            && deconv.groups == 1,
        "conv_transpose2d on rows: square kernel, equal strides and paddings"
    );
    let Rows { x, batch, side } = rows;
    assert_eq!(
        x.dims()[1],
        c_in,
        "conv_transpose2d on rows: input channels"
    );
    let grow = |s: usize| (s - 1) * stride + kernel + deconv.padding_out[0] - 2 * padding;
    let out_side = [grow(side[0]), grow(side[1])];
    let windows = Windows::new(c_out, out_side, kernel, stride, padding);
    assert_eq!(
        [windows.out_height, windows.out_width],
        side,
        "conv_transpose2d on rows: its windows tile the input"
    );
    let bias = bias_or_zeros(deconv.bias.as_ref(), c_out, &x.device());
    let out = <Dispatch as RowOps>::deconv_rows(
        x.into_dispatch(),
        deconv.weight.val().into_dispatch(),
        bias.into_dispatch(),
        windows,
    );
    Rows {
        x: Tensor::from_dispatch(out),
        batch,
        side: out_side,
    }
}
