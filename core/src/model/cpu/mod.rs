//! The CPU training path of the DCGAN-style stacks (GRAN's f and g, its discriminator, DCGAN):
//! activations channels-last, as `[batch · h · w, channels]` rows, from the first layer to the
//! last, so a convolution is `im2col` then one matrix product whose output is already the next
//! layer's input (no NHWC ↔ NCHW copy around it), a transposed convolution is one matrix product
//! then `col2im`, and BatchNorm with the activation after it is one fused pass over all cores.
//!
//! The three kernels (`im2col`, `col2im`, BatchNorm + activation) are a burn backend extension
//! with hand-written backward passes (`col2im` and `im2col` are each other's adjoint; the fused
//! BatchNorm's backward is the closed form), so autodiff handles the rest. The layers keep
//! burn's `Conv2d`, `ConvTranspose2d` and `BatchNorm` as their parameters, read in this layout
//! (weights permuted on the fly, a few thousand floats): checkpoints do not depend on which path
//! computed them, and other devices keep burn's kernels.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::nn::BatchNorm;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use burn::tensor::{DType, TensorData};

use super::conv::Windows;

pub mod norm;
pub mod windows;

#[cfg(test)]
mod tests;

/// The activation after a layer, as the fused kernel applies it: `max(z, slope · z)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `max(z, 0)`.
    Relu,
    /// `max(z, 0.2 z)` (DCGAN's discriminators).
    LeakyRelu,
    /// `z`.
    Identity,
}

impl Activation {
    /// The slope below zero.
    pub fn slope(self) -> f32 {
        match self {
            Activation::Relu => 0.0,
            Activation::LeakyRelu => 0.2,
            Activation::Identity => 1.0,
        }
    }

    /// The activation with burn's operations (any layout, any backend).
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Relu => burn::tensor::activation::relu(x),
            Activation::LeakyRelu => burn::tensor::activation::leaky_relu(x, 0.2),
            Activation::Identity => x,
        }
    }
}

/// The kernels of the channels-last path, as a backend extension so that autodiff can
/// differentiate them.
#[backend_extension(Flex, Autodiff)]
pub trait RowOps: Backend {
    /// `[batch, h, w, c] → [batch · windows, k · k · c]`: each row one window in (ky, kx, c)
    /// order, zero outside the image.
    fn im2col_rows(images: FloatTensor<Self>, windows: Windows) -> FloatTensor<Self>;
    /// `[batch · windows, k · k · c] → [batch, h, w, c]`: each row added back where it was read.
    fn col2im_rows(columns: FloatTensor<Self>, windows: Windows) -> FloatTensor<Self>;
    /// BatchNorm over the rows of `x` (`[rows, c]`) with batch statistics, then
    /// `max(z, slope · z)`: returns (output, mean, biased variance).
    fn batch_norm_act(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        slope: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

fn f32_slice<'a>(tensor: &'a FlexTensor, op: &str) -> &'a [f32] {
    assert_eq!(tensor.dtype(), DType::F32, "{op}: the CPU path is f32 only");
    tensor.as_slice::<f32>().expect("contiguous f32")
}

