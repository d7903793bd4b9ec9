//! Convolutions and transposed convolutions on channels-last rows, each one kernel forward and
//! one backward: the window gathering, the matrix product and the bias in one pass over the
//! data, with only the gradients the graph asks for (a discriminator frozen in the generator's
//! step computes no weight gradient; an image batch read from data, no input gradient).
//!
//! Weights keep burn's layout (`[c_out, c_in, k, k]` for a convolution, `[c_in, c_out, k, k]`
//! for a transposed one) and are reordered here to the windows' `(ky, kx, c)` order, a few
//! thousand floats per call; their gradients go back to burn's layout.

use super::norm::column_sums;
use super::product::{View, add_product, product};
use super::windows::{col2im, im2col};
use crate::model::conv::Windows;

/// `[a, b, k, k]` → `[a, k, k, b]` (burn's kernel layout to the windows' order).
pub fn kernels_to_windows(w: &[f32], a: usize, b: usize, k: usize) -> Vec<f32> {
    let kk = k * k;
    assert_eq!(w.len(), a * b * kk, "kernel size");
    let mut out = vec![0f32; w.len()];
    for (i, block) in w.chunks_exact(b * kk).enumerate() {
        let to = &mut out[i * b * kk..][..b * kk];
        for (j, taps) in block.chunks_exact(kk).enumerate() {
            for (t, &v) in taps.iter().enumerate() {
                to[t * b + j] = v;
            }
        }
    }
    out
}

/// `[a, k, k, b]` → `[a, b, k, k]`, the inverse of [`kernels_to_windows`].
pub fn kernels_from_windows(w: &[f32], a: usize, b: usize, k: usize) -> Vec<f32> {
    let kk = k * k;
    assert_eq!(w.len(), a * b * kk, "kernel size");
    let mut out = vec![0f32; w.len()];
    for (i, block) in w.chunks_exact(b * kk).enumerate() {
        let to = &mut out[i * b * kk..][..b * kk];
        for (t, taps) in block.chunks_exact(b).enumerate() {
            for (j, &v) in taps.iter().enumerate() {
                to[j * kk + t] = v;
            }
        }
    }
    out
}

/// Per-column sums of a row-major `[rows, c]` matrix (a bias's gradient), in a fixed order.
pub fn bias_grad(dy: &[f32], c: usize) -> Vec<f32> {
    column_sums(dy.len() / c, c, |block, acc| {
        for row in dy[block.start * c..block.end * c].chunks_exact(c) {
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v;
            }
        }
    })
    .into_iter()
    .map(|s| s as f32)
    .collect()
}

/// A convolution's forward pass: `x` the `[batch · h · w, c_in]` rows of the images `windows`
/// slide over, `kernels` `[c_out, k · k · c_in]` in window order. Returns the
/// `[batch · windows, c_out]` output rows and the gathered windows (what the weight gradient
/// reads).
pub fn conv_forward(
    x: &[f32],
    kernels: &[f32],
    bias: Option<&[f32]>,
    windows: &Windows,
) -> (Vec<f32>, Vec<f32>) {
    let k_len = windows.window_len();
    let c_out = kernels.len() / k_len;
    let cols = im2col(x, windows);
    let rows = cols.len() / k_len;
    let (a, b) = (
        View::rows(&cols, rows, k_len),
        View::rows(kernels, c_out, k_len).t(),
    );
    let y = match bias {
        Some(bias) => {
            let mut y = bias.repeat(rows);
            add_product(&mut y, a, b);
            y
        }
        None => product(a, b),
    };
    (y, cols)
}

/// A convolution's input gradient: `dy` `[batch · windows, c_out]` back through the kernels and
/// added where each window was read: `[batch · h · w, c_in]`.
pub fn conv_input_grad(dy: &[f32], kernels: &[f32], windows: &Windows) -> Vec<f32> {
    let k_len = windows.window_len();
    let c_out = kernels.len() / k_len;
    let rows = dy.len() / c_out;
    let d_cols = product(
        View::rows(dy, rows, c_out),
        View::rows(kernels, c_out, k_len),
    );
    col2im(&d_cols, windows, None)
}

/// A convolution's kernel gradient in window order, `[c_out, k · k · c_in]`: `dyᵀ × cols`.
pub fn conv_kernel_grad(dy: &[f32], cols: &[f32], windows: &Windows) -> Vec<f32> {
    let k_len = windows.window_len();
    let rows = cols.len() / k_len;
    let c_out = dy.len() / rows;
    product(
        View::rows(dy, rows, c_out).t(),
        View::rows(cols, rows, k_len),
    )
}

/// A transposed convolution's forward pass: `x` the `[batch · windows, c_in]` rows of the small
/// image, `kernels` `[c_in, k · k · c_out]` in window order, `windows` sliding over the output.
/// Returns the `[batch · h · w, c_out]` rows of the output.
pub fn deconv_forward(
    x: &[f32],
    kernels: &[f32],
    bias: Option<&[f32]>,
    windows: &Windows,
) -> Vec<f32> {
    let k_len = windows.window_len();
    let c_in = kernels.len() / k_len;
    let rows = x.len() / c_in;
    let cols = product(View::rows(x, rows, c_in), View::rows(kernels, c_in, k_len));
    col2im(&cols, windows, bias)
}

/// A transposed convolution's gradients from its output's gradient `dy`: the input's (when
/// `x_grad`) and the kernels' in window order (when given the input `x` they read).
pub fn deconv_backward(
    dy: &[f32],
    x: Option<&[f32]>,
    kernels: &[f32],
    windows: &Windows,
    x_grad: bool,
) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
    let k_len = windows.window_len();
    let c_in = kernels.len() / k_len;
    let d_cols = im2col(dy, windows);
    let rows = d_cols.len() / k_len;
    let d_cols = View::rows(&d_cols, rows, k_len);
    let dx = x_grad.then(|| product(d_cols, View::rows(kernels, c_in, k_len).t()));
    let dk = x.map(|x| product(View::rows(x, rows, c_in).t(), d_cols));
    (dx, dk)
}
