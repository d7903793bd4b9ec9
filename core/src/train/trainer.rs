//! The training loop: one D update then one G update per batch with the non-saturating BCE loss,
//! Adam for each network, fixed-z sample grids, atomic checkpoints and exact resume.

use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use burn::tensor::activation::{sigmoid, softplus};

use super::checkpoint::{self, Checkpoint, TrainingState};
use super::config::{ModelConfig, RunConfig};
use super::events::{Command, Event, StepKind, StepStats, StopReason};
use super::noise::NoiseStream;
use super::run_dir::{EventLog, RunDir};
use crate::backend::BackendKind;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::eval::classifier;
use crate::eval::collapse::CollapseWatch;
use crate::export;
use crate::images::ImageBatch;
use crate::model::gran::{Discriminator, GranConfig, GranGenerator, NoiseMode};
use crate::model::seeded;

/// Noise stream ids derived from the run's seed.
const TRAIN_NOISE_STREAM: u64 = 1;
const FIXED_NOISE_STREAM: u64 = 2;
const ORDER_STREAM: u64 = 3;

/// A GAN in training, with everything needed to continue it exactly.
pub struct Trainer {
    run: RunDir,
    config: RunConfig,
    gran: GranConfig,
    data: Dataset,
    device: Device,
    generator: GranGenerator,
    discriminator: Discriminator,
    optim_g: ModuleOptimizer,
    optim_d: ModuleOptimizer,
    state: TrainingState,
    noise: NoiseStream,
    order: Vec<usize>,
    fixed_z: Tensor<3>,
    log: EventLog,
    collapse: CollapseWatch,
    images_per_second: f64,
    session_seconds: f64,
    last_checkpoint_step: Option<u64>,
    warnings: Vec<String>,
}

fn adam(beta1: f32, beta2: f32) -> ModuleOptimizer {
    AdamConfig::new()
        .with_beta_1(beta1)
        .with_beta_2(beta2)
        .init()
}

fn record_bytes<M: Module>(module: &M) -> Result<Vec<u8>> {
    let bytes = module
        .valid()
        .into_record()
        .into_bytes()
        .map_err(|e| Error::Checkpoint {
            path: "<memory>".into(),
            reason: e.to_string(),
        })?;
    Ok(bytes.to_vec())
}

fn load_module<M: Module>(
    module: M,
    bytes: &[u8],
    path: &std::path::Path,
    what: &str,
) -> Result<M> {
    let bad = |e: burn::store::RecordError| Error::Checkpoint {
        path: path.to_path_buf(),
        reason: format!("{what}: {e}"),
    };
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(bad)?;
    module.try_load_record(record).map_err(bad)
}