fn flex(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

impl RowOps for Flex {
    fn im2col_rows(images: FlexTensor, w: Windows) -> FlexTensor {
        let images = images.to_contiguous();
        let dims = images.layout().shape().to_vec();
        assert_eq!(
            dims[1..],
            [w.height, w.width, w.channels],
            "im2col_rows: image shape does not match its windows"
        );
        let out = windows::im2col(f32_slice(&images, "im2col_rows"), &w);
        flex(out, vec![dims[0] * w.per_image(), w.window_len()])
    }

    fn col2im_rows(columns: FlexTensor, w: Windows) -> FlexTensor {
        let columns = columns.to_contiguous();
        let dims = columns.layout().shape().to_vec();
        assert_eq!(dims[1], w.window_len(), "col2im_rows: row length");
        assert_eq!(dims[0] % w.per_image(), 0, "col2im_rows: row count");
        let out = windows::col2im(f32_slice(&columns, "col2im_rows"), &w);
        flex(
            out,
            vec![dims[0] / w.per_image(), w.height, w.width, w.channels],
        )
    }

    fn batch_norm_act(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
        slope: f32,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let (x, gamma, beta) = (
            x.to_contiguous(),
            gamma.to_contiguous(),
            beta.to_contiguous(),
        );
        let shape = x.layout().shape().to_vec();
        let c = gamma.layout().shape()[0];
        assert_eq!(shape[1], c, "batch_norm_act: channels");
        let (y, mean, variance) = norm::forward(
            f32_slice(&x, "batch_norm_act"),
            f32_slice(&gamma, "batch_norm_act"),
            f32_slice(&beta, "batch_norm_act"),
            epsilon,
            slope,
        );
        (flex(y, shape), flex(mean, vec![c]), flex(variance, vec![c]))
    }
}

/// What the fused BatchNorm's backward pass reads.
#[derive(Debug, Clone)]
struct NormState<P> {
    x: P,
    y: P,
    gamma: P,
    mean: P,
    variance: P,
    epsilon: f64,
    slope: f32,
}

#[derive(Debug)]
struct Im2ColBackward;

impl<B: Backend + RowOps> Backward<B, 1> for Im2ColBackward {
    type State = Windows;

    fn backward(self, ops: Ops<Windows, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let windows = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::col2im_rows(grad, windows)
        });
    }
}

#[derive(Debug)]
struct Col2ImBackward;

impl<B: Backend + RowOps> Backward<B, 1> for Col2ImBackward {
    type State = Windows;

    fn backward(self, ops: Ops<Windows, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let windows = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::im2col_rows(grad, windows)
        });
    }
}

#[derive(Debug)]
struct NormBackward;

impl<B: Backend<FloatTensorPrimitive = FlexTensor> + RowOps> Backward<B, 3> for NormBackward {
    type State = NormState<FlexTensor>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = grads.consume::<B>(&ops.node).to_contiguous();
        let s = ops.state;
        let shape = s.x.layout().shape().to_vec();
        let c = shape[1];
        let (x_grad, gamma_grad, beta_grad) = norm::backward(
            f32_slice(&s.x, "batch_norm_act backward"),
            f32_slice(&s.y, "batch_norm_act backward"),
            f32_slice(&s.gamma, "batch_norm_act backward"),
            f32_slice(&s.mean, "batch_norm_act backward"),
            f32_slice(&s.variance, "batch_norm_act backward"),
            s.epsilon,
            s.slope,
            f32_slice(&dy, "batch_norm_act backward"),
        );
        if let Some(node) = node_x {
            grads.register::<B>(node.id, flex(x_grad, shape));
        }
        if let Some(node) = node_gamma {
            grads.register::<B>(node.id, flex(gamma_grad, vec![c]));
        }
        if let Some(node) = node_beta {
            grads.register::<B>(node.id, flex(beta_grad, vec![c]));
        }
    }
}

impl<B, C> RowOps for Autodiff<B, C>
where
    B: Backend<FloatTensorPrimitive = FlexTensor> + RowOps,
    C: CheckpointStrategy,
{
    fn im2col_rows(images: FloatTensor<Self>, windows: Windows) -> FloatTensor<Self> {
        let (primitive, node) = images.into_parts();
        match Im2ColBackward
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(windows, B::im2col_rows(primitive, windows)),
            OpsKind::UnTracked(prep) => prep.finish(B::im2col_rows(primitive, windows)),
        }
    }

    fn col2im_rows(columns: FloatTensor<Self>, windows: Windows) -> FloatTensor<Self> {
        let (primitive, node) = columns.into_parts();
        match Col2ImBackward
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(windows, B::col2im_rows(primitive, windows)),
            OpsKind::UnTracked(prep) => prep.finish(B::col2im_rows(primitive, windows)),
        }
    }

    fn batch_norm_act(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        slope: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let (x, node_x) = x.into_parts();
        let (gamma, node_gamma) = gamma.into_parts();
        let (beta, node_beta) = beta.into_parts();
        let (y, mean, variance) = B::batch_norm_act(x.clone(), gamma.clone(), beta, epsilon, slope);
        let output = match NormBackward
            .prepare::<C>([node_x, node_gamma, node_beta])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let state = NormState {
                    x,
                    y: y.clone(),
                    gamma,
                    mean: mean.clone(),
                    variance: variance.clone(),
                    epsilon,
                    slope,
                };
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        (
            output,
            <FloatTensor<Self>>::new(mean),
            <FloatTensor<Self>>::new(variance),
        )
    }
}

