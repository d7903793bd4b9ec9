//! A run's configuration (seed, data, model, training schedule) as written in its `config.toml`,
//! and the presets shipped in `assets/presets/`.

use serde::{Deserialize, Serialize};

use crate::backend::{BackendKind, DeviceSpec};
use crate::data::DataSource;
use crate::error::{Error, Result};
pub use crate::model::ModelConfig;

/// The optimisation schedule (Adam for each network, as the paper stresses, with its own rates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Images per batch.
    pub batch_size: usize,
    /// Discriminator learning rate.
    pub lr_d: f64,
    /// Generator learning rate.
    pub lr_g: f64,
    /// Adam β1 for D (DCGAN's 0.5).
    pub beta1_d: f32,
    /// Adam β2 for D.
    pub beta2_d: f32,
    /// Adam β1 for G.
    pub beta1_g: f32,
    /// Adam β2 for G.
    pub beta2_g: f32,
    /// When set to k, both rates decay as lr / (1 + epoch / k).
    pub lr_decay_epochs: Option<f64>,
    /// Stop after this many steps in all (a step is one D update then one G update).
    pub max_steps: Option<u64>,
    /// Stop after this many epochs in all.
    pub epochs: Option<u64>,
    /// Stop after this many minutes of training in this session: steps with their sample grids
    /// and checkpoints (time paused is not counted).
    pub minutes: Option<f64>,
    /// Emit the fixed-z sample grid every this many steps.
    pub sample_every: u64,
    /// Write a checkpoint every this many steps (and always at the end).
    pub checkpoint_every: u64,
    /// Checkpoints kept; older ones are deleted once a newer one is complete.
    pub keep_checkpoints: usize,
    /// Images in the fixed-z sample grid.
    pub sample_count: usize,
    /// Use only the first this many training images.
    pub data_limit: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch_size: 64,
            lr_d: 2e-4,
            lr_g: 2e-4,
            beta1_d: 0.5,
            beta2_d: 0.999,
            beta1_g: 0.5,
            beta2_g: 0.999,
            lr_decay_epochs: None,
            max_steps: None,
            epochs: None,
            minutes: None,
            sample_every: 100,
            checkpoint_every: 500,
            keep_checkpoints: 3,
            sample_count: 64,
            data_limit: None,
        }
    }
}

impl TrainConfig {
    /// Checks every field, naming the first that is wrong and why.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |field: &str, reason: String| Err(Error::config(format!("train.{field}"), reason));
        if !(1..=4096).contains(&self.batch_size) {
            return bad(
                "batch_size",
                format!("expected 1–4096, found {}", self.batch_size),
            );
        }
        for (name, lr) in [("lr_d", self.lr_d), ("lr_g", self.lr_g)] {
            if !(lr.is_finite() && lr > 0.0 && lr < 1.0) {
                return bad(name, format!("expected a rate in (0, 1), found {lr}"));
            }
        }
        for (name, beta) in [
            ("beta1_d", self.beta1_d),
            ("beta2_d", self.beta2_d),
            ("beta1_g", self.beta1_g),
            ("beta2_g", self.beta2_g),
        ] {
            if !(0.0..1.0).contains(&beta) {
                return bad(name, format!("expected a value in [0, 1), found {beta}"));
            }
        }
        if let Some(k) = self.lr_decay_epochs
            && !(k.is_finite() && k > 0.0)
        {
            return bad(
                "lr_decay_epochs",
                format!("expected a positive number of epochs, found {k}"),
            );
        }
        if let Some(m) = self.minutes
            && !(m.is_finite() && m > 0.0)
        {
            return bad(
                "minutes",
                format!("expected a positive duration, found {m}"),
            );
        }
        if self.sample_every == 0 || self.checkpoint_every == 0 {
            return bad("sample_every", "intervals must be at least 1 step".into());
        }
        if self.keep_checkpoints == 0 {
            return bad("keep_checkpoints", "keep at least one checkpoint".into());
        }
        if !(1..=1024).contains(&self.sample_count) {
            return bad(
                "sample_count",
                format!("expected 1–1024, found {}", self.sample_count),
            );
        }
        Ok(())
    }

    /// Learning rates (D, G) after `epoch` whole epochs.
    pub fn learning_rates(&self, epoch: u64) -> (f64, f64) {
        let factor = self
            .lr_decay_epochs
            .map_or(1.0, |k| 1.0 / (1.0 + epoch as f64 / k));
        (self.lr_d * factor, self.lr_g * factor)
    }
}

