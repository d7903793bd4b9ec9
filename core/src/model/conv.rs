//! Convolutions as one matrix product on the CPU: `im2col` gathers every sliding window of an
//! image batch into the rows of a matrix, `col2im` is its adjoint (it scatters rows back, summing
//! overlaps). A strided convolution is `im2col` then a product with the kernel matrix; a transposed
//! convolution is the product then `col2im`; and each one's backward pass is the other.
//!
//! Why: burn's `flex` backend runs a convolution as one small matrix product per image and tile, and
//! its backward passes through burn's generic decompositions (the weight gradient as a convolution
//! whose kernel is the output gradient). On GRAN's layers at batch 100 that spends most of a
//! training step in matrix products a few dozen columns wide. Gathering the whole batch first gives
//! the matrix product thousands of rows and both cores. `easel bench` measures the difference.
//!
//! Only the CPU backend takes this path; other devices keep burn's own convolution kernels.
//! The layers keep burn's `Conv2d` / `ConvTranspose2d` as their parameters, so checkpoints do not
//! depend on which path computed them.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use rayon::prelude::*;

/// Marks a window position that reads the zero padding.
const OUTSIDE: u32 = u32::MAX;

/// The sliding windows of a 2-D convolution over `[batch, channels, height, width]` images: a
/// square `kernel`, the same `stride` and zero `padding` on both axes, `out_height × out_width`
/// windows per image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// Channels of the image the windows slide over.
    pub channels: usize,
    /// Height of that image.
    pub height: usize,
    /// Width of that image.
    pub width: usize,
    /// Side of a window.
    pub kernel: usize,
    /// Step between windows.
    pub stride: usize,
    /// Zero padding on every side.
    pub padding: usize,
    /// Windows down the image.
    pub out_height: usize,
    /// Windows across the image.
    pub out_width: usize,
}

impl Windows {
    /// The windows of a convolution with `kernel`, `stride` and `padding` over a
    /// `channels × height × width` image.
    pub fn new(
        channels: usize,
        [height, width]: [usize; 2],
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Self {
        let out = |side: usize| (side + 2 * padding - kernel) / stride + 1;
        Self {
            channels,
            height,
            width,
            kernel,
            stride,
            padding,
            out_height: out(height),
            out_width: out(width),
        }
    }

    /// Values in one window (a row of the column matrix): `channels · kernel²`.
    pub fn window_len(&self) -> usize {
        self.channels * self.kernel * self.kernel
    }

    /// Windows in one image.
    pub fn per_image(&self) -> usize {
        self.out_height * self.out_width
    }

    fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// For each window position `o` along an axis (`windows` of them) and kernel offset `k`, at
    /// `o · kernel + k`, the image coordinate it reads, or [`OUTSIDE`] in the padding.
    fn sources(&self, windows: usize, side: usize) -> Vec<u32> {
        (0..windows)
            .flat_map(|o| (0..self.kernel).map(move |k| o * self.stride + k))
            .map(|i| {
                i.checked_sub(self.padding)
                    .filter(|&i| i < side)
                    .map_or(OUTSIDE, |i| i as u32)
            })
            .collect()
    }
}

/// The two data movements behind the CPU convolutions, as a backend extension so that autodiff
/// can differentiate them (each is the other's adjoint).
#[backend_extension(Flex, Autodiff)]
pub trait WindowOps: Backend {
    /// `[batch, C, H, W] → [batch · windows, C · k²]`: each row one window, zero outside the image.
    fn im2col(images: FloatTensor<Self>, windows: Windows) -> FloatTensor<Self>;
    /// `[batch · windows, C · k²] → [batch, C, H, W]`: each row added back where it was read.
    fn col2im(columns: FloatTensor<Self>, windows: Windows) -> FloatTensor<Self>;
}

fn f32_contiguous(tensor: FlexTensor, op: &str) -> FlexTensor {
    assert_eq!(
        tensor.dtype(),
        DType::F32,
        "{op}: the CPU convolution path is f32 only"
    );
    tensor.to_contiguous()
}

impl WindowOps for Flex {
    fn im2col(images: FlexTensor, w: Windows) -> FlexTensor {
        let images = f32_contiguous(images, "im2col");
        let dims = images.layout().shape().to_vec();
        assert_eq!(
            dims[1..],
            [w.channels, w.height, w.width],
            "im2col: image shape does not match its windows"
        );
        let batch = dims[0];
        let src = images.as_slice::<f32>().expect("contiguous f32");
        let (row_len, k) = (w.window_len(), w.kernel);
        let mut out = vec![0f32; batch * w.per_image() * row_len];
        let (ys, xs) = (
            w.sources(w.out_height, w.height),
            w.sources(w.out_width, w.width),
        );
        out.par_chunks_mut(w.per_image() * row_len)
            .zip(src.par_chunks(w.image_len()))
            .for_each(|(rows, image)| {
                for (c, plane) in image.chunks_exact(w.height * w.width).enumerate() {
                    for ky in 0..k {
                        for oy in 0..w.out_height {
                            let iy = ys[oy * k + ky];
                            if iy == OUTSIDE {
                                continue;
                            }
                            let line = &plane[iy as usize * w.width..][..w.width];
                            for ox in 0..w.out_width {
                                let at = (oy * w.out_width + ox) * row_len + (c * k + ky) * k;
                                let row = &mut rows[at..at + k];
                                for (value, &ix) in row.iter_mut().zip(&xs[ox * k..ox * k + k]) {
                                    if ix != OUTSIDE {
                                        *value = line[ix as usize];
                                    }
                                }
                            }
                        }
                    }
                }
            });
        FlexTensor::from_data(TensorData::new(out, [batch * w.per_image(), row_len]))
    }

