//! The training loop: one D update then one G update per batch with the non-saturating BCE loss,
//! Adam for each network, fixed-z sample grids, atomic checkpoints and exact resume.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use super::checkpoint::{self, Checkpoint, TrainingState};
use super::config::RunConfig;
use super::events::{Event, StepKind, StepStats};
use super::run_dir::{EventLog, RunDir};
use crate::model::records::network_bytes;
use crate::noise::NoiseStream;
use recovery::{all_finite, check_finite};

mod parallel;
mod recovery;
mod session;
mod setup;
mod text;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::eval::collapse::CollapseWatch;
use crate::export;
use crate::images::ImageBatch;
use crate::model::gan::{Conditions, Gan, Networks, Pair, each_model};
use crate::model::lapgan::DropoutDraw;

/// What a trainer's set-up reports: what it is doing, and the fraction done when known.
pub type Preparing<'a> = &'a mut dyn FnMut(&str, Option<f32>);

/// Noise stream ids derived from the run's seed.
const TRAIN_NOISE_STREAM: u64 = 1;
const FIXED_NOISE_STREAM: u64 = 2;
const ORDER_STREAM: u64 = 3;

/// A GAN in training, with everything needed to continue it exactly.
pub struct Trainer {
    run: RunDir,
    config: RunConfig,
    data: Dataset,
    device: Device,
    /// Data parallel: the devices each batch is split over, the first `device` (empty: one).
    shards: Vec<Device>,
    /// Both networks, with autodiff.
    networks: Networks,
    optim_g: ModuleOptimizer,
    optim_d: ModuleOptimizer,
    state: TrainingState,
    noise: NoiseStream,
    order: Vec<usize>,
    /// The fixed grid's condition: class one-hots or sentence embeddings.
    fixed_labels: Option<Tensor<2>>,
    /// A text model's captions and their embeddings.
    text: Option<text::TextConditions>,
    log: EventLog,
    collapse: CollapseWatch,
    images_per_second: f64,
    /// Seconds this session has worked: steps, their sample grids and checkpoints (what
    /// `train.minutes` counts), not pauses.
    session_seconds: f64,
    last_checkpoint_step: Option<u64>,
    warnings: Vec<String>,
    /// The step that diverged, until a step succeeds or the run rolls back.
    diverged: Option<u64>,
    /// Where the networks are published for the studio (see [`super::job::Snapshot`]).
    live: Option<super::job::LiveSlot>,
}