/// Everything a run needs, as stored in `config.toml`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// The seed initial weights, data order and noise follow from.
    pub seed: u64,
    /// Where to compute (not part of what is learned: a run may resume on another backend).
    pub backend: BackendKind,
    /// Data parallel: the devices each batch is split over, by rows (`["cpu", "cpu"]`,
    /// `["cuda:0", "cuda:1"]`); the first holds the weights and the optimisers, and the first's
    /// backend is `backend`. Empty (the default): one device of `backend`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceSpec>,
    /// The training data.
    pub data: DataSource,
    /// The model.
    pub model: ModelConfig,
    /// The schedule.
    pub train: TrainConfig,
}

impl RunConfig {
    /// Parses TOML, naming `origin` in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let config: RunConfig = toml::from_str(text).map_err(|e| Error::Format {
            path: origin.into(),
            expected:
                "a run config (TOML with seed, [data], [model.gran] or [model.lapgan], [train])"
                    .into(),
            // One line: where, and what (toml's own rendering spans several lines).
            found: match e.span() {
                Some(span) => format!(
                    "line {}: {}",
                    text[..span.start.min(text.len())].matches('\n').count() + 1,
                    e.message().trim()
                ),
                None => e.message().trim().to_string(),
            }
            .replace('\n', " "),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Reads and parses a TOML file.
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// The config as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a RunConfig always serialises to TOML")
    }

    /// The device the weights live on: the first of [`Self::devices`], else `backend`'s.
    pub fn main_device(&self) -> Result<crate::backend::Device> {
        match self.devices.first() {
            Some(d) => d.device(),
            None => self.backend.device(),
        }
    }

    /// Checks model and schedule.
    pub fn validate(&self) -> Result<()> {
        self.validate_devices()?;
        match &self.model {
            ModelConfig::Gran(g) => g.validate()?,
            ModelConfig::Lapgan(l) => l.validate()?,
            ModelConfig::StackGan(s) => {
                s.validate()?;
                let b = self.train.batch_size;
                if s.mode_seeking > 0.0 && (b < 4 || b % 2 == 1) {
                    return Err(Error::config(
                        "train.batch_size",
                        format!(
                            "mode seeking pairs each image with itself: an even batch of 4 or \
                             more, found {b}"
                        ),
                    ));
                }
            }
        }
        self.train.validate()
    }
}

impl RunConfig {
    fn validate_devices(&self) -> Result<()> {
        let Some(first) = self.devices.first() else {
            return Ok(());
        };
        if first.kind != self.backend {
            return Err(Error::config(
                "devices",
                format!(
                    "the first device holds the weights, so its backend is the run's: backend is \
                     {}, the first device {first}",
                    self.backend
                ),
            ));
        }
        if self.devices.len() < 2 {
            return Ok(());
        }
        if let ModelConfig::StackGan(_) = self.model {
            return Err(Error::config(
                "devices",
                "StackGAN's losses pair images within a batch (mismatched captions, mode \
                 seeking), so its batches are not split across devices; train it on one",
            ));
        }
        if self.train.batch_size < self.devices.len() {
            return Err(Error::config(
                "devices",
                format!(
                    "{} devices need a batch of at least {} images, found {}",
                    self.devices.len(),
                    self.devices.len(),
                    self.train.batch_size
                ),
            ));
        }
        Ok(())
    }

    /// Whether a device's batch statistics differ from the whole batch's: BatchNorm on a split
    /// batch normalises each device's share by its own mean and variance.
    pub fn shards_batch_norm(&self) -> bool {
        self.devices.len() > 1
            && match &self.model {
                ModelConfig::Gran(g) => g.batch_norm || g.latent_norm,
                // LAPGAN's networks have no BatchNorm; StackGAN is not split.
                ModelConfig::Lapgan(_) | ModelConfig::StackGan(_) => false,
            }
    }
}

