//! The CPU training path of the DCGAN-style stacks (GRAN's f and g, its discriminator, DCGAN):
//! activations channels-last, as `[batch · h · w, channels]` rows, from the first layer to the
//! last, so a convolution's matrix products write the next layer's input directly (no NHWC ↔
//! NCHW copy around it), and BatchNorm with the activation after it is one fused pass over all
//! cores. Strided convolutions and transposed convolutions gather, class by class, only the
//! taps inside the image ([`blocks`]); stride-1 convolutions read their windows in place
//! ([`direct`]).
//!
//! The layers (convolution, transposed convolution, BatchNorm + activation, GLU) are a burn
//! backend extension, each one kernel forward and one backward written by hand ([`blocks`],
//! [`direct`], [`norm`], [`gate`]): the product computed by the `gemm` crate straight into the
//! output ([`product`]), the bias added, with only the gradients the graph asks for (no weight
//! gradient for a frozen discriminator, no input gradient for a data batch). Autodiff handles
//! the rest. The layers keep burn's `Conv2d`, `ConvTranspose2d` and `BatchNorm` as their
//! parameters, read in this layout (weights reordered on the fly, a few thousand floats):
//! checkpoints do not depend on which path computed them, and other devices keep burn's kernels.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, backend_extension};
use burn::prelude::*;
use burn::tensor::{DType, TensorData};

use super::conv::Windows;

pub mod blocks;
pub mod direct;
pub mod gate;
pub mod layers;
pub mod norm;
pub mod product;
mod rows;
pub mod windows;

pub use rows::{Rows, batch_norm_act, conv_transpose2d, conv2d, conv2d_with_condition, uses_rows};

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
    /// BatchNorm over the rows of `x` (`[rows, c]`) with batch statistics, then
    /// `max(z, slope · z)`: returns (output, mean, biased variance).
    fn batch_norm_act(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        slope: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
    /// `max(x, slope · x)` element-wise (an activation without BatchNorm before it).
    fn act_rows(x: FloatTensor<Self>, slope: f32) -> FloatTensor<Self>;
    /// The gated linear unit `a ⊙ σ(b)` of the halves `[a, b]` of every row: `[rows, 2c]` →
    /// `[rows, c]`.
    fn glu_rows(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// A convolution on rows: `x` the `[batch · h · w, c_in]` rows of the images `windows`
    /// slide over, `weight` burn's `[c_out, c_in, k, k]`, `bias` `[c_out]`; returns the
    /// `[batch · windows, c_out]` output rows.
    fn conv_rows(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        windows: Windows,
    ) -> FloatTensor<Self>;
    /// A transposed convolution on rows: `x` the `[batch · windows, c_in]` rows of the small
    /// image, `weight` burn's `[c_in, c_out, k, k]`, `bias` `[c_out]`, `windows` sliding over
    /// the output; returns its `[batch · h · w, c_out]` rows.
    fn deconv_rows(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        windows: Windows,
    ) -> FloatTensor<Self>;
}

fn f32_slice<'a>(tensor: &'a FlexTensor, op: &str) -> &'a [f32] {
    assert_eq!(tensor.dtype(), DType::F32, "{op}: the CPU path is f32 only");
    tensor.as_slice::<f32>().expect("contiguous f32")
}