    fn col2im(columns: FlexTensor, w: Windows) -> FlexTensor {
        let columns = f32_contiguous(columns, "col2im");
        let dims = columns.layout().shape().to_vec();
        assert_eq!(dims[1], w.window_len(), "col2im: row length");
        assert_eq!(dims[0] % w.per_image(), 0, "col2im: row count");
        let batch = dims[0] / w.per_image();
        let src = columns.as_slice::<f32>().expect("contiguous f32");
        let (row_len, k) = (w.window_len(), w.kernel);
        let mut out = vec![0f32; batch * w.image_len()];
        let (ys, xs) = (
            w.sources(w.out_height, w.height),
            w.sources(w.out_width, w.width),
        );
        out.par_chunks_mut(w.image_len())
            .zip(src.par_chunks(w.per_image() * row_len))
            .for_each(|(image, rows)| {
                for (c, plane) in image.chunks_exact_mut(w.height * w.width).enumerate() {
                    for ky in 0..k {
                        for oy in 0..w.out_height {
                            let iy = ys[oy * k + ky];
                            if iy == OUTSIDE {
                                continue;
                            }
                            let line = &mut plane[iy as usize * w.width..][..w.width];
                            for ox in 0..w.out_width {
                                let at = (oy * w.out_width + ox) * row_len + (c * k + ky) * k;
                                let row = &rows[at..at + k];
                                for (&value, &ix) in row.iter().zip(&xs[ox * k..ox * k + k]) {
                                    if ix != OUTSIDE {
                                        line[ix as usize] += value;
                                    }
                                }
                            }
                        }
                    }
                }
            });
        FlexTensor::from_data(TensorData::new(out, [batch, w.channels, w.height, w.width]))
    }
}

#[derive(Debug)]
struct Im2ColBackward;

impl<B: Backend + WindowOps> Backward<B, 1> for Im2ColBackward {
    type State = Windows;

    fn backward(self, ops: Ops<Windows, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let windows = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::col2im(grad, windows)
        });
    }
}

#[derive(Debug)]
struct Col2ImBackward;

impl<B: Backend + WindowOps> Backward<B, 1> for Col2ImBackward {
    type State = Windows;

    fn backward(self, ops: Ops<Windows, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let windows = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::im2col(grad, windows)
        });
    }
}

