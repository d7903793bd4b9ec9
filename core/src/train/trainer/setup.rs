//! How a [`Trainer`] comes to be: a new run from its config (weights from the seed), or a run
//! resumed from its newest intact checkpoint (weights, both Adam states, data order and noise),
//! each telling a listener what the set-up is doing.

use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::Bytes;

use super::{Preparing, TRAIN_NOISE_STREAM, Trainer, epoch_order, text};
use crate::backend::BackendKind;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::eval::classifier;
use crate::eval::collapse::CollapseWatch;
use crate::model::gan::Networks;
use crate::model::records::load_networks;
use crate::model::stackgan::Mismatch;
use crate::noise::NoiseStream;
use crate::train::checkpoint::{self, Checkpoint, TrainingState};
use crate::train::config::{ModelConfig, RunConfig};
use crate::train::run_dir::{EventLog, RunDir};

fn adam(beta1: f32, beta2: f32) -> ModuleOptimizer {
    AdamConfig::new()
        .with_beta_1(beta1)
        .with_beta_2(beta2)
        .init()
}

impl Trainer {
    /// Starts a new run in `run_dir` (created; refused if it already holds a run).
    pub fn create(run_dir: impl Into<std::path::PathBuf>, config: RunConfig) -> Result<Self> {
        Self::create_reporting(run_dir, config, &mut |_, _| {})
    }

    /// As [`Self::create`], telling `preparing` what the set-up is doing (loading data, training
    /// a text run's built-in encoder, embedding its captions) and how far along, when known.
    pub fn create_reporting(
        run_dir: impl Into<std::path::PathBuf>,
        mut config: RunConfig,
        preparing: Preparing<'_>,
    ) -> Result<Self> {
        config.validate()?;
        text::resolve_encoder(&mut config)?;
        let run = RunDir::new(run_dir);
        let (device, data) = Self::device_and_data(&config, preparing)?;
        run.create(&config)?;
        Self::from_scratch(run, config, data, device, Vec::new(), preparing)
    }

    /// Readies `config` for a new run folder that is trained later (a sweep's): validated, and a
    /// text model's encoder resolved as [`Self::create`] resolves it.
    pub fn prepare_config(config: &mut RunConfig) -> Result<()> {
        config.validate()?;
        text::resolve_encoder(config)
    }

    /// Step 0 of a run whose folder exists: weights drawn from the seed.
    fn from_scratch(
        run: RunDir,
        config: RunConfig,
        data: Dataset,
        device: Device,
        warnings: Vec<String>,
        preparing: Preparing<'_>,
    ) -> Result<Self> {
        let train_device = device.clone().autodiff();
        let networks = Networks::seeded(&config.model, &device, &train_device, config.seed);
        let state = TrainingState {
            step: 0,
            epoch: 0,
            batch_in_epoch: 0,
            d_updates: 0,
            g_updates: 0,
            noise_word_pos: "0".into(),
            elapsed_seconds: 0.0,
        };
        Self::assemble(
            run, config, data, device, networks, None, state, warnings, preparing,
        )
    }

    /// Continues the run in `run_dir` from its newest intact checkpoint, on `backend` when given
    /// (else the one in its config). A run stopped before its first checkpoint was written starts
    /// again from step 0 (the same weights, data order and noise, from its seed); a run whose
    /// checkpoints are all damaged is refused.
    pub fn resume(
        run_dir: impl Into<std::path::PathBuf>,
        backend: Option<BackendKind>,
    ) -> Result<Self> {
        Self::resume_reporting(run_dir, backend, &mut |_, _| {})
    }

    /// As [`Self::resume`], telling `preparing` what the set-up is doing.
    pub fn resume_reporting(
        run_dir: impl Into<std::path::PathBuf>,
        backend: Option<BackendKind>,
        preparing: Preparing<'_>,
    ) -> Result<Self> {
        let run = RunDir::new(run_dir);
        let mut config = run.load_config()?;
        if let Some(b) = backend {
            config.backend = b;
            // Devices of another backend give way to one device of the one asked for.
            if config.devices.first().is_some_and(|d| d.kind != b) {
                config.devices.clear();
            }
        }
        if checkpoint::list(&run.checkpoints())?.is_empty() {
            let (device, data) = Self::device_and_data(&config, preparing)?;
            // A folder made and never trained (a sweep's) simply starts.
            let warnings = if run.events_path().exists() {
                vec![
                    "the run stopped before its first checkpoint: it starts again from step 0"
                        .into(),
                ]
            } else {
                Vec::new()
            };
            return Self::from_scratch(run, config, data, device, warnings, preparing);
        }
        let (ckpt, path, warnings) = checkpoint::load_latest(&run.checkpoints())?;
        // A run copied without its sample grids (or with them deleted) draws new ones.
        let samples = run.samples();
        std::fs::create_dir_all(&samples).map_err(|e| Error::io(&samples, e))?;
        let saved = RunConfig::from_toml(&ckpt.config_toml, &path.display().to_string())?;
        if saved.model != config.model || saved.seed != config.seed || saved.data != config.data {
            return Err(Error::Checkpoint {
                path,
                reason: "its model, seed or data differ from the run's config.toml".into(),
            });
        }
        let (device, data) = Self::device_and_data(&config, preparing)?;
        let train_device = device.clone().autodiff();
        let networks = load_networks(
            Networks::init(&config.model, &train_device),
            ckpt.section("generator", &path)?,
            ckpt.section("discriminator", &path)?,
            &path,
        )?;
        let state = ckpt.state.clone();
        Self::assemble(
            run,
            config,
            data,
            device,
            networks,
            Some((&ckpt, &path)),
            state,
            warnings,
            preparing,
        )
    }

