//! BatchNorm over the rows of a `[rows, channels]` matrix (channels-last activations, or
//! BatchNorm1d's `[batch, features]`) fused with the activation after it, forward and backward,
//! over all cores. One pass reads the statistics, one writes the output; the backward pass reads
//! its two sums in one pass and writes the input's gradient in another. burn's generic
//! `batch_norm_train` swaps and reshapes the input, then runs about ten element-wise operations,
//! each a full pass over memory on one core.
//!
//! The activation is `max(z, slope · z)` for `0 ≤ slope ≤ 1`: ReLU at 0, LeakyReLU(0.2) at 0.2,
//! none at 1. Its derivative is read off the output's sign, so the pre-activation is not kept.

use rayon::prelude::*;

/// Rows one task of a pass works on: enough to amortise the task, few enough to spread
/// over both cores even for a small batch.
const ROWS_PER_TASK: usize = 256;

/// Per-channel sums of what `f(rows, accumulator)` adds for a block of rows (`rows` a range of
/// row indices), in f64 across blocks (f32 within a block of [`ROWS_PER_TASK`] rows). The
/// blocks' partial sums are added in block order, so the result does not depend on how the
/// thread pool split the work: training stays bit-exact from run to run, as exact resume needs.
pub(super) fn column_sums(
    rows: usize,
    c: usize,
    f: impl Fn(std::ops::Range<usize>, &mut [f32]) + Sync,
) -> Vec<f64> {
    let tasks = rows.div_ceil(ROWS_PER_TASK);
    let parts: Vec<Vec<f32>> = (0..tasks)
        .into_par_iter()
        .map(|t| {
            let mut acc = vec![0f32; c];
            f(
                t * ROWS_PER_TASK..((t + 1) * ROWS_PER_TASK).min(rows),
                &mut acc,
            );
            acc
        })
        .collect();
    let mut total = vec![0f64; c];
    for part in parts {
        for (t, p) in total.iter_mut().zip(part) {
            *t += f64::from(p);
        }
    }
    total
}

/// Per-channel mean and biased variance of `x` (`[rows, c]`), as burn's `batch_norm_train`.
pub fn statistics(x: &[f32], c: usize) -> (Vec<f32>, Vec<f32>) {
    let rows = x.len() / c;
    let n = rows as f64;
    let mean: Vec<f32> = column_sums(rows, c, |block, acc| {
        for row in x[block.start * c..block.end * c].chunks_exact(c) {
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v;
            }
        }
    })
    .into_iter()
    .map(|s| (s / n) as f32)
    .collect();
    let variance = column_sums(rows, c, |block, acc| {
        for row in x[block.start * c..block.end * c].chunks_exact(c) {
            for ((a, &v), &m) in acc.iter_mut().zip(row).zip(&mean) {
                *a += (v - m) * (v - m);
            }
        }
    })
    .into_iter()
    .map(|s| (s / n) as f32)
    .collect();
    (mean, variance)
}

/// `1 / sqrt(variance + epsilon)` per channel.
pub fn inverse_std(variance: &[f32], epsilon: f64) -> Vec<f32> {
    variance
        .iter()
        .map(|&v| (1.0 / (f64::from(v) + epsilon).sqrt()) as f32)
        .collect()
}

/// Values one task of an element-wise pass works on.
const VALUES_PER_TASK: usize = 1 << 14;

/// The activation alone, `max(z, slope · z)`, over all cores.
pub fn act(x: &[f32], slope: f32) -> Vec<f32> {
    let mut y = vec![0f32; x.len()];
    y.par_chunks_mut(VALUES_PER_TASK)
        .zip(x.par_chunks(VALUES_PER_TASK))
        .for_each(|(out, inp)| {
            for (o, &z) in out.iter_mut().zip(inp) {
                *o = z.max(z * slope);
            }
        });
    y
}

/// The activation's backward pass: `dy · act'(z)`, the derivative read off the output's sign.
pub fn act_backward(dy: &[f32], y: &[f32], slope: f32) -> Vec<f32> {
    let grad = act_grad(slope);
    let mut dx = vec![0f32; dy.len()];
    dx.par_chunks_mut(VALUES_PER_TASK)
        .zip(
            dy.par_chunks(VALUES_PER_TASK)
                .zip(y.par_chunks(VALUES_PER_TASK)),
        )
        .for_each(|(out, (dy, y))| {
            for ((o, &d), &v) in out.iter_mut().zip(dy).zip(y) {
                *o = grad(d, v);
            }
        });
    dx
}

/// `g(dy, y) = dy · act'(z)`, with act'(z) = 1 where y > 0, else `slope`. Arithmetic on the
/// comparison, not a branch: the signs are random, a branch would be mispredicted half the
/// time and keeps the loops from being vectorised.
fn act_grad(slope: f32) -> impl Fn(f32, f32) -> f32 + Copy {
    let rise = 1.0 - slope;
    move |v: f32, out: f32| v * (slope + rise * f32::from(u8::from(out > 0.0)))
}