impl<B: Backend + WindowOps, C: CheckpointStrategy> WindowOps for Autodiff<B, C> {
    fn im2col(images: FloatTensor<Self>, windows: Windows) -> FloatTensor<Self> {
        let (primitive, node) = images.into_parts();
        match Im2ColBackward
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(windows, B::im2col(primitive, windows)),
            OpsKind::UnTracked(prep) => prep.finish(B::im2col(primitive, windows)),
        }
    }

    fn col2im(columns: FloatTensor<Self>, windows: Windows) -> FloatTensor<Self> {
        let (primitive, node) = columns.into_parts();
        match Col2ImBackward
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(windows, B::col2im(primitive, windows)),
            OpsKind::UnTracked(prep) => prep.finish(B::col2im(primitive, windows)),
        }
    }
}

/// Whether `device` computes on the CPU backend, where the window path is used.
pub fn uses_windows(device: &Device) -> bool {
    device.clone().without_autodiff() == Device::flex()
}

fn im2col(images: Tensor<4>, windows: Windows) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as WindowOps>::im2col(
        images.into_dispatch(),
        windows,
    ))
}

fn col2im(columns: Tensor<2>, windows: Windows) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as WindowOps>::col2im(
        columns.into_dispatch(),
        windows,
    ))
}

/// `conv.forward(x)` for a strided, square-kernel, symmetric-padding convolution, as one matrix
/// product on the CPU (burn's kernel for stride 1 and on other backends).
///
/// # Shapes
/// - `x`: `[batch, c_in, h, w]`
/// - output: `[batch, c_out, h_out, w_out]`
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let padding = match conv.padding {
        PaddingConfig2d::Explicit(top, left, bottom, right)
            if top == left && top == bottom && top == right =>
        {
            top
        }
        _ => return conv.forward(x),
    };
    let [c_out, c_in, kernel, kernel_w] = conv.weight.dims();
    if !uses_windows(&x.device())
        || kernel != kernel_w
        || conv.stride[0] != conv.stride[1]
        || conv.dilation != [1, 1]
        || conv.groups != 1
        // Stride 1: im2col copies every pixel k² times; burn's direct kernel measured 2.5×
        // faster there (LAPGAN's 5 × 5 same-size convolutions at 28 × 28: 153 vs 61 img/s).
        || conv.stride[0] == 1
    {
        return conv.forward(x);
    }
    let [batch, _, h, w] = x.dims();
    let windows = Windows::new(c_in, [h, w], kernel, conv.stride[0], padding);
    let kernels = conv.weight.val().reshape([c_out, windows.window_len()]); // [c_out, c_in·k²]
    let mut out = im2col(x, windows).matmul(kernels.transpose()); // [batch·windows, c_out]
    if let Some(bias) = &conv.bias {
        out = out + bias.val().unsqueeze_dim(0);
    }
    out.reshape([batch, windows.per_image(), c_out]) // [batch, h_out·w_out, c_out]
        .swap_dims(1, 2)
        .reshape([batch, c_out, windows.out_height, windows.out_width])
}