/// A named, documented starting configuration.
#[derive(Debug, Clone)]
pub struct Preset {
    /// The name used on the command line (`gran-fmnist`).
    pub name: &'static str,
    /// The first comment line of the preset file.
    pub description: String,
    /// The parsed config.
    pub config: RunConfig,
}

const PRESET_FILES: [(&str, &str); 13] = [
    (
        "gran-shapes",
        include_str!("../../../assets/presets/gran-shapes.toml"),
    ),
    (
        "gran-fmnist",
        include_str!("../../../assets/presets/gran-fmnist.toml"),
    ),
    (
        "dcgan-fmnist",
        include_str!("../../../assets/presets/dcgan-fmnist.toml"),
    ),
    (
        "gran-cifar10",
        include_str!("../../../assets/presets/gran-cifar10.toml"),
    ),
    (
        "gran-lsun64",
        include_str!("../../../assets/presets/gran-lsun64.toml"),
    ),
    (
        "lapgan-fmnist",
        include_str!("../../../assets/presets/lapgan-fmnist.toml"),
    ),
    (
        "lapgan-cifar10",
        include_str!("../../../assets/presets/lapgan-cifar10.toml"),
    ),
    (
        "stackgan2-shapes",
        include_str!("../../../assets/presets/stackgan2-shapes.toml"),
    ),
    (
        "stackgan2-fmnist",
        include_str!("../../../assets/presets/stackgan2-fmnist.toml"),
    ),
    (
        "stackgan1-shapes",
        include_str!("../../../assets/presets/stackgan1-shapes.toml"),
    ),
    (
        "stackgan1-fmnist",
        include_str!("../../../assets/presets/stackgan1-fmnist.toml"),
    ),
    (
        "stackgan2-birds",
        include_str!("../../../assets/presets/stackgan2-birds.toml"),
    ),
    (
        "stackgan1-birds",
        include_str!("../../../assets/presets/stackgan1-birds.toml"),
    ),
];

/// The preset the studio and tests start from: needs no downloaded file.
pub const DEFAULT_PRESET: &str = "gran-shapes";

impl Preset {
    /// Every shipped preset, in listing order.
    pub fn all() -> Vec<Preset> {
        PRESET_FILES
            .iter()
            .map(|(name, text)| Preset {
                name,
                description: text
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches('#')
                    .trim()
                    .to_string(),
                config: RunConfig::from_toml(text, name).expect("shipped presets are valid"),
            })
            .collect()
    }

    /// The preset called `name`, or an error listing the names.
    pub fn find(name: &str) -> Result<Preset> {
        Self::all()
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| {
                Error::config(
                    "preset",
                    format!(
                        "no preset {name:?}; expected one of {}",
                        PRESET_FILES.map(|(n, _)| n).join(", ")
                    ),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse_and_round_trip() {
        let all = Preset::all();
        assert_eq!(all.len(), PRESET_FILES.len());
        for p in all {
            let back = RunConfig::from_toml(&p.config.to_toml(), "round trip").unwrap();
            assert_eq!(back, p.config, "{}", p.name);
        }
        let fmnist = Preset::find("gran-fmnist").unwrap().config;
        let g = fmnist.model.gran().unwrap();
        assert_eq!(g.decoder_widths, vec![80, 40, 1]);
        let lapgan = Preset::find("lapgan-fmnist").unwrap().config;
        let ModelConfig::Lapgan(l) = &lapgan.model else {
            panic!("lapgan-fmnist is LAPGAN");
        };
        assert_eq!(l.sides().unwrap(), vec![28, 14, 7]);
        assert_eq!(g.kernel_size, 5);
    }

    #[test]
    fn bad_configs_fail_in_words() {
        let e = RunConfig::from_toml("[train]\nbatch_sise = 3\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.toml") && e.contains("batch_sise"), "{e}");
        let e = RunConfig::from_toml("[train]\nlr_d = -1.0\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("train.lr_d"), "{e}");
        let e = RunConfig::from_toml("[model.gran]\nsteps = 0\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("model.steps"), "{e}");
        assert!(
            Preset::find("nope")
                .unwrap_err()
                .to_string()
                .contains("gran-fmnist")
        );
    }
}