fn flex(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

impl RowOps for Flex {
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

    fn act_rows(x: FlexTensor, slope: f32) -> FlexTensor {
        let x = x.to_contiguous();
        let shape = x.layout().shape().to_vec();
        flex(norm::act(f32_slice(&x, "act_rows"), slope), shape)
    }

    fn glu_rows(x: FlexTensor) -> FlexTensor {
        let x = x.to_contiguous();
        let [rows, width] = glu_shape(&x);
        flex(
            gate::forward(f32_slice(&x, "glu_rows"), width),
            vec![rows, width / 2],
        )
    }

    fn conv_rows(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, w: Windows) -> FlexTensor {
        let conv = Layer::conv(&weight, &w);
        let (x, bias) = (x.to_contiguous(), bias.to_contiguous());
        let y = conv_forward(
            f32_slice(&x, "conv_rows"),
            &conv.kernels,
            f32_slice(&bias, "conv_rows"),
            &w,
        );
        let rows = y.len() / conv.c_out;
        flex(y, vec![rows, conv.c_out])
    }

    fn deconv_rows(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, w: Windows) -> FlexTensor {
        let deconv = Layer::deconv(&weight, &w);
        let (x, bias) = (x.to_contiguous(), bias.to_contiguous());
        let y = blocks::deconv_forward(
            f32_slice(&x, "deconv_rows"),
            &deconv.kernels,
            Some(f32_slice(&bias, "deconv_rows")),
            &w,
        );
        let rows = y.len() / deconv.c_out;
        flex(y, vec![rows, deconv.c_out])
    }
}

/// A (transposed) convolution's weights in window order and its channel counts.
#[derive(Debug, Clone)]
struct Layer {
    /// `[c_out, k · k · c_in]` (convolution) or `[c_in, k · k · c_out]` (transposed).
    kernels: Vec<f32>,
    c_in: usize,
    c_out: usize,
    windows: Windows,
}

impl Layer {
    /// A convolution's, from burn's `[c_out, c_in, k, k]` weight.
    fn conv(weight: &FlexTensor, windows: &Windows) -> Self {
        let weight = weight.to_contiguous();
        let dims = weight.layout().shape().to_vec();
        let (c_out, c_in, k) = (dims[0], dims[1], dims[2]);
        assert_eq!(
            (c_in, k, dims[3]),
            (windows.channels, windows.kernel, windows.kernel),
            "conv_rows: weight shape does not match its windows"
        );
        Self {
            kernels: layers::kernels_to_windows(f32_slice(&weight, "conv_rows"), c_out, c_in, k),
            c_in,
            c_out,
            windows: *windows,
        }
    }

    /// A transposed convolution's, from burn's `[c_in, c_out, k, k]` weight.
    fn deconv(weight: &FlexTensor, windows: &Windows) -> Self {
        let weight = weight.to_contiguous();
        let dims = weight.layout().shape().to_vec();
        let (c_in, c_out, k) = (dims[0], dims[1], dims[2]);
        assert_eq!(
            (c_out, k, dims[3]),
            (windows.channels, windows.kernel, windows.kernel),
            "deconv_rows: weight shape does not match its windows"
        );
        Self {
            kernels: layers::kernels_to_windows(f32_slice(&weight, "deconv_rows"), c_in, c_out, k),
            c_in,
            c_out,
            windows: *windows,
        }
    }

    /// The gradient of burn's weight from one in window order.
    fn weight_grad(&self, in_window_order: &[f32], conv: bool) -> FlexTensor {
        let k = self.windows.kernel;
        let (a, b) = if conv {
            (self.c_out, self.c_in)
        } else {
            (self.c_in, self.c_out)
        };
        flex(
            layers::kernels_from_windows(in_window_order, a, b, k),
            vec![a, b, k, k],
        )
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

#[derive(Debug)]
struct ActBackward;

impl<B: Backend<FloatTensorPrimitive = FlexTensor> + RowOps> Backward<B, 1> for ActBackward {
    /// The output (its sign gives the derivative) and the slope.
    type State = (FlexTensor, f32);

    fn backward(self, ops: Ops<(FlexTensor, f32), 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = grads.consume::<B>(&ops.node).to_contiguous();
        let (y, slope) = ops.state;
        if let Some(node) = node_x {
            let dx = norm::act_backward(
                f32_slice(&dy, "act_rows backward"),
                f32_slice(&y, "act_rows backward"),
                slope,
            );
            grads.register::<B>(node.id, flex(dx, y.layout().shape().to_vec()));
        }
    }
}

/// `[rows, width]` of a GLU's input (an even width).
fn glu_shape(x: &FlexTensor) -> [usize; 2] {
    let shape = x.layout().shape();
    assert!(
        shape.len() == 2 && shape[1].is_multiple_of(2),
        "glu_rows: [rows, 2c] input, found {shape:?}"
    );
    [shape[0], shape[1]]
}

#[derive(Debug)]
struct GluBackward;

impl<B: Backend<FloatTensorPrimitive = FlexTensor> + RowOps> Backward<B, 1> for GluBackward {
    /// The input.
    type State = FlexTensor;

    fn backward(self, ops: Ops<FlexTensor, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = grads.consume::<B>(&ops.node).to_contiguous();
        let x = ops.state;
        if let Some(node) = node_x {
            let [rows, width] = glu_shape(&x);
            let dx = gate::backward(
                f32_slice(&dy, "glu_rows backward"),
                f32_slice(&x, "glu_rows backward"),
                width,
            );
            grads.register::<B>(node.id, flex(dx, vec![rows, width]));
        }
    }
}

/// A convolution's forward pass on rows: stride 1 read in place ([`direct`]), larger strides
/// gathered class by class ([`blocks`]).
fn conv_forward(x: &[f32], kernels: &[f32], bias: &[f32], windows: &Windows) -> Vec<f32> {
    if windows.stride == 1 {
        direct::forward(x, kernels, Some(bias), windows)
    } else {
        blocks::conv_forward(x, kernels, Some(bias), windows)
    }
}

/// What a convolution's backward pass reads: its input (when the weight is tracked) and the
/// kernels.
#[derive(Debug, Clone)]
struct ConvState {
    layer: Layer,
    /// The input rows, kept only when the weight is tracked (its gradient reads them).
    x: Option<FlexTensor>,
}

#[derive(Debug)]
struct ConvBackward;

impl<B: Backend<FloatTensorPrimitive = FlexTensor> + RowOps> Backward<B, 3> for ConvBackward {
    type State = ConvState;

    fn backward(self, ops: Ops<ConvState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let dy = grads.consume::<B>(&ops.node).to_contiguous();
        let dy = f32_slice(&dy, "conv_rows backward");
        let ConvState { layer, x } = ops.state;
        let x = x.as_ref().map(|x| f32_slice(x, "conv_rows backward"));
        let w = &layer.windows;
        if let Some(node) = node_bias {
            let db = layers::bias_grad(dy, layer.c_out);
            grads.register::<B>(node.id, flex(db, vec![layer.c_out]));
        }
        let x = x.filter(|_| node_weight.is_some());
        let (dx, dk) = if w.stride == 1 {
            (
                node_x
                    .is_some()
                    .then(|| direct::input_grad(dy, &layer.kernels, w)),
                x.map(|x| direct::kernel_grad(dy, x, w)),
            )
        } else {
            blocks::conv_backward(dy, x, &layer.kernels, w, node_x.is_some())
        };
        if let (Some(node), Some(dk)) = (node_weight, dk) {
            grads.register::<B>(node.id, layer.weight_grad(&dk, true));
        }
        if let (Some(node), Some(dx)) = (node_x, dx) {
            let rows = dx.len() / layer.c_in;
            grads.register::<B>(node.id, flex(dx, vec![rows, layer.c_in]));
        }
    }
}

/// What a transposed convolution's backward pass reads: its input (when the weight is
/// tracked: the kernels' gradient reads it) and the kernels.
#[derive(Debug, Clone)]
struct DeconvState {
    layer: Layer,
    x: Option<FlexTensor>,
}

#[derive(Debug)]
struct DeconvBackward;

impl<B: Backend<FloatTensorPrimitive = FlexTensor> + RowOps> Backward<B, 3> for DeconvBackward {
    type State = DeconvState;

    fn backward(self, ops: Ops<DeconvState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let dy = grads.consume::<B>(&ops.node).to_contiguous();
        let dy = f32_slice(&dy, "deconv_rows backward");
        let DeconvState { layer, x } = ops.state;
        if let Some(node) = node_bias {
            let db = layers::bias_grad(dy, layer.c_out);
            grads.register::<B>(node.id, flex(db, vec![layer.c_out]));
        }
        let x = x.as_ref().map(|x| f32_slice(x, "deconv_rows backward"));
        let (dx, dk) = blocks::deconv_backward(
            dy,
            x.filter(|_| node_weight.is_some()),
            &layer.kernels,
            &layer.windows,
            node_x.is_some(),
        );
        if let (Some(node), Some(dk)) = (node_weight, dk) {
            grads.register::<B>(node.id, layer.weight_grad(&dk, false));
        }
        if let (Some(node), Some(dx)) = (node_x, dx) {
            let rows = dx.len() / layer.c_in;
            grads.register::<B>(node.id, flex(dx, vec![rows, layer.c_in]));
        }
    }
}

impl<B, C> RowOps for Autodiff<B, C>
where
    B: Backend<FloatTensorPrimitive = FlexTensor> + RowOps,
    C: CheckpointStrategy,
{
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

    fn act_rows(x: FloatTensor<Self>, slope: f32) -> FloatTensor<Self> {
        let (x, node_x) = x.into_parts();
        let y = B::act_rows(x, slope);
        match ActBackward
            .prepare::<C>([node_x])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((y.clone(), slope), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn glu_rows(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, node_x) = x.into_parts();
        let x = x.to_contiguous();
        let y = B::glu_rows(x.clone());
        match GluBackward
            .prepare::<C>([node_x])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(x, y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn conv_rows(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        windows: Windows,
    ) -> FloatTensor<Self> {
        // The input is kept only for the weight's gradient.
        let keep_x = weight.is_tracked();
        let (x, node_x) = x.into_parts();
        let (weight, node_weight) = weight.into_parts();
        let (bias, node_bias) = bias.into_parts();
        let layer = Layer::conv(&weight, &windows);
        let (x, bias) = (x.to_contiguous(), bias.to_contiguous());
        let y = conv_forward(
            f32_slice(&x, "conv_rows"),
            &layer.kernels,
            f32_slice(&bias, "conv_rows"),
            &windows,
        );
        let rows = y.len() / layer.c_out;
        let y = flex(y, vec![rows, layer.c_out]);
        match ConvBackward
            .prepare::<C>([node_x, node_weight, node_bias])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let x = keep_x.then_some(x);
                prep.finish(ConvState { layer, x }, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn deconv_rows(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        windows: Windows,
    ) -> FloatTensor<Self> {
        // The input is kept only for the weight's gradient.
        let keep_x = weight.is_tracked();
        let (x, node_x) = x.into_parts();
        let (weight, node_weight) = weight.into_parts();
        let (bias, node_bias) = bias.into_parts();
        let layer = Layer::deconv(&weight, &windows);
        let (x, bias) = (x.to_contiguous(), bias.to_contiguous());
        let y = blocks::deconv_forward(
            f32_slice(&x, "deconv_rows"),
            &layer.kernels,
            Some(f32_slice(&bias, "deconv_rows")),
            &windows,
        );
        let rows = y.len() / layer.c_out;
        let y = flex(y, vec![rows, layer.c_out]);
        match DeconvBackward
            .prepare::<C>([node_x, node_weight, node_bias])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let x = keep_x.then_some(x);
                prep.finish(DeconvState { layer, x }, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }
}