/// `deconv.forward(x)` for a square-kernel transposed convolution, as one matrix product then
/// `col2im` on the CPU (burn's kernel elsewhere).
///
/// # Shapes
/// - `x`: `[batch, c_in, h, w]`
/// - output: `[batch, c_out, (h-1)·s - 2p + k + p_out, …]`
pub fn conv_transpose2d(deconv: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let [c_in, c_out, kernel, kernel_w] = deconv.weight.dims();
    let [stride, stride_w] = deconv.stride;
    let [padding, padding_w] = deconv.padding;
    if !uses_windows(&x.device())
        || kernel != kernel_w
        || stride != stride_w
        || padding != padding_w
        || deconv.padding_out[0] != deconv.padding_out[1]
        || deconv.dilation != [1, 1]
        || deconv.groups != 1
    {
        return deconv.forward(x);
    }
    let [batch, _, h, w] = x.dims();
    let grow = |side: usize| (side - 1) * stride + kernel + deconv.padding_out[0] - 2 * padding;
    let windows = Windows::new(c_out, [grow(h), grow(w)], kernel, stride, padding);
    if windows.out_height != h || windows.out_width != w {
        return deconv.forward(x);
    }
    let rows = x
        .swap_dims(1, 2)
        .swap_dims(2, 3) // [batch, h, w, c_in]
        .reshape([batch * h * w, c_in]);
    let kernels = deconv.weight.val().reshape([c_in, windows.window_len()]); // [c_in, c_out·k²]
    let mut out = col2im(rows.matmul(kernels), windows); // [batch, c_out, h', w']
    if let Some(bias) = &deconv.bias {
        out = out + bias.val().reshape([1, c_out, 1, 1]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
    use burn::tensor::Distribution;

    use crate::model::testing::assert_close;

    /// The window path and burn's kernels agree on outputs and on the gradients of the input,
    /// the weight and the bias, for odd and even kernels and an odd side.
    #[test]
    fn matches_burns_convolutions_and_their_gradients() {
        let device = Device::flex().autodiff();
        for (kernel, padding, side) in [(5, 2, 14), (4, 1, 14), (5, 2, 7), (3, 1, 9)] {
            let conv = Conv2dConfig::new([3, 4], [kernel, kernel])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(
                    padding, padding, padding, padding,
                ))
                .init(&device);
            let x = Tensor::<4>::random([2, 3, side, side], Distribution::Default, &device)
                .require_grad();
            let fast = conv2d(&conv, x.clone());
            let slow = conv.forward(x.clone());
            let target = Tensor::random(slow.dims(), Distribution::Default, &device);
            let g_fast = (fast.clone() * target.clone()).sum().backward();
            let g_slow = (slow.clone() * target).sum().backward();
            let what = format!("conv k{kernel} p{padding} side {side}");
            assert_close(fast, slow, &what);
            assert_close(
                x.grad(&g_fast).unwrap(),
                x.grad(&g_slow).unwrap(),
                &format!("{what} dx"),
            );
            assert_close(
                conv.weight.grad(&g_fast).unwrap(),
                conv.weight.grad(&g_slow).unwrap(),
                &format!("{what} dW"),
            );
            let bias = conv.bias.as_ref().unwrap();
            let (b_fast, b_slow) = (bias.grad(&g_fast).unwrap(), bias.grad(&g_slow).unwrap());
            assert_close(
                b_fast.reshape([1, 1, 1, 4]),
                b_slow.reshape([1, 1, 1, 4]),
                &what,
            );
        }
        for (kernel, padding, padding_out, side) in [(5, 2, 1, 7), (4, 1, 0, 7), (3, 1, 1, 4)] {
            let deconv = ConvTranspose2dConfig::new([4, 3], [kernel, kernel])
                .with_stride([2, 2])
                .with_padding([padding, padding])
                .with_padding_out([padding_out, padding_out])
                .init(&device);
            let x = Tensor::<4>::random([2, 4, side, side], Distribution::Default, &device)
                .require_grad();
            let fast = conv_transpose2d(&deconv, x.clone());
            let slow = deconv.forward(x.clone());
            let target = Tensor::random(slow.dims(), Distribution::Default, &device);
            let g_fast = (fast.clone() * target.clone()).sum().backward();
            let g_slow = (slow.clone() * target).sum().backward();
            let what = format!("deconv k{kernel} p{padding} side {side}");
            assert_close(fast, slow, &what);
            assert_close(
                x.grad(&g_fast).unwrap(),
                x.grad(&g_slow).unwrap(),
                &format!("{what} dx"),
            );
            assert_close(
                deconv.weight.grad(&g_fast).unwrap(),
                deconv.weight.grad(&g_slow).unwrap(),
                &format!("{what} dW"),
            );
        }
    }

    /// `col2im` is the adjoint of `im2col`: ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩.
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        let device = Device::flex();
        let windows = Windows::new(2, [9, 8], 5, 2, 2);
        let x = Tensor::<4>::random([3, 2, 9, 8], Distribution::Default, &device);
        let y = Tensor::<2>::random(
            [3 * windows.per_image(), windows.window_len()],
            Distribution::Default,
            &device,
        );
        let left = (im2col(x.clone(), windows) * y.clone())
            .sum()
            .into_scalar::<f32>();
        let right = (x * col2im(y, windows)).sum().into_scalar::<f32>();
        assert!(
            (left - right).abs() < 1e-3 * left.abs().max(1.0),
            "{left} vs {right}"
        );
    }
}
