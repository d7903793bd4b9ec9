//! The noise source of training: standard normals from a seeded ChaCha8 stream whose position is
//! saved in checkpoints, so a resumed run draws exactly the numbers it would have drawn.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A resumable stream of N(0, 1) samples.
#[derive(Debug, Clone)]
pub struct NoiseStream {
    rng: ChaCha8Rng,
}

impl NoiseStream {
    /// A stream for `seed`, distinct from the other streams derived from it.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Self { rng }
    }

    /// The position, to store in a checkpoint.
    pub fn word_pos(&self) -> u128 {
        self.rng.get_word_pos()
    }

    /// Moves to a stored position.
    pub fn set_word_pos(&mut self, pos: u128) {
        self.rng.set_word_pos(pos);
    }

    /// `count` standard normals (Box–Muller).
    pub fn normals(&mut self, count: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(count + 1);
        while out.len() < count {
            let u1: f64 = 1.0 - self.rng.random::<f64>(); // (0, 1]
            let u2: f64 = self.rng.random::<f64>();
            let r = (-2.0 * u1.ln()).sqrt();
            let theta = std::f64::consts::TAU * u2;
            out.push((r * theta.cos()) as f32);
            out.push((r * theta.sin()) as f32);
        }
        out.truncate(count);
        out
    }

    /// `count` uniforms in [0, 1).
    pub fn uniforms(&mut self, count: usize) -> Vec<f32> {
        (0..count)
            .map(|_| (self.rng.random::<f64>() as f32).min(1.0 - f32::EPSILON))
            .collect()
    }

    /// A permutation of `0..n` (Fisher–Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.rng.random_range(0..=i);
            order.swap(i, j);
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_exactly_and_looks_normal() {
        let mut a = NoiseStream::new(5, 1);
        let _ = a.normals(101);
        let pos = a.word_pos();
        let next = a.normals(10);
        let mut b = NoiseStream::new(5, 1);
        b.set_word_pos(pos);
        assert_eq!(b.normals(10), next);
        let many = NoiseStream::new(1, 1).normals(20_000);
        let mean = many.iter().sum::<f32>() / many.len() as f32;
        let var = many.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / many.len() as f32;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "mean {mean} var {var}"
        );
        assert_ne!(
            NoiseStream::new(1, 1).normals(4),
            NoiseStream::new(1, 2).normals(4)
        );
    }
}
