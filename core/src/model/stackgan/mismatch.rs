//! The mismatched pairs a matching-aware discriminator learns from: another image's condition in
//! the batch, the nearest condition of another class, or a counterpart over the training set.

use burn::prelude::*;

/// Images of the training set searched for counterparts ([`counterparts`]).
pub const COUNTERPART_POOL: usize = 4096;

/// For each row of `embeddings` (`[n, d]`, one per training image), its counterparts: for
/// each other class among the first `pool` rows (in ascending class order), the row of that
/// class closest to it by cosine (the first of equals); empty where no other class is in the
/// pool. Rows are compared in chunks, so the memory is `chunk × pool` scores.
pub fn counterparts(embeddings: Tensor<2>, classes: &[u32], pool: usize) -> Vec<Vec<u32>> {
    const CHUNK: usize = 1024;
    let [n, _] = embeddings.dims();
    assert_eq!(n, classes.len(), "one class per embedding");
    let norms = embeddings
        .clone()
        .powi_scalar(2)
        .sum_dim(1)
        .sqrt()
        .clamp_min(1e-12);
    let unit = embeddings / norms;
    let pool = pool.min(n);
    let mut in_pool: Vec<u32> = classes[..pool].to_vec();
    in_pool.sort_unstable();
    in_pool.dedup();
    let candidates = unit.clone().narrow(0, 0, pool).transpose();
    let mut out = Vec::with_capacity(n);
    for start in (0..n).step_by(CHUNK) {
        let rows = CHUNK.min(n - start);
        let scores = unit
            .clone()
            .narrow(0, start, rows)
            .matmul(candidates.clone())
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 scores");
        for (r, row) in scores.chunks(pool).enumerate() {
            let own = classes[start + r];
            // The best (row, score) of each class in the pool, by its place in `in_pool`.
            let mut best: Vec<Option<(usize, f32)>> = vec![None; in_pool.len()];
            for (j, &s) in row.iter().enumerate() {
                let k = in_pool.binary_search(&classes[j]).expect("a pool class");
                if best[k].is_none_or(|(_, b)| s > b) {
                    best[k] = Some((j, s));
                }
            }
            out.push(
                in_pool
                    .iter()
                    .zip(best)
                    .filter(|&(&c, _)| c != own)
                    .filter_map(|(_, b)| b.map(|(j, _)| j as u32))
                    .collect(),
            );
        }
    }
    out
}

/// The counterpart of one image that `u` (uniform in `[0, 1)`) picks among its `candidates`
/// (one per other class, from [`counterparts`]), so each batch asks D about a random other
/// class; the image itself where it has none.
pub fn pick_counterpart(candidates: &[u32], image: usize, u: f32) -> usize {
    if candidates.is_empty() {
        return image;
    }
    let k = ((u * candidates.len() as f32) as usize).min(candidates.len() - 1);
    candidates[k] as usize
}

/// For each row of `embeddings` (`[b, d]`, row-major), the row of another class whose embedding
/// is closest to it by cosine; the next row where every row has the same class.
pub fn nearest_other_class(embeddings: &[f32], classes: &[u32]) -> Vec<usize> {
    let b = classes.len();
    let d = embeddings.len() / b.max(1);
    let rows: Vec<&[f32]> = embeddings.chunks(d.max(1)).collect();
    let norms: Vec<f32> = rows
        .iter()
        .map(|r| r.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12))
        .collect();
    (0..b)
        .map(|i| {
            (0..b)
                .filter(|&j| classes[j] != classes[i])
                .map(|j| {
                    let dot: f32 = rows[i].iter().zip(rows[j]).map(|(x, y)| x * y).sum();
                    (j, dot / (norms[i] * norms[j]))
                })
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map_or((i + 1) % b, |(j, _)| j)
        })
        .collect()
}