/// Whether `device` takes the channels-last path (the CPU backend).
pub fn uses_rows(device: &Device) -> bool {
    super::conv::uses_windows(device)
}

fn im2col_rows(images: Tensor<4>, windows: Windows) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as RowOps>::im2col_rows(
        images.into_dispatch(),
        windows,
    ))
}

fn col2im_rows(columns: Tensor<2>, windows: Windows) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as RowOps>::col2im_rows(
        columns.into_dispatch(),
        windows,
    ))
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
        Self {
            x: act.apply(self.x),
            ..self
        }
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

/// `conv.forward` on rows, for a square-kernel, strided, symmetrically padded convolution:
/// `im2col` then one matrix product whose `[batch · windows, c_out]` output is the next layer's
/// rows.
pub fn conv2d(conv: &Conv2d, rows: Rows) -> Rows {
    let padding = match conv.padding {
        PaddingConfig2d::Explicit(top, left, bottom, right)
            if top == left && top == bottom && top == right =>
        {
            top
        }
        _ => panic!("conv2d on rows: symmetric explicit padding"),
    };
    let [c_out, c_in, kernel, kernel_w] = conv.weight.dims();
    assert!(
        kernel == kernel_w
            && conv.stride[0] == conv.stride[1]
            && conv.dilation == [1, 1]
            && conv.groups == 1,
        "conv2d on rows: square kernel, equal strides, no dilation or groups"
    );
    let Rows { x, batch, side } = rows;
    let windows = Windows::new(c_in, side, kernel, conv.stride[0], padding);
    let kernels = conv
        .weight
        .val()
        .permute([0, 2, 3, 1]) // [c_out, k, k, c_in]
        .reshape([c_out, windows.window_len()]);
    let images = x.reshape([batch, side[0], side[1], c_in]);
    let mut out = im2col_rows(images, windows).matmul(kernels.transpose()); // [batch·windows, c_out]
    if let Some(bias) = &conv.bias {
        out = out + bias.val().unsqueeze_dim(0);
    }
    Rows {
        x: out,
        batch,
        side: [windows.out_height, windows.out_width],
    }
}

/// `deconv.forward` on rows, for a square-kernel transposed convolution with equal strides
/// and paddings: one matrix product `[batch · h · w, c_in] × [c_in, k · k · c_out]` then
/// `col2im` into the `[batch · h' · w', c_out]` rows of the output.
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
    let grow = |s: usize| (s - 1) * stride + kernel + deconv.padding_out[0] - 2 * padding;
    let out_side = [grow(side[0]), grow(side[1])];
    let windows = Windows::new(c_out, out_side, kernel, stride, padding);
    assert_eq!(
        [windows.out_height, windows.out_width],
        side,
        "conv_transpose2d on rows: its windows tile the input"
    );
    let kernels = deconv
        .weight
        .val()
        .permute([0, 2, 3, 1]) // [c_in, k, k, c_out]
        .reshape([c_in, windows.window_len()]);
    let images = col2im_rows(x.matmul(kernels), windows); // [batch, h', w', c_out]
    let mut out = images.reshape([batch * out_side[0] * out_side[1], c_out]);
    if let Some(bias) = &deconv.bias {
        out = out + bias.val().unsqueeze_dim(0);
    }
    Rows {
        x: out,
        batch,
        side: out_side,
    }
}
