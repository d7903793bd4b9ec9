//! Stride-1 convolutions on channels-last rows without gathering windows.
//!
//! In a zero-padded `hp × wp` image in this layout, the `k` taps of one kernel row across all
//! `c` channels are `k · c` consecutive floats, and one pixel to the right is `c` floats on. So
//! for kernel row `di` the windows of every output pixel are the overlapping rows of a strided
//! view of the image itself (row stride `c`), and the convolution is `k` matrix products per
//! image, one per kernel row, read in place. The output is counted across the padded width
//! (the `k − 1` extra pixels of each line are computed and dropped), which keeps the view's
//! stride uniform. `im2col` copies every pixel `k²` times: on LAPGAN's 5 × 5 and StackGAN's
//! 3 × 3 same-size convolutions, moving those copies cost more than the products.
//!
//! The input gradient is the same convolution of the output gradient with the kernels flipped
//! and transposed; the kernel gradient sums each image's products over fixed groups of images,
//! added in group order, so it does not depend on how rayon splits the work.

use rayon::prelude::*;

use super::product::{View, add_product, set_product};
use crate::model::conv::Windows;

/// Images whose kernel gradients one task sums (a constant: the sum's order is fixed).
const IMAGES_PER_TASK: usize = 4;

/// The geometry of one padded image.
#[derive(Debug, Clone, Copy)]
struct Padded {
    /// Padded width.
    wp: usize,
    /// Floats of the padded image plus the tail the last windows read past its end.
    len: usize,
    /// Output pixels counted across the padded width: `out_height · wp`.
    ext_rows: usize,
}

impl Padded {
    fn new(w: &Windows) -> Self {
        assert_eq!(w.stride, 1, "direct convolutions are stride 1");
        let (hp, wp) = (w.height + 2 * w.padding, w.width + 2 * w.padding);
        Self {
            wp,
            len: (hp * wp + w.kernel - 1) * w.channels,
            ext_rows: w.out_height * wp,
        }
    }
}

/// Copies one `h × w × c` image into `buf`, zero-padded.
fn pad_into(buf: &mut [f32], image: &[f32], w: &Windows, p: &Padded) {
    let (c, line) = (w.channels, w.width * w.channels);
    buf.fill(0.0);
    for (y, src) in image.chunks_exact(line).enumerate() {
        buf[((y + w.padding) * p.wp + w.padding) * c..][..line].copy_from_slice(src);
    }
}

/// The view of kernel row `di`'s windows over a padded image: `ext_rows × k · c`.
fn windows_of_row<'a>(buf: &'a [f32], di: usize, w: &Windows, p: &Padded) -> View<'a> {
    let c = w.channels;
    View::strided(&buf[di * p.wp * c..], p.ext_rows, w.kernel * c, c, 1)
}

/// `ext` (`[ext_rows, c_out]`) = the convolution of one padded image with `kernels`
/// (`[c_out, k · k · c]`, window order).
fn image_product(ext: &mut [f32], buf: &[f32], kernels: &[f32], w: &Windows, p: &Padded) {
    let kc = w.kernel * w.channels;
    let c_out = kernels.len() / w.window_len();
    for di in 0..w.kernel {
        let a = windows_of_row(buf, di, w, p);
        let b = View::strided(&kernels[di * kc..], kc, c_out, 1, w.kernel * kc);
        if di == 0 {
            set_product(ext, a, b);
        } else {
            add_product(ext, a, b);
        }
    }
}

/// A stride-1 convolution's forward pass: `x` the `[batch · h · w, c]` rows of the images
/// `windows` slide over, `kernels` `[c_out, k · k · c]` in window order. Returns the
/// `[batch · windows, c_out]` output rows.
pub fn forward(x: &[f32], kernels: &[f32], bias: Option<&[f32]>, w: &Windows) -> Vec<f32> {
    let p = Padded::new(w);
    let c_out = kernels.len() / w.window_len();
    let image_len = w.height * w.width * w.channels;
    let batch = x.len() / image_len;
    let (line, out_len) = (w.out_width * c_out, w.per_image() * c_out);
    let mut y = vec![0f32; batch * out_len];
    y.par_chunks_mut(out_len)
        .zip(x.par_chunks(image_len))
        .for_each_init(
            || (vec![0f32; p.len], vec![0f32; p.ext_rows * c_out]),
            |(buf, ext), (out, image)| {
                pad_into(buf, image, w, &p);
                image_product(ext, buf, kernels, w, &p);
                for (oy, out_line) in out.chunks_exact_mut(line).enumerate() {
                    out_line.copy_from_slice(&ext[oy * p.wp * c_out..][..line]);
                    if let Some(bias) = bias {
                        for pixel in out_line.chunks_exact_mut(c_out) {
                            for (v, b) in pixel.iter_mut().zip(bias) {
                                *v += b;
                            }
                        }
                    }
                }
            },
        );
    y
}

