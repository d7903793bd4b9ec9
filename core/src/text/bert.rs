//! A BERT encoder (Devlin et al. 2019) for inference, loaded from a Hugging Face
//! `model.safetensors` and `config.json` — here all-MiniLM-L6-v2's six layers of width 384.
//!
//! Post-norm layers, as BERT: `x = LN(x + Attn(x))`, `x = LN(x + W2 gelu(W1 x))`, with exact (erf)
//! GELU. Padding positions are masked out of attention with −∞ before the softmax (a large negative
//! number, so a row never becomes NaN).

use std::path::Path;

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::{gelu, softmax};
use serde::Deserialize;

use crate::error::{Error, Result};

/// The fields of a Hugging Face BERT `config.json` the forward pass needs.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    /// Width of every hidden state.
    pub hidden_size: usize,
    /// Number of transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Longest input the position table covers.
    pub max_position_embeddings: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// LayerNorm's ε.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// The activation; only "gelu" is supported.
    #[serde(default = "default_act")]
    pub hidden_act: String,
}

fn default_eps() -> f64 {
    1e-12
}

fn default_act() -> String {
    "gelu".into()
}

/// A dense layer `y = x Wᵀ + b` with PyTorch's `[out, in]` weight stored transposed.
#[derive(Debug, Clone)]
struct Dense {
    weight: Tensor<2>,
    bias: Tensor<1>,
}

impl Dense {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.weight.clone()) + self.bias.clone().unsqueeze()
    }
}

#[derive(Debug, Clone)]
struct Norm {
    gamma: Tensor<1>,
    beta: Tensor<1>,
    eps: f64,
}

impl Norm {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let mean = x.clone().mean_dim(1);
        let centred = x - mean;
        let var = centred.clone().powi_scalar(2).mean_dim(1);
        centred / (var + self.eps).sqrt() * self.gamma.clone().unsqueeze()
            + self.beta.clone().unsqueeze()
    }
}

#[derive(Debug, Clone)]
struct Layer {
    query: Dense,
    key: Dense,
    value: Dense,
    attention_out: Dense,
    attention_norm: Norm,
    intermediate: Dense,
    output: Dense,
    output_norm: Norm,
}

/// A loaded BERT encoder.
#[derive(Debug, Clone)]
pub struct Bert {
    config: BertConfig,
    word: Tensor<2>,
    position: Tensor<2>,
    token_type: Tensor<2>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
}

/// Reads the named tensors of a safetensors file as f32.
struct Weights<'a> {
    file: safetensors::SafeTensors<'a>,
    prefix: &'static str,
    path: &'a Path,
    device: &'a Device,
}

