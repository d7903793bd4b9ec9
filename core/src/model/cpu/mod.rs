//! The CPU training path of the DCGAN-style stacks (GRAN's f and g, its discriminator, DCGAN):
//! activations channels-last, as `[batch · h · w, channels]` rows, from the first layer to the
//! last, so a convolution is `im2col` then one matrix product whose output is already the next
//! layer's input (no NHWC ↔ NCHW copy around it), a transposed convolution is one matrix product
//! then `col2im`, and BatchNorm with the activation after it is one fused pass over all cores.
//!
//! The three layers (convolution, transposed convolution, BatchNorm + activation) are a burn
//! backend extension, each one kernel forward and one backward written by hand ([`layers`],
//! [`norm`]): the windows gathered, the product computed by the `gemm` crate straight into the
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
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::nn::BatchNorm;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use burn::tensor::{DType, TensorData};

use super::conv::Windows;

pub mod direct;
pub mod gate;
pub mod layers;
pub mod norm;
pub mod product;
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
        let (y, _) = conv_forward(
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
        let y = layers::deconv_forward(
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
/// through gathered windows ([`layers`]). Returns the output rows and, for a strided one, the
/// windows (what its weight gradient reads).
fn conv_forward(
    x: &[f32],
    kernels: &[f32],
    bias: &[f32],
    windows: &Windows,
) -> (Vec<f32>, Option<Vec<f32>>) {
    if windows.stride == 1 {
        (direct::forward(x, kernels, Some(bias), windows), None)
    } else {
        let (y, cols) = layers::conv_forward(x, kernels, Some(bias), windows);
        (y, Some(cols))
    }
}

/// What a convolution's weight gradient reads, kept only when the weight is tracked.
#[derive(Debug, Clone)]
enum ConvInput {
    /// The gathered windows (strided convolutions).
    Windows(Vec<f32>),
    /// The input rows (stride 1: the windows are read from them in place).
    Rows(FlexTensor),
}

/// What a convolution's backward pass reads: its input (when the weight is tracked) and the
/// kernels.
#[derive(Debug, Clone)]
struct ConvState {
    layer: Layer,
    input: Option<ConvInput>,
}

#[derive(Debug)]
struct ConvBackward;

impl<B: Backend<FloatTensorPrimitive = FlexTensor> + RowOps> Backward<B, 3> for ConvBackward {
    type State = ConvState;

    fn backward(self, ops: Ops<ConvState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let dy = grads.consume::<B>(&ops.node).to_contiguous();
        let dy = f32_slice(&dy, "conv_rows backward");
        let ConvState { layer, input } = ops.state;
        let w = &layer.windows;
        if let Some(node) = node_bias {
            let db = layers::bias_grad(dy, layer.c_out);
            grads.register::<B>(node.id, flex(db, vec![layer.c_out]));
        }
        if let Some(node) = node_weight {
            let dk = match input.as_ref().expect("input kept for a tracked weight") {
                ConvInput::Windows(cols) => layers::conv_kernel_grad(dy, cols, w),
                ConvInput::Rows(x) => {
                    direct::kernel_grad(dy, f32_slice(x, "conv_rows backward"), w)
                }
            };
            grads.register::<B>(node.id, layer.weight_grad(&dk, true));
        }
        if let Some(node) = node_x {
            let dx = if w.stride == 1 {
                direct::input_grad(dy, &layer.kernels, w)
            } else {
                layers::conv_input_grad(dy, &layer.kernels, w)
            };
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
        let (dx, dk) = layers::deconv_backward(
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
        // The input (or its windows) is kept only for the weight's gradient.
        let keep_input = weight.is_tracked();
        let (x, node_x) = x.into_parts();
        let (weight, node_weight) = weight.into_parts();
        let (bias, node_bias) = bias.into_parts();
        let layer = Layer::conv(&weight, &windows);
        let (x, bias) = (x.to_contiguous(), bias.to_contiguous());
        let (y, cols) = conv_forward(
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
                let input = keep_input.then(|| match cols {
                    Some(cols) => ConvInput::Windows(cols),
                    None => ConvInput::Rows(x),
                });
                prep.finish(ConvState { layer, input }, y)
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
        let y = layers::deconv_forward(
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

/// Whether `device` takes the channels-last path (the CPU backend).
pub fn uses_rows(device: &Device) -> bool {
    super::conv::uses_windows(device)
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
