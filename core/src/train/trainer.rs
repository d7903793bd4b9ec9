//! The training loop: one D update then one G update per batch with the non-saturating BCE loss,
//! Adam for each network, fixed-z sample grids, atomic checkpoints and exact resume.

use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::Bytes;

use super::checkpoint::{self, Checkpoint, TrainingState};
use super::config::{RunConfig, TrainConfig};
use super::events::{Event, StepKind, StepStats};
use super::noise::NoiseStream;
use super::records::{critic_bytes, generator_bytes, load_critic, load_generator};
use super::run_dir::{EventLog, RunDir};

mod session;
mod text;
use crate::backend::BackendKind;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::eval::classifier;
use crate::eval::collapse::CollapseWatch;
use crate::export;
use crate::images::ImageBatch;
use crate::model::gan::{self, Critic, Generator, Noise};
use crate::model::lapgan::DropoutDraw;
use crate::model::seeded;

/// Noise stream ids derived from the run's seed.
/// What a trainer's set-up reports: what it is doing, and the fraction done when known.
pub type Preparing<'a> = &'a mut dyn FnMut(&str, Option<f32>);

const TRAIN_NOISE_STREAM: u64 = 1;
const FIXED_NOISE_STREAM: u64 = 2;
const ORDER_STREAM: u64 = 3;

