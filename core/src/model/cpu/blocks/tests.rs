//! The gathers against schoolbook sums over the taps inside the image.

use rand::{Rng, SeedableRng};

use super::*;

/// `(image, tap) → input coordinate` of window `o`, or `None` in the padding.
fn at(o: usize, t: usize, side: usize, w: &Windows) -> Option<usize> {
    (o * w.stride + t)
        .checked_sub(w.padding)
        .filter(|&i| i < side)
}

/// Calls `f(image pixel, window, tap)` for every tap of every window inside the image.
fn each_tap(w: &Windows, batch: usize, mut f: impl FnMut(usize, usize, usize)) {
    let k = w.kernel;
    for b in 0..batch {
        for oy in 0..w.out_height {
            for ox in 0..w.out_width {
                for ky in 0..k {
                    for kx in 0..k {
                        if let (Some(iy), Some(ix)) =
                            (at(oy, ky, w.height, w), at(ox, kx, w.width, w))
                        {
                            f(
                                (b * w.height + iy) * w.width + ix,
                                (b * w.out_height + oy) * w.out_width + ox,
                                ky * k + kx,
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Schoolbook `rows[window, r] = Σ image[pixel, c] · kernels[r, tap, c]`.
fn windows_of(image: &[f32], kernels: &[f32], w: &Windows, batch: usize) -> Vec<f32> {
    let (c, kk) = (w.channels, w.kernel * w.kernel);
    let r = kernels.len() / (kk * c);
    let mut out = vec![0f32; batch * w.per_image() * r];
    each_tap(w, batch, |p, o, t| {
        for j in 0..r {
            for i in 0..c {
                out[o * r + j] += image[p * c + i] * kernels[(j * kk + t) * c + i];
            }
        }
    });
    out
}

/// Schoolbook adjoint: `image[pixel, c] = Σ rows[window, r] · kernels[r, tap, c]`.
fn pixels_of(rows: &[f32], kernels: &[f32], w: &Windows, batch: usize) -> Vec<f32> {
    let (c, kk) = (w.channels, w.kernel * w.kernel);
    let r = kernels.len() / (kk * c);
    let mut out = vec![0f32; batch * w.height * w.width * c];
    each_tap(w, batch, |p, o, t| {
        for j in 0..r {
            for i in 0..c {
                out[p * c + i] += rows[o * r + j] * kernels[(j * kk + t) * c + i];
            }
        }
    });
    out
}

/// Schoolbook kernel gradient: `Σ rows[window, r] · image[pixel, c]` at `[r, tap, c]`.
fn kernels_of(rows: &[f32], image: &[f32], r: usize, w: &Windows, batch: usize) -> Vec<f32> {
    let (c, kk) = (w.channels, w.kernel * w.kernel);
    let mut out = vec![0f32; r * kk * c];
    each_tap(w, batch, |p, o, t| {
        for j in 0..r {
            for i in 0..c {
                out[(j * kk + t) * c + i] += rows[o * r + j] * image[p * c + i];
            }
        }
    });
    out
}

fn plus_bias(mut rows: Vec<f32>, bias: &[f32]) -> Vec<f32> {
    for row in rows.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
    rows
}

fn close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
            "{what}: at {i} {g} vs {w}"
        );
    }
}

/// On random layers (strides 1 to 3, padding up to the kernel's side less one so some
/// windows read a single corner tap, strides past the kernel so some pixels are read by
/// no window, images of 1 to 12 channels, batches whose classes span several tasks), every
/// pass equals the schoolbook sum over the taps inside the image.
#[test]
fn gathers_match_the_schoolbook_sums() {
    for case in 0..40 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(case);
        let kernel = rng.random_range(1..6);
        let stride = rng.random_range(1..4);
        let padding = rng.random_range(0..kernel);
        let (h, wd) = (rng.random_range(kernel..21), rng.random_range(kernel..21));
        // Both sides of PIXEL_GATHER_FROM: the pixels' gather and the whole-batch scatter.
        let (c, r) = (rng.random_range(1..13), rng.random_range(1..7));
        let batch = rng.random_range(1..9);
        let w = Windows::new(c, [h, wd], kernel, stride, padding);
        let mut values =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-1.0..1.0)).collect() };
        let kernels = values(r * w.window_len());
        let (bias_r, bias_c) = (values(r), values(c));
        let image = values(batch * h * wd * c);
        let rows = values(batch * w.per_image() * r);
        let what = format!("c {c} r {r} k{kernel} s{stride} p{padding} {h}×{wd} batch {batch}");
        // The schoolbook sums each pass must equal.
        let windows = windows_of(&image, &kernels, &w, batch);
        let pixels = pixels_of(&rows, &kernels, &w, batch);
        let grad = kernels_of(&rows, &image, r, &w, batch);
        let (conv_dx, conv_dk) = conv_backward(&rows, Some(&image), &kernels, &w, true);
        let (deconv_dx, deconv_dk) = deconv_backward(&image, Some(&rows), &kernels, &w, true);
        let (none, dk_alone) = deconv_backward(&image, Some(&rows), &kernels, &w, false);
        assert!(none.is_none(), "no input gradient asked");
        let checks = [
            (
                "conv",
                conv_forward(&image, &kernels, Some(&bias_r), &w),
                plus_bias(windows.clone(), &bias_r),
            ),
            ("conv dx", conv_dx.unwrap(), pixels.clone()),
            ("conv dk", conv_dk.unwrap(), grad.clone()),
            (
                "deconv",
                deconv_forward(&rows, &kernels, Some(&bias_c), &w),
                plus_bias(pixels, &bias_c),
            ),
            ("deconv dx", deconv_dx.unwrap(), windows),
            ("deconv dk", deconv_dk.unwrap(), grad.clone()),
            ("deconv dk alone", dk_alone.unwrap(), grad),
        ];
        for (pass, got, want) in checks {
            close(&got, &want, &format!("{pass} {what}"));
        }
    }
}