/// `[c_out, k, k, c_in]` → `[c_in, k, k, c_out]` with the taps reversed: the kernels whose
/// stride-1 convolution is the adjoint of theirs.
fn flipped(kernels: &[f32], c_in: usize, c_out: usize, k: usize) -> Vec<f32> {
    let kk = k * k;
    let mut out = vec![0f32; kernels.len()];
    for (co, taps) in kernels.chunks_exact(kk * c_in).enumerate() {
        for (t, tap) in taps.chunks_exact(c_in).enumerate() {
            for (ci, &v) in tap.iter().enumerate() {
                out[(ci * kk + kk - 1 - t) * c_out + co] = v;
            }
        }
    }
    out
}

/// A stride-1 convolution's input gradient: `dy` `[batch · windows, c_out]` convolved with the
/// flipped, transposed kernels over its padding by `k − 1 − padding`: `[batch · h · w, c_in]`.
pub fn input_grad(dy: &[f32], kernels: &[f32], w: &Windows) -> Vec<f32> {
    let c_out = kernels.len() / w.window_len();
    assert!(w.padding < w.kernel, "padding below the kernel's side");
    let back = Windows::new(
        c_out,
        [w.out_height, w.out_width],
        w.kernel,
        1,
        w.kernel - 1 - w.padding,
    );
    assert_eq!(
        [back.out_height, back.out_width],
        [w.height, w.width],
        "the adjoint covers the input"
    );
    forward(
        dy,
        &flipped(kernels, w.channels, c_out, w.kernel),
        None,
        &back,
    )
}

/// A stride-1 convolution's kernel gradient in window order, `[c_out, k · k · c]`: for each
/// kernel row, `dyᵀ ×` that row's windows, summed over the images.
pub fn kernel_grad(dy: &[f32], x: &[f32], w: &Windows) -> Vec<f32> {
    let p = Padded::new(w);
    let (k, kc) = (w.kernel, w.kernel * w.channels);
    let image_len = w.height * w.width * w.channels;
    let batch = x.len() / image_len;
    let c_out = dy.len() / (batch * w.per_image());
    let (line, out_len) = (w.out_width * c_out, w.per_image() * c_out);
    let tasks = batch.div_ceil(IMAGES_PER_TASK);
    let parts: Vec<Vec<f32>> = (0..tasks)
        .into_par_iter()
        .map(|t| {
            let mut buf = vec![0f32; p.len];
            // The dropped pixels of each line stay zero: they add nothing.
            let mut dy_ext = vec![0f32; p.ext_rows * c_out];
            let mut acc = vec![0f32; k * c_out * kc]; // kernel row by kernel row
            for i in t * IMAGES_PER_TASK..((t + 1) * IMAGES_PER_TASK).min(batch) {
                pad_into(&mut buf, &x[i * image_len..][..image_len], w, &p);
                for (oy, src) in dy[i * out_len..][..out_len].chunks_exact(line).enumerate() {
                    dy_ext[oy * p.wp * c_out..][..line].copy_from_slice(src);
                }
                let a = View::rows(&dy_ext, p.ext_rows, c_out).t();
                for (di, acc) in acc.chunks_exact_mut(c_out * kc).enumerate() {
                    add_product(acc, a, windows_of_row(&buf, di, w, &p));
                }
            }
            acc
        })
        .collect();
    let mut total = vec![0f32; k * c_out * kc];
    for part in parts {
        for (s, v) in total.iter_mut().zip(part) {
            *s += v;
        }
    }
    let mut out = vec![0f32; total.len()];
    for (di, rows) in total.chunks_exact(c_out * kc).enumerate() {
        for (co, row) in rows.chunks_exact(kc).enumerate() {
            out[(co * k + di) * kc..][..kc].copy_from_slice(row);
        }
    }
    out
}