impl Trainer {
    /// Seconds this session has worked: training steps with their sample grids and checkpoints,
    /// not time spent paused. `train.minutes` is a budget of these.
    pub fn session_seconds(&self) -> f64 {
        self.session_seconds
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

    /// Both networks in inference mode (no autodiff): a snapshot of the model as it stands.
    pub fn networks(&self) -> Networks {
        self.networks.valid()
    }

    /// Batches per epoch (the last partial batch is dropped).
    pub fn steps_per_epoch(&self) -> u64 {
        (self.data.train.len() / self.distinct_per_batch()) as u64
    }

    /// Whether each batch holds half a batch of images, each twice (mode seeking's pairs).
    fn paired(&self) -> bool {
        matches!(&self.config.model, super::ModelConfig::StackGan(s) if s.mode_seeking > 0.0)
    }

    /// The distinct training images in a batch.
    fn distinct_per_batch(&self) -> usize {
        let b = self.config.train.batch_size;
        if self.paired() { b / 2 } else { b }
    }

    /// The training images of the `index`-th batch of this epoch's order: the next
    /// [`Self::distinct_per_batch`], twice over when paired.
    pub fn batch_images(&self, index: usize) -> Vec<usize> {
        let n = self.distinct_per_batch();
        let images = &self.order[index * n..(index + 1) * n];
        if self.paired() {
            images.iter().chain(images).copied().collect()
        } else {
            images.to_vec()
        }
    }

    /// The step at which `max_steps` or `epochs` stops the run, when either is set.
    pub fn target_step(&self) -> Option<u64> {
        let by_epochs = self.config.train.epochs.map(|e| e * self.steps_per_epoch());
        match (self.config.train.max_steps, by_epochs) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The `index`-th batch of the current epoch's order.
    fn batch_at(&self, index: usize) -> Tensor<4> {
        let b = self.config.train.batch_size;
        let indices = self.batch_images(index);
        let set = &self.data.train;
        let pixels = set.batch_f32(&indices);
        Tensor::from_data(
            TensorData::new(pixels, [b, set.channels, set.height, set.width]),
            &self.device.clone().autodiff(),
        )
    }

    /// The next real batch with what D reads beside it.
    fn next_batch(&mut self) -> Batch {
        let index = self.state.batch_in_epoch as usize;
        let real = self.batch_at(index);
        let (condition, counterparts) = self.conditions_at(index);
        let classes = self.classes_at(index);
        self.state.batch_in_epoch += 1;
        let ended = self.state.batch_in_epoch >= self.steps_per_epoch();
        if ended {
            self.state.epoch += 1;
            self.state.batch_in_epoch = 0;
            self.order = epoch_order(self.config.seed, self.state.epoch, self.data.train.len());
        }
        Batch {
            real,
            condition,
            counterparts,
            classes,
            ended,
        }
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
        let d_batch = (kind != StepKind::GeneratorOnly).then(|| self.next_batch());
        let epoch_ended = d_batch.as_ref().is_some_and(|b| b.ended);
        // A G-only step draws afresh: the condition of the batch D reads next, and for LAPGAN
        // that batch's low-pass images (peeked, not consumed, so the data order is the same
        // with or without G-only steps).
        let g_fresh = (kind == StepKind::GeneratorOnly).then(|| {
            let index = self.state.batch_in_epoch as usize;
            let condition = self.condition_at(index);
            let reads_real =
                each_model!(&self.networks, Networks, p => p.model.generator_reads_real());
            (condition, reads_real.then(|| self.batch_at(index)))
        });
        let mut io = Io {
            noise: &mut self.noise,
            optim_d: &mut self.optim_d,
            optim_g: &mut self.optim_g,
            state: &mut self.state,
            device: self.device.clone().autodiff(),
            devices: self.shards.iter().map(|d| d.clone().autodiff()).collect(),
            batch_size: self.config.train.batch_size,
            rates: (lr_d, lr_g),
        };
        let devices = std::mem::take(&mut io.devices);
        let (d, g) = if devices.len() > 1 {
            each_model!(&mut self.networks, Networks, p => parallel::iterate(p, &mut io, d_batch, g_fresh, kind, &devices))?
        } else {
            each_model!(&mut self.networks, Networks, p => iterate(p, &mut io, d_batch, g_fresh, kind))?
        };
        if let Some((loss, real, fake)) = d {
            (stats.d_loss, stats.d_real, stats.d_fake) = (Some(loss), Some(real), Some(fake));
        }
        if let Some((loss, fake)) = g {
            stats.g_loss = Some(loss);
            stats.d_fake.get_or_insert(fake);
        }
        self.state.step += 1;
        self.state.noise_word_pos = self.noise.word_pos().to_string();
        let seconds = started.elapsed().as_secs_f64();
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
    ///
    /// The grid's noise is drawn afresh from the run's seed each time, the same every time; GRAN
    /// with noise per step draws z for three times T, so the grid can show longer drawings.
    pub fn fixed_samples(&self) -> ImageBatch {
        let n = self.config.train.sample_count;
        let mut fixed = NoiseStream::new(self.config.seed, FIXED_NOISE_STREAM);
        let labels = self.fixed_labels.clone();
        let images = each_model!(&self.networks, Networks, p => {
            let steps = p.model.steps();
            let z = p.model.noise(n, 3 * steps, &mut |c| fixed.normals(c), &self.device);
            p.model.images(&p.generator.valid(), &z, steps, labels)
        });
        ImageBatch::from_tensor(images)
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
        let finite = each_model!(&self.networks, Networks, p => all_finite(&p.generator) && all_finite(&p.critic));
        if !finite {
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
        let (generator, discriminator) = network_bytes(&self.networks)?;
        let ckpt = Checkpoint {
            state: self.state.clone(),
            config_toml: self.config.to_toml(),
            sections: vec![
                ("generator".into(), generator),
                ("discriminator".into(), discriminator),
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

/// A real batch as [`Trainer`]'s D step reads it.
struct Batch {
    /// `[b, c, h, w]` in `[0, 1]`.
    real: Tensor<4>,
    /// Class one-hots or sentence embeddings.
    condition: Option<Tensor<2>>,
    /// Embeddings of the images' counterparts' captions (StackGAN's counterpart mismatch).
    counterparts: Option<Tensor<2>>,
    /// The images' labels, when they have them.
    classes: Option<Vec<u32>>,
    /// Whether the batch ended an epoch.
    ended: bool,
}

/// A D update's (loss, mean D(x), mean D(G(z))).
type DFigures = (f32, f32, f32);
/// A G update's (loss, mean D(G(z))).
type GFigures = (f32, f32);

/// What one iteration's networks update with: the noise stream, both optimisers and the
/// training state, borrowed from the [`Trainer`] beside its networks.
struct Io<'a> {
    noise: &'a mut NoiseStream,
    optim_d: &'a mut burn::optim::ModuleOptimizer,
    optim_g: &'a mut burn::optim::ModuleOptimizer,
    state: &'a mut TrainingState,
    /// The autodiff device.
    device: Device,
    /// Data parallel: every device a batch is split over (autodiff), the first `device`; empty
    /// on one device.
    devices: Vec<Device>,
    batch_size: usize,
    /// (D's, G's) learning rates.
    rates: (f64, f64),
}

/// One iteration of `kind` on `p`: a D update on `d_batch` (when given), then a G update on the
/// D update's drawing, or (a G-only step) on a fresh drawing with `g_fresh`'s condition and
/// real batch. Returns the D figures (loss, mean D(x), mean D(G(z))) and G's (loss, mean
/// D(G(z))), as taken. A non-finite loss stops it before its update; a non-finite weight after.
fn iterate<M: Gan>(
    p: &mut Pair<M>,
    io: &mut Io,
    d_batch: Option<Batch>,
    g_fresh: Option<(Option<Tensor<2>>, Option<Tensor<4>>)>,
    kind: StepKind,
) -> Result<(Option<DFigures>, Option<GFigures>)> {
    let (lr_d, lr_g) = io.rates;
    let step = io.state.step;
    let mut d_figures = None;
    let mut drawn = None;
    if let Some(batch) = d_batch {
        let z = p
            .model
            .training_noise(io.batch_size, &mut |c| io.noise.normals(c), &io.device);
        let noise = &mut *io.noise;
        let mut uniforms = |c| noise.uniforms(c);
        let mut draw = DropoutDraw {
            uniforms: &mut uniforms,
        };
        let conditions = Conditions {
            condition: batch.condition.clone(),
            classes: batch.classes.as_deref(),
            counterparts: batch.counterparts,
        };
        let f = p.model.discriminator_loss(
            &p.generator,
            &p.critic,
            batch.real,
            &z,
            conditions,
            Some(&mut draw),
            step,
        )?;
        let figures = read3(&f.loss, &f.d_real, &f.d_fake);
        check_finite(step + 1, "D loss", figures.0)?;
        let grads = GradientsParams::from_grads(f.loss.backward(), &p.critic);
        p.critic = io.optim_d.step(lr_d, p.critic.clone(), grads);
        io.state.d_updates += 1;
        d_figures = Some(figures);
        drawn = Some((z, batch.condition, f.fakes));
    }
    let mut g_figures = None;
    if kind != StepKind::DiscriminatorOnly {
        let (z, condition, fakes, real) = match (drawn, g_fresh) {
            (Some((z, condition, fakes)), _) => (z, condition, Some(fakes), None),
            (None, fresh) => {
                let (condition, real) = fresh.unwrap_or_default();
                let z =
                    p.model
                        .training_noise(io.batch_size, &mut |c| io.noise.normals(c), &io.device);
                (z, condition, None, real)
            }
        };
        let noise = &mut *io.noise;
        let mut uniforms = |c| noise.uniforms(c);
        let mut draw = DropoutDraw {
            uniforms: &mut uniforms,
        };
        let (loss, d_fake) = p.model.generator_loss(
            &p.generator,
            &p.critic,
            real,
            &z,
            condition,
            fakes,
            Some(&mut draw),
            step,
        )?;
        let (g_loss, d_fake, _) = read3(&loss, &d_fake, &d_fake);
        check_finite(step + 1, "G loss", g_loss)?;
        let grads = GradientsParams::from_grads(loss.backward(), &p.generator);
        p.generator = io.optim_g.step(lr_g, p.generator.clone(), grads);
        io.state.g_updates += 1;
        g_figures = Some((g_loss, d_fake));
    }
    check_weights(p, kind, step)?;
    Ok((d_figures, g_figures))
}

/// After an iteration of `kind` at `step`: a blow-up can leave every loss finite and poison the
/// weights it updated; caught here, the step is not counted and nothing is saved from it.
fn check_weights<M: Gan>(p: &Pair<M>, kind: StepKind, step: u64) -> Result<()> {
    let updated_d = kind != StepKind::GeneratorOnly && !all_finite(&p.critic);
    let updated_g = kind != StepKind::DiscriminatorOnly && !all_finite(&p.generator);
    if updated_d || updated_g {
        return Err(Error::Diverged {
            step: step + 1,
            what: if updated_d {
                "a D weight"
            } else {
                "a G weight"
            }
            .into(),
            value: f32::NAN,
        });
    }
    Ok(())
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
