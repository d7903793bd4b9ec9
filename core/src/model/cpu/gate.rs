//! The gated linear unit on rows, `a ⊙ σ(b)` for the two halves `[a, b]` of every row
//! (StackGAN-v2's generators), forward and backward in one parallel pass each: as burn
//! operations it was a strided narrow copied twice, a sigmoid, a product and their backward
//! passes, each one pass over the data and most of them on one core.

use rayon::prelude::*;

/// Rows per parallel task.
const ROWS_PER_TASK: usize = 512;

fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

/// `[rows, 2c] → [rows, c]`: `a ⊙ σ(b)` row by row.
pub fn forward(x: &[f32], width: usize) -> Vec<f32> {
    let c = width / 2;
    let mut y = vec![0f32; x.len() / 2];
    y.par_chunks_mut(ROWS_PER_TASK * c)
        .zip(x.par_chunks(ROWS_PER_TASK * width))
        .for_each(|(out, x)| {
            for (out, row) in out.chunks_exact_mut(c).zip(x.chunks_exact(width)) {
                let (a, b) = row.split_at(c);
                for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
                    *o = a * sigmoid(b);
                }
            }
        });
    y
}

/// The input's gradient from the output's `dy` (`[rows, c]`): `dy · σ(b)` for `a`,
/// `dy · a · σ(b) · (1 − σ(b))` for `b`.
pub fn backward(dy: &[f32], x: &[f32], width: usize) -> Vec<f32> {
    let c = width / 2;
    let mut dx = vec![0f32; x.len()];
    dx.par_chunks_mut(ROWS_PER_TASK * width)
        .zip(
            x.par_chunks(ROWS_PER_TASK * width)
                .zip(dy.par_chunks(ROWS_PER_TASK * c)),
        )
        .for_each(|(dx, (x, dy))| {
            for ((dx, row), dy) in dx
                .chunks_exact_mut(width)
                .zip(x.chunks_exact(width))
                .zip(dy.chunks_exact(c))
            {
                let (a, b) = row.split_at(c);
                let (da, db) = dx.split_at_mut(c);
                for ((((da, db), &a), &b), &d) in da.iter_mut().zip(db).zip(a).zip(b).zip(dy) {
                    let s = sigmoid(b);
                    *da = d * s;
                    *db = d * a * s * (1.0 - s);
                }
            }
        });
    dx
}