/// `y = act(x · scale + shift)` per channel, `act(z) = max(z, slope · z)`.
pub fn affine_act(x: &[f32], scale: &[f32], shift: &[f32], slope: f32) -> Vec<f32> {
    let c = scale.len();
    let mut y = vec![0f32; x.len()];
    y.par_chunks_mut(ROWS_PER_TASK * c)
        .zip(x.par_chunks(ROWS_PER_TASK * c))
        .for_each(|(out, inp)| {
            for (o_row, i_row) in out.chunks_exact_mut(c).zip(inp.chunks_exact(c)) {
                for (((o, &v), &a), &b) in o_row.iter_mut().zip(i_row).zip(scale).zip(shift) {
                    // max(z, slope · z): a vector max, no branch on the sign.
                    let z = v * a + b;
                    *o = z.max(z * slope);
                }
            }
        });
    y
}

/// BatchNorm in training (batch statistics) then the activation: returns (y, mean, biased
/// variance).
pub fn forward(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    epsilon: f64,
    slope: f32,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let c = gamma.len();
    let (mean, variance) = statistics(x, c);
    let rstd = inverse_std(&variance, epsilon);
    let scale: Vec<f32> = gamma.iter().zip(&rstd).map(|(g, r)| g * r).collect();
    let shift: Vec<f32> = beta
        .iter()
        .zip(&mean)
        .zip(&scale)
        .map(|((b, m), s)| b - m * s)
        .collect();
    (affine_act(x, &scale, &shift, slope), mean, variance)
}

/// Gradients of [`forward`] for x, gamma and beta, from its input `x`, output `y`, statistics
/// and the output's gradient `dy`.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    x: &[f32],
    y: &[f32],
    gamma: &[f32],
    mean: &[f32],
    variance: &[f32],
    epsilon: f64,
    slope: f32,
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let c = gamma.len();
    let rows = x.len() / c;
    let rstd = inverse_std(variance, epsilon);
    // g = dy · act'(z), with act'(z) = 1 where y > 0, else slope.
    let grad = act_grad(slope);
    // Σ g and Σ g · (x − μ) per channel (times rstd after the sum), each row in three simple
    // loops that vectorise.
    let sums = column_sums(rows, 2 * c, |block, acc| {
        let (beta_acc, gamma_acc) = acc.split_at_mut(c);
        let mut g = vec![0f32; c];
        let span = block.start * c..block.end * c;
        let values = dy[span.clone()]
            .chunks_exact(c)
            .zip(y[span.clone()].chunks_exact(c))
            .zip(x[span].chunks_exact(c));
        for ((dy_row, y_row), x_row) in values {
            for ((g, &d), &out) in g.iter_mut().zip(dy_row).zip(y_row) {
                *g = grad(d, out);
            }
            for (b, &g) in beta_acc.iter_mut().zip(&g) {
                *b += g;
            }
            for ((acc, &g), (&v, &m)) in gamma_acc.iter_mut().zip(&g).zip(x_row.iter().zip(mean)) {
                *acc += g * (v - m);
            }
        }
    });
    let beta_grad: Vec<f32> = sums[..c].iter().map(|&s| s as f32).collect();
    let gamma_grad: Vec<f32> = sums[c..]
        .iter()
        .zip(&rstd)
        .map(|(&s, &r)| (s * f64::from(r)) as f32)
        .collect();
    let n = rows as f32;
    // dx = γ·rstd·(g − mean(g) − x̂·mean(g·x̂)), x̂ = (x − μ)·rstd, written per channel as
    // dx = a·g + b·(x − μ) + k.
    let (mut a, mut b, mut k) = (vec![0f32; c], vec![0f32; c], vec![0f32; c]);
    for i in 0..c {
        let scale = gamma[i] * rstd[i];
        let (mean_g, mean_gx) = (beta_grad[i] / n, gamma_grad[i] / n);
        a[i] = scale;
        b[i] = -scale * mean_gx * rstd[i];
        k[i] = -scale * mean_g;
    }
    let mut x_grad = vec![0f32; x.len()];
    x_grad
        .par_chunks_mut(ROWS_PER_TASK * c)
        .zip(dy.par_chunks(ROWS_PER_TASK * c))
        .zip(y.par_chunks(ROWS_PER_TASK * c))
        .zip(x.par_chunks(ROWS_PER_TASK * c))
        .for_each(|(((out, dy), y), x)| {
            let rows = out
                .chunks_exact_mut(c)
                .zip(dy.chunks_exact(c))
                .zip(y.chunks_exact(c).zip(x.chunks_exact(c)));
            for ((o_row, dy_row), (y_row, x_row)) in rows {
                let values = dy_row.iter().zip(y_row).zip(x_row);
                let coefs = a.iter().zip(&b).zip(k.iter().zip(mean));
                for ((o, ((&d, &out), &v)), ((&a, &b), (&k, &m))) in
                    o_row.iter_mut().zip(values).zip(coefs)
                {
                    *o = a * grad(d, out) + b * (v - m) + k;
                }
            }
        });
    (x_grad, gamma_grad, beta_grad)
}
