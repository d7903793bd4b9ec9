//! A training job on a named thread: commands in through a channel, events out through another,
//! and a wake-up callback (the studio passes `ctx.request_repaint`).

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::config::RunConfig;
use super::events::{Command, Event};
use super::trainer::Trainer;
use crate::backend::BackendKind;
use crate::model::gan::Networks;

/// How a job begins.
#[derive(Debug, Clone)]
pub enum JobStart {
    /// A new run in a new folder.
    New {
        /// The run folder to create.
        run_dir: PathBuf,
        /// Its config.
        config: Box<RunConfig>,
    },
    /// Continue an existing run from its newest intact checkpoint.
    Resume {
        /// The run folder.
        run_dir: PathBuf,
        /// A backend other than the config's, if wanted.
        backend: Option<BackendKind>,
    },
}

/// A training job's networks as they stood at `step`, handed over by the job (when training
/// starts, with every sample grid, on pause, roll-back and finish): what the studio draws from
/// while a run is training or paused, before or between its checkpoints.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The step the networks are at.
    pub step: u64,
    /// The run's config.
    pub config: RunConfig,
    /// Both networks, in inference mode, on the training device.
    pub networks: Networks,
}

/// Where a trainer publishes its [`Snapshot`]s.
pub type LiveSlot = Arc<Mutex<Option<Snapshot>>>;

/// A running (or finished) training job.
pub struct TrainingJob {
    commands: Sender<Command>,
    events: Receiver<Event>,
    thread: Option<JoinHandle<()>>,
    live: LiveSlot,
}

impl TrainingJob {
    /// Starts the job on a thread named `easel-train`. Set-up errors (bad data, missing backend)
    /// arrive as an [`Event::Error`]; `wake` is called after every event.
    pub fn spawn(start: JobStart, wake: impl Fn() + Send + 'static) -> std::io::Result<Self> {
        let (command_tx, command_rx) = mpsc::channel();
        let (event_tx, event_rx) = mpsc::channel();
        let live = LiveSlot::default();
        let published = live.clone();
        let thread = std::thread::Builder::new()
            .name("easel-train".into())
            .spawn(move || {
                let mut sink = |event: Event| {
                    let _ = event_tx.send(event);
                    wake();
                };
                let mut preparing = |what: &str, fraction: Option<f32>| {
                    sink(Event::Preparing {
                        what: what.to_string(),
                        fraction,
                    })
                };
                let trainer = match start {
                    JobStart::New { run_dir, config } => {
                        Trainer::create_reporting(run_dir, *config, &mut preparing)
                    }
                    JobStart::Resume { run_dir, backend } => {
                        Trainer::resume_reporting(run_dir, backend, &mut preparing)
                    }
                };
                match trainer {
                    Ok(mut trainer) => {
                        trainer.share_live(published);
                        let _ = trainer.run(&command_rx, &mut sink);
                    }
                    Err(e) => sink(Event::Error {
                        step: None,
                        message: e.to_string(),
                    }),
                }
            })?;
        Ok(Self {
            commands: command_tx,
            events: event_rx,
            thread: Some(thread),
            live,
        })
    }

    /// Where the job hands its networks over: read it when a model is wanted (a snapshot
    /// shares the weights, but copying it every frame is work for nothing).
    pub fn live(&self) -> LiveSlot {
        self.live.clone()
    }

    /// Sends a command; false when the job has ended.
    pub fn send(&self, command: Command) -> bool {
        self.commands.send(command).is_ok()
    }

    /// Events that arrived since the last call, without blocking.
    pub fn drain(&self) -> Vec<Event> {
        self.events.try_iter().collect()
    }

    /// Waits for the next event; `None` once the job has ended and every event was read.
    pub fn next_event(&self) -> Option<Event> {
        self.events.recv().ok()
    }

    /// Whether the thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Waits for the thread to end.
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
