//! What flows between a training job and whoever drives it: [`Command`]s in, [`Event`]s out.
//! The CLI and the studio are both just listeners.

use std::path::PathBuf;

use crate::eval::collapse::CollapseReading;

use serde::{Deserialize, Serialize};

use crate::images::ImageBatch;

/// A loss or weight that stopped being finite, and where a roll-back would go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    /// The step that diverged.
    pub step: u64,
    /// What was not finite (`D loss`, `G loss`, `a D weight`, `a G weight`).
    pub what: String,
    /// The value found.
    pub value: f32,
    /// The step of the newest intact checkpoint, when there is one.
    pub last_good: Option<u64>,
}

/// A request to a running training job; answered at the next step boundary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Command {
    /// Stop stepping until `Resume`, `StepD`, `StepG` or `Stop`.
    Pause,
    /// Continue after `Pause`.
    Resume,
    /// Save a checkpoint and end the job.
    Stop,
    /// One discriminator update on the next batch (GAN Lab's single step).
    StepD,
    /// One generator update.
    StepG,
    /// Write a checkpoint now.
    SaveNow,
    /// After a divergence: reload the newest intact checkpoint (weights, optimizers, data order
    /// and noise) with both learning rates multiplied by `lr_scale` (in (0, 1]), written to the
    /// run's config.toml; stays paused.
    RollBack {
        /// Factor on both learning rates.
        lr_scale: f64,
    },
    /// Fault injection (what the divergence tests send): sets one discriminator weight to NaN,
    /// as a numerical blow-up would, so the next step diverges. Only in builds with the
    /// `fault-injection` feature, which the test crates turn on.
    #[cfg(feature = "fault-injection")]
    PoisonWeight,
}

/// Which updates a step made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// One D update then one G update.
    Full,
    /// A single D update.
    DiscriminatorOnly,
    /// A single G update.
    GeneratorOnly,
}

/// Figures of one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// Steps taken so far, this one included.
    pub step: u64,
    /// Whole epochs completed.
    pub epoch: u64,
    /// Fraction of the current epoch drawn.
    pub epoch_progress: f64,
    /// What the step updated.
    pub kind: StepKind,
    /// D's loss, `-log D(x) - log(1 - D(G(z)))`, when D was updated.
    pub d_loss: Option<f32>,
    /// G's non-saturating loss, `-log D(G(z))`, when G was updated.
    pub g_loss: Option<f32>,
    /// Mean D(x) on the real batch, when D was updated.
    pub d_real: Option<f32>,
    /// Mean D(G(z)) on the batch G was scored on.
    pub d_fake: Option<f32>,
    /// Training images per second, smoothed.
    pub images_per_second: f64,
    /// Learning rates (D, G) in force.
    pub learning_rates: (f64, f64),
    /// Training seconds over all sessions.
    pub elapsed_seconds: f64,
}

/// Why a job ended normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// `train.max_steps` reached.
    MaxSteps,
    /// `train.epochs` reached.
    Epochs,
    /// `train.minutes` used up.
    TimeBudget,
    /// A `Stop` command, or the driver went away.
    Requested,
}

/// Something a training job reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// Set-up before the first step: what it is doing (loading data, training a text run's
    /// built-in encoder, embedding captions) and the fraction done, when known.
    Preparing {
        /// In words.
        what: String,
        /// In `[0, 1]`.
        fraction: Option<f32>,
    },
    /// The job is ready and about to step.
    Started {
        /// The run folder.
        run_dir: PathBuf,
        /// The step it starts from (0, or the checkpoint's).
        step: u64,
        /// Steps per epoch.
        steps_per_epoch: u64,
        /// The step it will stop at, when known (`train.max_steps` or `train.epochs`).
        target_step: Option<u64>,
        /// Warnings (e.g. a damaged newest checkpoint skipped).
        warnings: Vec<String>,
    },
    /// A step finished.
    Step(StepStats),
    /// An epoch finished.
    EpochEnd {
        /// Epochs completed.
        epoch: u64,
        /// At step.
        step: u64,
    },
    /// The fixed-z sample grid at `step`.
    Samples {
        /// At step.
        step: u64,
        /// The images, also saved as `path`.
        #[serde(skip)]
        images: ImageBatch,
        /// The grid PNG in the run's `samples/` folder.
        path: PathBuf,
        /// The mode-collapse watch's reading of the grid (absent in logs of older runs).
        #[serde(default)]
        collapse: Option<CollapseReading>,
    },
    /// A checkpoint was written.
    Checkpoint {
        /// At step.
        step: u64,
        /// The file.
        path: PathBuf,
    },
    /// Stepping paused.
    Paused {
        /// At step.
        step: u64,
    },
    /// Stepping resumed.
    Resumed {
        /// At step.
        step: u64,
    },
    /// The job ended normally.
    Finished {
        /// At step.
        step: u64,
        /// Why.
        reason: StopReason,
    },
    /// A loss or a weight became NaN or infinite: no update of that step was kept, the newest
    /// checkpoint is untouched, and the job is paused until it is rolled back, resumed or
    /// stopped.
    Diverged(Divergence),
    /// The job went back to a checkpoint after a divergence.
    RolledBack {
        /// The step it was at.
        from_step: u64,
        /// The checkpoint's step, where it now is.
        to_step: u64,
        /// The learning rates from now on (D, G).
        learning_rates: (f64, f64),
    },
    /// The job ended with an error (nothing was overwritten).
    Error {
        /// At step, when known.
        step: Option<u64>,
        /// The error in words.
        message: String,
    },
}

/// Events as a test builds its logs from.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Event, StepKind, StepStats};

    /// A full step whose D loss is its number.
    pub(crate) fn step(step: u64) -> Event {
        Event::Step(StepStats {
            step,
            epoch: 0,
            epoch_progress: 0.0,
            kind: StepKind::Full,
            d_loss: Some(step as f32),
            g_loss: None,
            d_real: None,
            d_fake: None,
            images_per_second: 0.0,
            learning_rates: (1e-4, 1e-4),
            elapsed_seconds: 0.0,
        })
    }

    /// A session starting at `step`, of 10 steps an epoch, stopping at `target_step`.
    pub(crate) fn started(step: u64, target_step: Option<u64>) -> Event {
        Event::Started {
            run_dir: std::path::PathBuf::new(),
            step,
            steps_per_epoch: 10,
            target_step,
            warnings: Vec::new(),
        }
    }
}