/// A GAN in training, with everything needed to continue it exactly.
pub struct Trainer {
    run: RunDir,
    config: RunConfig,
    data: Dataset,
    device: Device,
    generator: Generator,
    discriminator: Critic,
    optim_g: ModuleOptimizer,
    optim_d: ModuleOptimizer,
    state: TrainingState,
    noise: NoiseStream,
    order: Vec<usize>,
    fixed_z: Noise,
    /// The fixed grid's condition: class one-hots or sentence embeddings.
    fixed_labels: Option<Tensor<2>>,
    /// A text model's captions and their embeddings.
    text: Option<text::TextConditions>,
    log: EventLog,
    collapse: CollapseWatch,
    images_per_second: f64,
    session_seconds: f64,
    last_checkpoint_step: Option<u64>,
    warnings: Vec<String>,
    /// The step that diverged, until a step succeeds or the run rolls back.
    diverged: Option<u64>,
}

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
        let device = config.backend.device()?;
        preparing(&format!("loading {}", config.data.describe()), None);
        let data = Self::load_data(&config)?;
        run.create(&config)?;
        Self::from_scratch(run, config, data, device, Vec::new(), preparing)
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
        let spec = config.model.spec();
        let (generator, discriminator) = seeded(&device, config.seed, || {
            (
                spec.init_generator(&train_device),
                spec.init_critic(&train_device),
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
            data,
            device,
            generator,
            discriminator,
            None,
            state,
            warnings,
            preparing,
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
        }
        if checkpoint::list(&run.checkpoints())?.is_empty() {
            let device = config.backend.device()?;
            preparing(&format!("loading {}", config.data.describe()), None);
            let data = Self::load_data(&config)?;
            let warning =
                "the run stopped before its first checkpoint: it starts again from step 0";
            return Self::from_scratch(
                run,
                config,
                data,
                device,
                vec![warning.to_string()],
                preparing,
            );
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
        preparing(&format!("loading {}", config.data.describe()), None);
        let data = Self::load_data(&config)?;
        let train_device = device.clone().autodiff();
        let spec = config.model.spec();
        let generator = load_generator(
            spec.init_generator(&train_device),
            ckpt.section("generator", &path)?,
            &path,
        )?;
        let discriminator = load_critic(
            spec.init_critic(&train_device),
            ckpt.section("discriminator", &path)?,
            &path,
        )?;
        let state = ckpt.state.clone();
        Self::assemble(
            run,
            config,
            data,
            device,
            generator,
            discriminator,
            Some((&ckpt, &path)),
            state,
            warnings,
            preparing,
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
        data: Dataset,
        device: Device,
        generator: Generator,
        discriminator: Critic,
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
        let spec = config.model.spec();
        // GRAN with noise per step keeps z for three times T, so the grid can show longer drawings.
        let n = config.train.sample_count;
        let mut fixed = NoiseStream::new(config.seed, FIXED_NOISE_STREAM);
        let fixed_z = spec.noise(n, 3 * spec.steps(), &mut |c| fixed.normals(c), &device);
        let text = text::text_conditions(&config, &run.root, &data, &device, preparing)?;
        let fixed_labels = match &text {
            Some(t) => Some(t.fixed.clone()),
            None => spec.cycled_labels(0, n, &device),
        };
        let log = EventLog::open(&run)?;
        let last_checkpoint_step = optimizers.map(|(c, _)| c.state.step);
        let collapse = CollapseWatch::new(&data.train, n, classifier::cached(&data, &device));
        Ok(Self {
            run,
            config,
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
            fixed_labels,
            text,
            log,
            collapse,
            images_per_second: 0.0,
            session_seconds: 0.0,
            last_checkpoint_step,
            warnings,
            diverged: None,
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

    /// The step of the newest intact checkpoint, if any.
    pub fn newest_checkpoint_step(&self) -> Option<u64> {
        checkpoint::load_latest(&self.run.checkpoints())
            .ok()
            .map(|(c, _, _)| c.state.step)
    }

    /// Goes back to the newest intact checkpoint (weights, optimizers, data order, noise) with
    /// both learning rates multiplied by `lr_scale` (in (0, 1]), which is written to the run's
    /// config.toml so later resumes keep it. This session's stop conditions are kept.
    pub fn roll_back(&mut self, lr_scale: f64) -> Result<Event> {
        if !(lr_scale.is_finite() && lr_scale > 0.0 && lr_scale <= 1.0) {
            return Err(Error::config(
                "lr_scale",
                format!("expected a factor in (0, 1], found {lr_scale}"),
            ));
        }
        let on_disk = self.scale_learning_rates(lr_scale)?;
        let _ = self.log.flush();
        let from_step = self.state.step;
        let schedule = self.config.train.clone();
        let mut next = Trainer::resume(&self.run.root, Some(self.config.backend))?;
        next.config.train = TrainConfig {
            lr_d: on_disk.train.lr_d,
            lr_g: on_disk.train.lr_g,
            ..schedule
        };
        next.session_seconds = self.session_seconds;
        *self = next;
        Ok(Event::RolledBack {
            from_step,
            to_step: self.state.step,
            learning_rates: (self.config.train.lr_d, self.config.train.lr_g),
        })
    }

    /// Multiplies both learning rates by `factor`, in this session and in the run's config.toml
    /// (so later resumes keep them); returns the config as written.
    pub fn scale_learning_rates(&mut self, factor: f64) -> Result<RunConfig> {
        let mut on_disk = self.run.load_config()?;
        on_disk.train.lr_d *= factor;
        on_disk.train.lr_g *= factor;
        on_disk.train.validate().map_err(|e| match e {
            Error::Config { field, reason } => Error::Config {
                field,
                reason: format!("{reason} (after scaling the learning rates by {factor})"),
            },
            other => other,
        })?;
        self.run.save_config(&on_disk)?;
        self.config.train.lr_d = on_disk.train.lr_d;
        self.config.train.lr_g = on_disk.train.lr_g;
        Ok(on_disk)
    }

    /// Sets one discriminator weight to NaN (fault injection for tests, through
    /// [`super::Command::PoisonWeight`]).
    fn poison_weight(&mut self) {
        struct Poison(bool);
        impl burn::module::ModuleMapper for Poison {
            fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
                if std::mem::replace(&mut self.0, true) {
                    return param;
                }
                param.map(|t| t.mul_scalar(f32::NAN))
            }
        }
        self.discriminator = self.discriminator.clone().map(&mut Poison(false));
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
    pub fn generator(&self) -> Generator {
        self.generator.valid()
    }

    /// The discriminator in inference mode (no autodiff).
    pub fn discriminator(&self) -> Critic {
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

    fn z(&mut self, batch: usize) -> Noise {
        let spec = self.config.model.spec();
        let noise = &mut self.noise;
        spec.noise(
            batch,
            spec.steps(),
            &mut |c| noise.normals(c),
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

    fn next_batch(&mut self) -> (Tensor<4>, Option<Tensor<2>>, bool) {
        let index = self.state.batch_in_epoch as usize;
        let (real, labels) = (self.batch_at(index), self.condition_at(index));
        self.state.batch_in_epoch += 1;
        let ended = self.state.batch_in_epoch >= self.steps_per_epoch();
        if ended {
            self.state.epoch += 1;
            self.state.batch_in_epoch = 0;
            self.order = epoch_order(self.config.seed, self.state.epoch, self.data.train.len());
        }
        (real, labels, ended)
    }

    /// One D update on the next real batch. Returns (loss, mean D(x), mean D(G(z))).
    fn update_discriminator(&mut self, lr: f64) -> Result<((f32, f32, f32), bool)> {
        let (real, labels, ended) = self.next_batch();
        let z = self.z(self.config.train.batch_size);
        let noise = &mut self.noise;
        let mut uniforms = |c| noise.uniforms(c);
        let mut draw = DropoutDraw {
            uniforms: &mut uniforms,
        };
        let gan::Figures {
            loss,
            d_real,
            d_fake,
        } = gan::discriminator_loss(
            self.config.model.spec(),
            &self.generator,
            &self.discriminator,
            real,
            &z,
            labels,
            Some(&mut draw),
            self.state.step,
        )?;
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
        // LAPGAN's levels train on a real batch's low-pass images: the batch D reads next
        // (peeked, not consumed, so the data order is the same with or without G-only steps).
        let index = self.state.batch_in_epoch as usize;
        let real = self
            .config
            .model
            .spec()
            .generator_reads_real()
            .then(|| self.batch_at(index));
        let labels = self.condition_at(index);
        let noise = &mut self.noise;
        let mut uniforms = |c| noise.uniforms(c);
        let mut draw = DropoutDraw {
            uniforms: &mut uniforms,
        };
        let (loss, d_fake) = gan::generator_loss(
            self.config.model.spec(),
            &self.generator,
            &self.discriminator,
            real,
            &z,
            labels,
            Some(&mut draw),
            self.state.step,
        )?;
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
        // A blow-up can leave every loss finite this step and poison the weights; caught here,
        // the step is not counted and nothing is saved from it.
        let updated_d = kind != StepKind::GeneratorOnly && !all_finite(&self.discriminator);
        let updated_g = kind != StepKind::DiscriminatorOnly && !all_finite(&self.generator);
        if updated_d || updated_g {
            return Err(Error::Diverged {
                step: self.state.step + 1,
                what: if updated_d {
                    "a D weight"
                } else {
                    "a G weight"
                }
                .into(),
                value: f32::NAN,
            });
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
        let steps = self.config.model.spec().steps();
        ImageBatch::from_tensor(self.generator.valid().images(
            &self.fixed_z,
            steps,
            self.fixed_labels.clone(),
        ))
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
                ("generator".into(), generator_bytes(&self.generator)?),
                ("discriminator".into(), critic_bytes(&self.discriminator)?),
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