impl Trainer {
    /// Starts a new run in `run_dir` (created; refused if it already holds a run).
    pub fn create(run_dir: impl Into<std::path::PathBuf>, config: RunConfig) -> Result<Self> {
        config.validate()?;
        let run = RunDir::new(run_dir);
        let device = config.backend.device()?;
        let data = Self::load_data(&config)?;
        run.create(&config)?;
        let train_device = device.clone().autodiff();
        let ModelConfig::Gran(gran) = config.model.clone();
        let (generator, discriminator) = seeded(&device, config.seed, || {
            (
                gran.init_generator(&train_device),
                gran.init_discriminator(&train_device),
            )
        });
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
            run,
            config,
            gran,
            data,
            device,
            generator,
            discriminator,
            None,
            state,
            Vec::new(),
        )
    }

    /// Continues the run in `run_dir` from its newest intact checkpoint, on `backend` when given
    /// (else the one in its config).
    pub fn resume(
        run_dir: impl Into<std::path::PathBuf>,
        backend: Option<BackendKind>,
    ) -> Result<Self> {
        let run = RunDir::new(run_dir);
        let mut config = run.load_config()?;
        if let Some(b) = backend {
            config.backend = b;
        }
        let (ckpt, path, warnings) = checkpoint::load_latest(&run.checkpoints())?;
        let saved = RunConfig::from_toml(&ckpt.config_toml, &path.display().to_string())?;
        if saved.model != config.model || saved.seed != config.seed || saved.data != config.data {
            return Err(Error::Checkpoint {
                path,
                reason: "its model, seed or data differ from the run's config.toml".into(),
            });
        }
        let device = config.backend.device()?;
        let data = Self::load_data(&config)?;
        let train_device = device.clone().autodiff();
        let ModelConfig::Gran(gran) = config.model.clone();
        let generator = load_module(
            gran.init_generator(&train_device),
            ckpt.section("generator", &path)?,
            &path,
            "generator",
        )?;
        let discriminator = load_module(
            gran.init_discriminator(&train_device),
            ckpt.section("discriminator", &path)?,
            &path,
            "discriminator",
        )?;
        let state = ckpt.state.clone();
        Self::assemble(
            run,
            config,
            gran,
            data,
            device,
            generator,
            discriminator,
            Some((&ckpt, &path)),
            state,
            warnings,
        )
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
        Ok(data)
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        run: RunDir,
        config: RunConfig,
        gran: GranConfig,
        data: Dataset,
        device: Device,
        generator: GranGenerator,
        discriminator: Discriminator,
        optimizers: Option<(&Checkpoint, &std::path::Path)>,
        state: TrainingState,
        warnings: Vec<String>,
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
        let fixed_steps = if gran.noise == NoiseMode::PerStep {
            3 * gran.steps
        } else {
            1
        };
        let n = config.train.sample_count;
        let fixed =
            NoiseStream::new(config.seed, FIXED_NOISE_STREAM).normals(n * fixed_steps * gran.z_dim);
        let fixed_z = Tensor::<3>::from_data(
            TensorData::new(fixed, [n, fixed_steps, gran.z_dim]),
            &device,
        );
        let log = EventLog::open(&run)?;
        let last_checkpoint_step = optimizers.map(|(c, _)| c.state.step);
        let collapse = CollapseWatch::new(&data.train, n, classifier::cached(&data, &device));
        Ok(Self {
            run,
            config,
            gran,
            data,
            device,
            generator,
            discriminator,
            optim_g,
            optim_d,
            state,
            noise,
            order,
            fixed_z,
            log,
            collapse,
            images_per_second: 0.0,
            session_seconds: 0.0,
            last_checkpoint_step,
            warnings,
        })
    }

    /// Replaces the stop conditions for this session (e.g. a longer budget when resuming).
    pub fn set_schedule(
        &mut self,
        max_steps: Option<u64>,
        epochs: Option<u64>,
        minutes: Option<f64>,
    ) -> Result<()> {
        let mut train = self.config.train.clone();
        train.max_steps = max_steps.or(train.max_steps);
        train.epochs = epochs.or(train.epochs);
        train.minutes = minutes.or(train.minutes);
        train.validate()?;
        self.config.train = train;
        Ok(())
    }

    /// The run's config.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// The run folder.
    pub fn run_dir(&self) -> &RunDir {
        &self.run
    }

    /// Where training stands.
    pub fn state(&self) -> &TrainingState {
        &self.state
    }

    /// The dataset trained on.
    pub fn data(&self) -> &Dataset {
        &self.data
    }

    /// The generator in inference mode (no autodiff).
    pub fn generator(&self) -> GranGenerator {
        self.generator.valid()
    }

    /// The discriminator in inference mode (no autodiff).
    pub fn discriminator(&self) -> Discriminator {
        self.discriminator.valid()
    }

    /// Batches per epoch (the last partial batch is dropped).
    pub fn steps_per_epoch(&self) -> u64 {
        (self.data.train.len() / self.config.train.batch_size) as u64
    }

    /// The step at which `max_steps` or `epochs` stops the run, when either is set.
    pub fn target_step(&self) -> Option<u64> {
        let by_epochs = self.config.train.epochs.map(|e| e * self.steps_per_epoch());
        match (self.config.train.max_steps, by_epochs) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn z(&mut self, batch: usize) -> Tensor<3> {
        let steps = if self.gran.noise == NoiseMode::PerStep {
            self.gran.steps
        } else {
            1
        };
        let values = self.noise.normals(batch * steps * self.gran.z_dim);
        Tensor::from_data(
            TensorData::new(values, [batch, steps, self.gran.z_dim]),
            &self.device.clone().autodiff(),
        )
    }

    /// Draws the next real batch; returns whether an epoch ended.
    /// The `index`-th batch of the current epoch's order.
    fn batch_at(&self, index: usize) -> Tensor<4> {
        let b = self.config.train.batch_size;
        let indices = &self.order[index * b..(index + 1) * b];
        let set = &self.data.train;
        let pixels = set.batch_f32(indices);
        Tensor::from_data(
            TensorData::new(pixels, [b, set.channels, set.height, set.width]),
            &self.device.clone().autodiff(),
        )
    }

    fn next_batch(&mut self) -> (Tensor<4>, bool) {
        let real = self.batch_at(self.state.batch_in_epoch as usize);
        self.state.batch_in_epoch += 1;
        let ended = self.state.batch_in_epoch >= self.steps_per_epoch();
        if ended {
            self.state.epoch += 1;
            self.state.batch_in_epoch = 0;
            self.order = epoch_order(self.config.seed, self.state.epoch, self.data.train.len());
        }
        (real, ended)
    }

    /// One D update on the next real batch. Returns (loss, mean D(x), mean D(G(z))).
    fn update_discriminator(&mut self, lr: f64) -> Result<((f32, f32, f32), bool)> {
        let (real, ended) = self.next_batch();
        let z = self.z(self.config.train.batch_size);
        let fake = self.generator.forward(z, self.gran.steps).detach();
        let real_logits = self.discriminator.forward(real);
        let fake_logits = self.discriminator.forward(fake);
        let d_real = sigmoid(real_logits.clone()).mean();
        let d_fake = sigmoid(fake_logits.clone()).mean();
        let loss = softplus(real_logits.neg(), 1.0).mean() + softplus(fake_logits, 1.0).mean();
        let figures = read3(&loss, &d_real, &d_fake);
        check_finite(self.state.step + 1, "D loss", figures.0)?;
        let grads = GradientsParams::from_grads(loss.backward(), &self.discriminator);
        self.discriminator = self.optim_d.step(lr, self.discriminator.clone(), grads);
        self.state.d_updates += 1;
        Ok((figures, ended))
    }

    /// One G update. Returns (loss, mean D(G(z))).
    fn update_generator(&mut self, lr: f64) -> Result<(f32, f32)> {
        let z = self.z(self.config.train.batch_size);
        let fake_logits = self
            .discriminator
            .forward(self.generator.forward(z, self.gran.steps));
        let d_fake = sigmoid(fake_logits.clone()).mean();
        let loss = softplus(fake_logits.neg(), 1.0).mean();
        let (g_loss, d_fake, _) = read3(&loss, &d_fake, &d_fake);
        check_finite(self.state.step + 1, "G loss", g_loss)?;
        let grads = GradientsParams::from_grads(loss.backward(), &self.generator);
        self.generator = self.optim_g.step(lr, self.generator.clone(), grads);
        self.state.g_updates += 1;
        Ok((g_loss, d_fake))
    }

    /// Takes one step of `kind`. A non-finite loss stops it before any update.
    pub fn step(&mut self, kind: StepKind) -> Result<(StepStats, bool)> {
        let started = Instant::now();
        let (lr_d, lr_g) = self.config.train.learning_rates(self.state.epoch);
        let mut stats = StepStats {
            step: self.state.step + 1,
            epoch: 0,
            epoch_progress: 0.0,
            kind,
            d_loss: None,
            g_loss: None,
            d_real: None,
            d_fake: None,
            images_per_second: 0.0,
            learning_rates: (lr_d, lr_g),
            elapsed_seconds: 0.0,
        };
        let mut epoch_ended = false;
        if kind != StepKind::GeneratorOnly {
            let ((loss, real, fake), ended) = self.update_discriminator(lr_d)?;
            (stats.d_loss, stats.d_real, stats.d_fake) = (Some(loss), Some(real), Some(fake));
            epoch_ended = ended;
        }
        if kind != StepKind::DiscriminatorOnly {
            let (loss, fake) = self.update_generator(lr_g)?;
            stats.g_loss = Some(loss);
            stats.d_fake.get_or_insert(fake);
        }
        self.state.step += 1;
        self.state.noise_word_pos = self.noise.word_pos().to_string();
        let seconds = started.elapsed().as_secs_f64();
        self.session_seconds += seconds;
        self.state.elapsed_seconds += seconds;
        let rate = self.config.train.batch_size as f64 / seconds.max(1e-9);
        self.images_per_second = if self.images_per_second == 0.0 {
            rate
        } else {
            0.9 * self.images_per_second + 0.1 * rate
        };
        stats.epoch = self.state.epoch;
        stats.epoch_progress = self.state.batch_in_epoch as f64 / self.steps_per_epoch() as f64;
        stats.images_per_second = self.images_per_second;
        stats.elapsed_seconds = self.state.elapsed_seconds;
        Ok((stats, epoch_ended))
    }

    /// The fixed-z sample grid's images with the current generator.
    pub fn fixed_samples(&self) -> ImageBatch {
        ImageBatch::from_tensor(
            self.generator
                .valid()
                .forward(self.fixed_z.clone(), self.gran.steps),
        )
    }

    /// Writes the fixed-z grid to `samples/` and returns its event, with the mode-collapse
    /// watch's reading of it.
    pub fn sample_event(&mut self) -> Result<Event> {
        let images = self.fixed_samples();
        let collapse = self.collapse.observe(&images);
        let path = self
            .run
            .samples()
            .join(format!("step-{:09}.png", self.state.step));
        export::save_grid(&images, images.square_columns(), &path)?;
        Ok(Event::Samples {
            step: self.state.step,
            images,
            path,
            collapse: Some(collapse),
        })
    }

    /// Writes a checkpoint of the current state (refused if any weight is NaN or infinite, so a
    /// poisoned model never replaces a good checkpoint) and prunes old ones.
    pub fn save_checkpoint(&mut self) -> Result<Event> {
        if !all_finite(&self.generator) || !all_finite(&self.discriminator) {
            return Err(Error::Diverged {
                step: self.state.step,
                what: "a weight".into(),
                value: f32::NAN,
            });
        }
        let to_err = |e: burn::store::RecordError| Error::Checkpoint {
            path: self.run.checkpoints(),
            reason: e.to_string(),
        };
        let ckpt = Checkpoint {
            state: self.state.clone(),
            config_toml: self.config.to_toml(),
            sections: vec![
                ("generator".into(), record_bytes(&self.generator)?),
                ("discriminator".into(), record_bytes(&self.discriminator)?),
                (
                    "optimizer_g".into(),
                    self.optim_g.into_bytes().map_err(to_err)?.to_vec(),
                ),
                (
                    "optimizer_d".into(),
                    self.optim_d.into_bytes().map_err(to_err)?.to_vec(),
                ),
            ],
        };
        let path = self
            .run
            .checkpoints()
            .join(checkpoint::file_name(self.state.step));
        ckpt.save(&path)?;
        checkpoint::prune(&self.run.checkpoints(), self.config.train.keep_checkpoints)?;
        self.last_checkpoint_step = Some(self.state.step);
        Ok(Event::Checkpoint {
            step: self.state.step,
            path,
        })
    }

    fn stop_reason(&self) -> Option<StopReason> {
        let t = &self.config.train;
        if t.max_steps.is_some_and(|m| self.state.step >= m) {
            Some(StopReason::MaxSteps)
        } else if t.epochs.is_some_and(|e| self.state.epoch >= e) {
            Some(StopReason::Epochs)
        } else if t.minutes.is_some_and(|m| self.session_seconds >= m * 60.0) {
            Some(StopReason::TimeBudget)
        } else {
            None
        }
    }

    fn emit(&mut self, event: Event, sink: &mut dyn FnMut(Event)) {
        // The log is a record for people; a full disk must not stop training here (checkpoint
        // writes report it).
        let _ = self.log.append(&event);
        sink(event);
    }

    fn finish(&mut self, reason: StopReason, sink: &mut dyn FnMut(Event)) -> Result<StopReason> {
        if self.last_checkpoint_step != Some(self.state.step) {
            let event = self.save_checkpoint()?;
            self.emit(event, sink);
        }
        self.emit(
            Event::Finished {
                step: self.state.step,
                reason,
            },
            sink,
        );
        let _ = self.log.flush();
        Ok(reason)
    }

    fn take_step(&mut self, kind: StepKind, sink: &mut dyn FnMut(Event)) -> Result<()> {
        let (stats, epoch_ended) = self.step(kind)?;
        let step = stats.step;
        self.emit(Event::Step(stats), sink);
        if epoch_ended {
            let epoch = self.state.epoch;
            self.emit(Event::EpochEnd { epoch, step }, sink);
        }
        if step.is_multiple_of(self.config.train.sample_every) || kind != StepKind::Full {
            let event = self.sample_event()?;
            self.emit(event, sink);
        }
        if step.is_multiple_of(self.config.train.checkpoint_every) {
            let event = self.save_checkpoint()?;
            self.emit(event, sink);
            let _ = self.log.flush();
        }
        Ok(())
    }

    /// Trains until a stop condition or a `Stop` command, answering `commands` between steps and
    /// reporting through `sink`. Errors are reported as [`Event::Error`] and returned.
    pub fn run(
        &mut self,
        commands: &Receiver<Command>,
        sink: &mut dyn FnMut(Event),
    ) -> Result<StopReason> {
        let result = self.run_inner(commands, sink);
        if let Err(e) = &result {
            let step = Some(self.state.step);
            self.emit(
                Event::Error {
                    step,
                    message: e.to_string(),
                },
                sink,
            );
            let _ = self.log.flush();
        }
        result
    }

    fn run_inner(
        &mut self,
        commands: &Receiver<Command>,
        sink: &mut dyn FnMut(Event),
    ) -> Result<StopReason> {
        let started = Event::Started {
            run_dir: self.run.root.clone(),
            step: self.state.step,
            steps_per_epoch: self.steps_per_epoch(),
            target_step: self.target_step(),
            warnings: std::mem::take(&mut self.warnings),
        };
        self.emit(started, sink);
        // The fixed-z grid where training starts (or resumes), so a listener has one at once.
        let event = self.sample_event()?;
        self.emit(event, sink);
        let mut paused = false;
        loop {
            loop {
                let command = if paused {
                    match commands.recv() {
                        Ok(c) => c,
                        Err(_) => return self.finish(StopReason::Requested, sink),
                    }
                } else {
                    match commands.try_recv() {
                        Ok(c) => c,
                        Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                    }
                };
                match command {
                    Command::Pause => {
                        paused = true;
                        let _ = self.log.flush();
                        self.emit(
                            Event::Paused {
                                step: self.state.step,
                            },
                            sink,
                        );
                    }
                    Command::Resume => {
                        if paused {
                            paused = false;
                            self.emit(
                                Event::Resumed {
                                    step: self.state.step,
                                },
                                sink,
                            );
                        }
                    }
                    Command::Stop => return self.finish(StopReason::Requested, sink),
                    Command::StepD => self.take_step(StepKind::DiscriminatorOnly, sink)?,
                    Command::StepG => self.take_step(StepKind::GeneratorOnly, sink)?,
                    Command::SaveNow => {
                        let event = self.save_checkpoint()?;
                        self.emit(event, sink);
                    }
                }
                if !paused {
                    break;
                }
            }
            if let Some(reason) = self.stop_reason() {
                return self.finish(reason, sink);
            }
            self.take_step(StepKind::Full, sink)?;
        }
    }
}