    /// The config's device (refused first when missing) and its data, saying so.
    fn device_and_data(config: &RunConfig, preparing: Preparing<'_>) -> Result<(Device, Dataset)> {
        let device = config.main_device()?;
        preparing(&format!("loading {}", config.data.describe()), None);
        Ok((device, Self::load_data(config)?))
    }

    fn load_data(config: &RunConfig) -> Result<Dataset> {
        let (size, channels) = config.model.image_shape();
        let data = config.data.load(size, channels, config.train.data_limit)?;
        if data.train.len() < config.train.batch_size {
            return Err(Error::config(
                "train.batch_size",
                format!(
                    "{} holds {} training images, fewer than one batch of {}",
                    data.name,
                    data.train.len(),
                    config.train.batch_size
                ),
            ));
        }
        if let ModelConfig::StackGan(s) = &config.model
            && s.mismatch != Mismatch::Next
            && data.train.labels.is_none()
        {
            let name = match s.mismatch {
                Mismatch::Counterpart => "counterpart",
                _ => "nearest-other-class",
            };
            return Err(Error::config(
                "model.mismatch",
                format!(
                    "{name} needs labelled images and {} has none; use \"next\"",
                    data.name
                ),
            ));
        }
        Ok(data)
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        run: RunDir,
        config: RunConfig,
        data: Dataset,
        device: Device,
        networks: Networks,
        optimizers: Option<(&Checkpoint, &std::path::Path)>,
        state: TrainingState,
        warnings: Vec<String>,
        preparing: Preparing<'_>,
    ) -> Result<Self> {
        let t = &config.train;
        let (mut optim_g, mut optim_d) = (adam(t.beta1_g, t.beta2_g), adam(t.beta1_d, t.beta2_d));
        if let Some((ckpt, path)) = optimizers {
            let bad = |e: burn::store::RecordError| Error::Checkpoint {
                path: path.to_path_buf(),
                reason: format!("optimizer: {e}"),
            };
            let bytes = |name| {
                ckpt.section(name, path)
                    .map(|b| Bytes::from_bytes_vec(b.to_vec()))
            };
            optim_g = optim_g.from_bytes(bytes("optimizer_g")?).map_err(bad)?;
            optim_d = optim_d.from_bytes(bytes("optimizer_d")?).map_err(bad)?;
        }
        let mut noise = NoiseStream::new(config.seed, TRAIN_NOISE_STREAM);
        let pos: u128 = state
            .noise_word_pos
            .parse()
            .map_err(|_| Error::Checkpoint {
                path: run.checkpoints(),
                reason: format!("noise position {:?} is not a number", state.noise_word_pos),
            })?;
        noise.set_word_pos(pos);
        let order = epoch_order(config.seed, state.epoch, data.train.len());
        let n = config.train.sample_count;
        let text = text::text_conditions(&config, &run.root, &data, &device, preparing)?;
        let fixed_labels = match &text {
            Some(t) => Some(t.fixed.clone()),
            None => networks.cycled_labels(0, n, &device),
        };
        let log = EventLog::open(&run)?;
        let last_checkpoint_step = optimizers.map(|(c, _)| c.state.step);
        let collapse = CollapseWatch::new(&data.train, n, classifier::cached(&data, &device));
        // Data parallel: every device, the first the one the weights live on.
        let shards = if config.devices.len() > 1 {
            std::iter::once(Ok(device.clone()))
                .chain(config.devices[1..].iter().map(|d| d.device()))
                .collect::<Result<Vec<_>>>()?
        } else {
            Vec::new()
        };
        Ok(Self {
            run,
            config,
            data,
            device,
            shards,
            networks,
            optim_g,
            optim_d,
            state,
            noise,
            order,
            fixed_labels,
            text,
            log,
            collapse,
            images_per_second: 0.0,
            session_seconds: 0.0,
            last_checkpoint_step,
            warnings,
            diverged: None,
            live: None,
        })
    }
}
