//! Training: the run config, the loop, checkpoints, the run folder, and the job that runs it on
//! a named thread behind [`Command`]s and [`Event`]s.

pub mod checkpoint;
pub mod config;
pub mod curves;
pub mod events;
pub mod follow;
pub mod job;
pub mod overrides;
pub mod run_dir;
pub mod sweep;
pub mod trainer;

pub use config::{ModelConfig, Preset, RunConfig, TrainConfig};
pub use curves::{Curves, Metric};
pub use events::{Command, Divergence, Event, StepKind, StepStats, StopReason};
pub use follow::{RunFollower, WriterState};
pub use job::{JobStart, LiveSlot, Snapshot, TrainingJob};
pub use overrides::Override;
pub use run_dir::RunDir;
pub use sweep::Sweep;
pub use trainer::Trainer;