/// The data order of `epoch`: a permutation that depends only on (seed, epoch).
fn epoch_order(seed: u64, epoch: u64, n: usize) -> Vec<usize> {
    NoiseStream::new(
        seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        ORDER_STREAM,
    )
    .permutation(n)
}

/// Reads three scalars back in one transfer.
fn read3(a: &Tensor<1>, b: &Tensor<1>, c: &Tensor<1>) -> (f32, f32, f32) {
    let values = Tensor::cat(vec![a.clone(), b.clone(), c.clone()], 0)
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 after convert");
    (values[0], values[1], values[2])
}

fn check_finite(step: u64, what: &str, value: f32) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::Diverged {
            step,
            what: what.into(),
            value,
        })
    }
}

/// Whether every parameter of `module` is finite: `p - p` is 0 for finite values and NaN otherwise.
pub fn all_finite<M: Module>(module: &M) -> bool {
    struct Probe(Vec<Tensor<1>>);
    impl ModuleVisitor for Probe {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let v = param.val().detach();
            self.0.push((v.clone() - v).sum());
        }
    }
    let mut probe = Probe(Vec::new());
    module.visit(&mut probe);
    if probe.0.is_empty() {
        return true;
    }
    let total = Tensor::cat(probe.0, 0)
        .sum()
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>();
    total.is_ok_and(|v| v[0] == 0.0)
}
