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

/// Per-channel sums of what `f(row, accumulator)` adds for every row, in f64 across tasks (f32
/// within a task of [`ROWS_PER_TASK`] rows). The tasks' partial sums are added in task order, so
/// the result does not depend on how the thread pool split the work: training stays bit-exact
/// from run to run, as exact resume needs.
fn column_sums(rows: usize, c: usize, f: impl Fn(usize, &mut [f32]) + Sync) -> Vec<f64> {
    let tasks = rows.div_ceil(ROWS_PER_TASK);
    let parts: Vec<Vec<f32>> = (0..tasks)
        .into_par_iter()
        .map(|t| {
            let mut acc = vec![0f32; c];
            for r in t * ROWS_PER_TASK..((t + 1) * ROWS_PER_TASK).min(rows) {
                f(r, &mut acc);
            }
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
    let mean: Vec<f32> = column_sums(rows, c, |r, acc| {
        for (a, &v) in acc.iter_mut().zip(&x[r * c..(r + 1) * c]) {
            *a += v;
        }
    })
    .into_iter()
    .map(|s| (s / n) as f32)
    .collect();
    let variance = column_sums(rows, c, |r, acc| {
        for ((a, &v), &m) in acc.iter_mut().zip(&x[r * c..(r + 1) * c]).zip(&mean) {
            *a += (v - m) * (v - m);
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

/// `y = act(x · scale + shift)` per channel, `act(z) = max(z, slope · z)`.
pub fn affine_act(x: &[f32], scale: &[f32], shift: &[f32], slope: f32) -> Vec<f32> {
    let c = scale.len();
    let mut y = vec![0f32; x.len()];
    y.par_chunks_mut(ROWS_PER_TASK * c)
        .zip(x.par_chunks(ROWS_PER_TASK * c))
        .for_each(|(out, inp)| {
            for (o_row, i_row) in out.chunks_exact_mut(c).zip(inp.chunks_exact(c)) {
                for (((o, &v), &a), &b) in o_row.iter_mut().zip(i_row).zip(scale).zip(shift) {
                    let z = v * a + b;
                    *o = if z > 0.0 { z } else { z * slope };
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
    let grad = |v: f32, out: f32| if out > 0.0 { v } else { v * slope };
    let sums = column_sums(rows, 2 * c, |r, acc| {
        let (beta_acc, gamma_acc) = acc.split_at_mut(c);
        let row = r * c..(r + 1) * c;
        let values = dy[row.clone()].iter().zip(&y[row.clone()]).zip(&x[row]);
        let stats = mean.iter().zip(&rstd);
        for (((b, g_acc), ((&d, &out), &v)), (&m, &s)) in
            beta_acc.iter_mut().zip(gamma_acc).zip(values).zip(stats)
        {
            let g = grad(d, out);
            *b += g;
            *g_acc += g * (v - m) * s;
        }
    });
    let beta_grad: Vec<f32> = sums[..c].iter().map(|&s| s as f32).collect();
    let gamma_grad: Vec<f32> = sums[c..].iter().map(|&s| s as f32).collect();
    let n = rows as f32;
    let mean_g: Vec<f32> = beta_grad.iter().map(|s| s / n).collect();
    let mean_gx: Vec<f32> = gamma_grad.iter().map(|s| s / n).collect();
    let scale: Vec<f32> = gamma.iter().zip(&rstd).map(|(g, r)| g * r).collect();
    let mut x_grad = vec![0f32; x.len()];
    x_grad
        .par_chunks_mut(ROWS_PER_TASK * c)
        .enumerate()
        .for_each(|(t, out)| {
            let first = t * ROWS_PER_TASK * c;
            for (j, o) in out.iter_mut().enumerate() {
                let (at, i) = (first + j, j % c);
                let g = grad(dy[at], y[at]);
                let xhat = (x[at] - mean[i]) * rstd[i];
                *o = scale[i] * (g - mean_g[i] - xhat * mean_gx[i]);
            }
        });
    (x_grad, gamma_grad, beta_grad)
}
