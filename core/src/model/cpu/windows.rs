//! The data movement of channels-last convolutions: `im2col` gathers every sliding window of a
//! `[batch, h, w, c]` image batch into the rows of a matrix, in (ky, kx, c) order, and `col2im`
//! is its adjoint, adding rows back where they were read. In this layout one kernel row of a
//! window is `k · c` consecutive floats of the image, so both move whole runs with one copy or
//! one vector add instead of testing every value against the padding.
//!
//! Only `col2im` runs in training now (the whole-batch scatter of [`super::layers`], for images
//! of under 8 channels); `im2col` stays as its adjoint's reference in the tests.

use rayon::prelude::*;

use crate::model::conv::Windows;

/// The kernel columns `kx0..kx1` of a window starting at image column `x0` (may be negative)
/// that fall inside an image `width` wide.
fn inside(x0: isize, kernel: usize, width: usize) -> (usize, usize) {
    let first = (-x0).max(0) as usize;
    let end = (width as isize - x0).clamp(0, kernel as isize) as usize;
    (first.min(end), end)
}

/// Calls `f(row offset, image offset, len)` for every run of a window's row that reads the
/// image (`len` floats at `image offset` of one image ↔ at `row offset` of window `(oy, ox)`'s
/// row).
fn runs(w: &Windows, oy: usize, ox: usize, mut f: impl FnMut(usize, usize, usize)) {
    let (k, c) = (w.kernel, w.channels);
    let x0 = (ox * w.stride) as isize - w.padding as isize;
    let (kx0, kx1) = inside(x0, k, w.width);
    if kx0 == kx1 {
        return;
    }
    let len = (kx1 - kx0) * c;
    for ky in 0..k {
        let iy = (oy * w.stride + ky) as isize - w.padding as isize;
        if iy < 0 || iy >= w.height as isize {
            continue;
        }
        let from = (iy as usize * w.width) as isize + x0 + kx0 as isize;
        f((ky * k + kx0) * c, from as usize * c, len);
    }
}

/// Whether window `(oy, ox)` lies wholly inside the image (reads no padding).
#[cfg(test)]
fn whole(w: &Windows, oy: usize, ox: usize) -> bool {
    let inside = |o: usize, side: usize| {
        o * w.stride >= w.padding && o * w.stride + w.kernel <= side + w.padding
    };
    inside(oy, w.height) && inside(ox, w.width)
}

/// `[batch, h, w, c]` (as `batch` images of `h · w · c` floats) → `[batch · windows, k · k · c]`,
/// zero where a window reads the padding. Each value is written once (rows of windows that read
/// no padding are not zeroed first).
#[cfg(test)]
pub fn im2col(images: &[f32], w: &Windows) -> Vec<f32> {
    use std::mem::MaybeUninit;

    let image_len = w.height * w.width * w.channels;
    let row_len = w.window_len();
    let batch = images.len() / image_len;
    let len = batch * w.per_image() * row_len;
    let mut out = Vec::<f32>::with_capacity(len);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(w.per_image() * row_len)
        .zip(images.par_chunks(image_len))
        .for_each(|(rows, image)| {
            for oy in 0..w.out_height {
                for ox in 0..w.out_width {
                    let row = &mut rows[(oy * w.out_width + ox) * row_len..][..row_len];
                    if !whole(w, oy, ox) {
                        row.fill(MaybeUninit::new(0.0));
                    }
                    runs(w, oy, ox, |at, from, len| {
                        let (to, run) = (&mut row[at..at + len], &image[from..from + len]);
                        // SAFETY: `to` and `run` are both `len` floats long (the slicing checks)
                        // and do not overlap (one is the output, one the input): one memcpy.
                        unsafe {
                            std::ptr::copy_nonoverlapping(
                                run.as_ptr(),
                                to.as_mut_ptr().cast::<f32>(),
                                len,
                            );
                        }
                    });
                }
            }
        });
    // SAFETY: every row was written: wholly by its runs when the window reads no padding,
    // else zeroed first.
    unsafe { out.set_len(len) };
    out
}

/// `[batch · windows, k · k · c]` → `[batch, h, w, c]`: each row added back where
/// [`im2col`] read it (the adjoint), onto `bias` per channel (or zero).
pub fn col2im(columns: &[f32], w: &Windows, bias: Option<&[f32]>) -> Vec<f32> {
    let image_len = w.height * w.width * w.channels;
    let row_len = w.window_len();
    let batch = columns.len() / (w.per_image() * row_len);
    let mut out = match bias {
        Some(bias) => {
            assert_eq!(bias.len(), w.channels, "col2im: one bias per channel");
            bias.repeat(batch * w.height * w.width)
        }
        None => vec![0f32; batch * image_len],
    };
    out.par_chunks_mut(image_len)
        .zip(columns.par_chunks(w.per_image() * row_len))
        .for_each(|(image, rows)| {
            for oy in 0..w.out_height {
                for ox in 0..w.out_width {
                    let row = &rows[(oy * w.out_width + ox) * row_len..][..row_len];
                    runs(w, oy, ox, |at, from, len| {
                        for (o, &v) in image[from..from + len].iter_mut().zip(&row[at..at + len]) {
                            *o += v;
                        }
                    });
                }
            }
        });
    out
}