impl Weights<'_> {
    fn raw(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let view = self
            .file
            .tensor(&format!("{}{name}", self.prefix))
            .map_err(|e| {
                Error::format(
                    self.path,
                    format!("a BERT tensor named {name}"),
                    e.to_string(),
                )
            })?;
        if view.dtype() != safetensors::Dtype::F32 || view.shape() != shape {
            return Err(Error::format(
                self.path,
                format!("{name} as f32 of shape {shape:?}"),
                format!("{:?} of shape {:?}", view.dtype(), view.shape()),
            ));
        }
        Ok(view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    fn matrix(&self, name: &str, rows: usize, cols: usize) -> Result<Tensor<2>> {
        let values = self.raw(name, &[rows, cols])?;
        Ok(Tensor::from_data(
            TensorData::new(values, [rows, cols]),
            self.device,
        ))
    }

    fn vector(&self, name: &str, len: usize) -> Result<Tensor<1>> {
        let values = self.raw(name, &[len])?;
        Ok(Tensor::from_data(
            TensorData::new(values, [len]),
            self.device,
        ))
    }

    fn dense(&self, prefix: &str, inputs: usize, outputs: usize) -> Result<Dense> {
        Ok(Dense {
            weight: self
                .matrix(&format!("{prefix}.weight"), outputs, inputs)?
                .transpose(),
            bias: self.vector(&format!("{prefix}.bias"), outputs)?,
        })
    }

    fn norm(&self, prefix: &str, width: usize, eps: f64) -> Result<Norm> {
        Ok(Norm {
            gamma: self.vector(&format!("{prefix}.weight"), width)?,
            beta: self.vector(&format!("{prefix}.bias"), width)?,
            eps,
        })
    }
}

impl Bert {
    /// Loads `config.json` and `model.safetensors` from `dir`, with tensors named as a Hugging Face
    /// `BertModel` saves them (`embeddings.…`, `encoder.layer.N.…`), optionally under `bert.`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config_path = dir.join("config.json");
        let config_text =
            std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
        let config: BertConfig = serde_json::from_str(&config_text)
            .map_err(|e| Error::format(&config_path, "a BERT config.json", e.to_string()))?;
        if config.hidden_act != "gelu" {
            return Err(Error::format(
                &config_path,
                "hidden_act \"gelu\"",
                config.hidden_act.clone(),
            ));
        }
        if config.num_attention_heads == 0
            || !config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
        {
            return Err(Error::format(
                &config_path,
                "a hidden size divisible by the number of heads",
                format!(
                    "{} and {} heads",
                    config.hidden_size, config.num_attention_heads
                ),
            ));
        }
        let weights_path = dir.join("model.safetensors");
        let bytes = std::fs::read(&weights_path).map_err(|e| Error::io(&weights_path, e))?;
        let file = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| Error::format(&weights_path, "a safetensors file", e.to_string()))?;
        let prefix = if file.names().iter().any(|n| n.starts_with("bert.")) {
            "bert."
        } else {
            ""
        };
        let w = Weights {
            file,
            prefix,
            path: &weights_path,
            device,
        };
        let (h, f, eps) = (
            config.hidden_size,
            config.intermediate_size,
            config.layer_norm_eps,
        );
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                Ok(Layer {
                    query: w.dense(&format!("{p}.attention.self.query"), h, h)?,
                    key: w.dense(&format!("{p}.attention.self.key"), h, h)?,
                    value: w.dense(&format!("{p}.attention.self.value"), h, h)?,
                    attention_out: w.dense(&format!("{p}.attention.output.dense"), h, h)?,
                    attention_norm: w.norm(&format!("{p}.attention.output.LayerNorm"), h, eps)?,
                    intermediate: w.dense(&format!("{p}.intermediate.dense"), h, f)?,
                    output: w.dense(&format!("{p}.output.dense"), f, h)?,
                    output_norm: w.norm(&format!("{p}.output.LayerNorm"), h, eps)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            word: w.matrix("embeddings.word_embeddings.weight", config.vocab_size, h)?,
            position: w.matrix(
                "embeddings.position_embeddings.weight",
                config.max_position_embeddings,
                h,
            )?,
            token_type: w.matrix("embeddings.token_type_embeddings.weight", 2, h)?,
            embedding_norm: w.norm("embeddings.LayerNorm", h, eps)?,
            layers,
            config,
        })
    }

    /// Width of the hidden states (and of the pooled sentence embedding).
    pub fn width(&self) -> usize {
        self.config.hidden_size
    }

    /// Longest token sequence the position table covers.
    pub fn max_len(&self) -> usize {
        self.config.max_position_embeddings
    }

    /// The vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }

    /// Hidden states `[batch, len, width]` of token ids `[batch][len]` (every row the same length,
    /// padded), where `mask[b][t]` says whether position t of row b is a real token.
    pub fn forward(&self, ids: &[Vec<u32>], mask: &[Vec<bool>]) -> Tensor<3> {
        let device = self.word.device();
        let (batch, len, width) = (ids.len(), ids[0].len(), self.config.hidden_size);
        let heads = self.config.num_attention_heads;
        let head = width / heads;
        let flat: Vec<i64> = ids.iter().flatten().map(|&i| i64::from(i)).collect();
        let ids = Tensor::<1, Int>::from_data(TensorData::new(flat, [batch * len]), &device);
        let positions: Vec<i64> = (0..batch).flat_map(|_| 0..len as i64).collect();
        let positions =
            Tensor::<1, Int>::from_data(TensorData::new(positions, [batch * len]), &device);
        let token_type = self.token_type.clone().slice([0..1, 0..width]);
        let mut x = self.word.clone().select(0, ids)
            + self.position.clone().select(0, positions)
            + token_type;
        x = self.embedding_norm.forward(x);

        let bias: Vec<f32> = mask
            .iter()
            .flatten()
            .map(|&real| if real { 0.0 } else { -1e9 })
            .collect();
        let bias = Tensor::<4>::from_data(TensorData::new(bias, [batch, 1, 1, len]), &device);
        let scale = 1.0 / (head as f64).sqrt();
        let split =
            |t: Tensor<2>| -> Tensor<4> { t.reshape([batch, len, heads, head]).swap_dims(1, 2) };
        for layer in &self.layers {
            let q = split(layer.query.forward(x.clone()));
            let k = split(layer.key.forward(x.clone()));
            let v = split(layer.value.forward(x.clone()));
            let scores = q.matmul(k.swap_dims(2, 3)) * scale + bias.clone();
            let context = softmax(scores, 3)
                .matmul(v)
                .swap_dims(1, 2)
                .reshape([batch * len, width]);
            x = layer
                .attention_norm
                .forward(x + layer.attention_out.forward(context));
            let hidden = gelu(layer.intermediate.forward(x.clone()));
            x = layer.output_norm.forward(x + layer.output.forward(hidden));
        }
        x.reshape([batch, len, width])
    }
}
