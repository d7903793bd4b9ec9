//! Which model a run trains, with its configuration: the enum a config file names, one variant
//! per model.

use serde::{Deserialize, Serialize};

use super::gan::{Gan, each_model};
use super::gran::GranConfig;
use super::lapgan::LapganConfig;
use super::stackgan::{StackGanConfig, Version};

/// What a model costs (see [`ModelConfig::estimates`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimates {
    /// The generator's parameters.
    pub generator_parameters: usize,
    /// The discriminator's.
    pub critic_parameters: usize,
    /// FLOPs to draw one image.
    pub draw_flops: super::Flops,
    /// FLOPs per image of one training step.
    pub step_flops: super::Flops,
    /// Bytes to train at the batch asked about, where the model counts them.
    pub training_bytes: Option<u64>,
}

/// The model a run trains (`[model.gran]`, `[model.lapgan]` or `[model.stackgan]` in its config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelConfig {
    /// GRAN (T = 1 is DCGAN).
    Gran(GranConfig),
    /// LAPGAN, a Laplacian pyramid of GANs.
    Lapgan(LapganConfig),
    /// StackGAN-v1 or v2, text to image.
    #[serde(rename = "stackgan")]
    StackGan(StackGanConfig),
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig::Gran(GranConfig::default())
    }
}

impl ModelConfig {
    /// Image side and channels the model works at.
    pub fn image_shape(&self) -> (usize, usize) {
        match self {
            ModelConfig::Gran(g) => (g.image_size, g.channels),
            ModelConfig::Lapgan(l) => (l.image_size, l.channels),
            ModelConfig::StackGan(s) => (s.image_size, s.channels),
        }
    }

    /// The drawing steps the model takes by default: GRAN's T, LAPGAN's levels, StackGAN's
    /// stages or scales.
    pub fn steps(&self) -> usize {
        each_model!(self, ModelConfig, c => c.steps())
    }

    /// Classes the model is conditioned on (0: unconditional).
    pub fn classes(&self) -> usize {
        each_model!(self, ModelConfig, c => c.classes())
    }

    /// Width of the sentence embeddings the model draws from (0: it reads no text).
    pub fn text_dim(&self) -> usize {
        each_model!(self, ModelConfig, c => c.text_dim())
    }

    /// FLOPs of one training step per image.
    pub fn train_step_flops(&self) -> crate::model::Flops {
        each_model!(self, ModelConfig, c => Gan::train_step_flops(c))
    }

    /// What the model costs: parameters (built on the CPU to count them, so not every frame),
    /// FLOPs, and training memory at `batch` where the model counts it.
    pub fn estimates(&self, batch: usize) -> Estimates {
        each_model!(self, ModelConfig, c => {
            let (generator_parameters, critic_parameters) = c.parameter_counts();
            Estimates {
                generator_parameters,
                critic_parameters,
                draw_flops: c.generator_flops(),
                step_flops: c.train_step_flops(),
                training_bytes: Gan::training_memory_bytes(c, batch),
            }
        })
    }

    /// GRAN's config, when the model is GRAN.
    pub fn gran(&self) -> Option<&GranConfig> {
        match self {
            ModelConfig::Gran(g) => Some(g),
            _ => None,
        }
    }

    /// A short name ("GRAN3", "DCGAN").
    pub fn label(&self) -> String {
        match self {
            ModelConfig::Gran(g) if g.steps == 1 => "DCGAN (GRAN1)".into(),
            ModelConfig::Gran(g) => format!("GRAN{}", g.steps),
            ModelConfig::Lapgan(l) if l.classes > 0 => {
                format!("LAPGAN{} (class-conditional)", l.levels)
            }
            ModelConfig::Lapgan(l) => format!("LAPGAN{}", l.levels),
            ModelConfig::StackGan(s) => match (s.version, s.conditional()) {
                (Version::V1, _) => "StackGAN-v1".into(),
                (Version::V2, true) => "StackGAN-v2".into(),
                (Version::V2, false) => "StackGAN-v2 (unconditional)".into(),
            },
        }
    }
}
