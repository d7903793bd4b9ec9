//! What the convolutions on channels-last rows share: the kernels' reordering and the bias
//! gradient, and the two scatters that stay whole-batch — a transposed convolution's forward
//! pass and a convolution's input gradient when the image has fewer than 8 channels (GRAN's
//! last layer, 40 → 1): one product with thousands of rows, then `col2im`. Everything else is
//! in [`super::blocks`] (strided) and [`super::direct`] (stride 1).
//!
//! Weights keep burn's layout (`[c_out, c_in, k, k]` for a convolution, `[c_in, c_out, k, k]`
//! for a transposed one) and are reordered here to the windows' `(ky, kx, c)` order, a few
//! thousand floats per call; their gradients go back to burn's layout.

use super::norm::column_sums;
use super::product::{View, product};
use super::windows::col2im;
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
