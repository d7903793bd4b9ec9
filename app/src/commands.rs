//! How panels talk to the studio: one [`StudioCommand`] enum, queued while the panels draw and
//! carried out once per frame by the studio, which owns the training job, the runs and the
//! navigation; and the [`PanelContext`] every panel draws with.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};

use easel_core::data::DataSource;
use easel_core::train::{Command, RunConfig};

use crate::inference::Inference;
use crate::picker::{FolderPicker, Wake};
use crate::worker::{Jobs, Pending};

/// Something a panel asks the studio to do.
#[derive(Debug, Clone)]
pub enum StudioCommand {
    /// Start a new run with this config in this folder.
    Start(PathBuf, Box<RunConfig>),
    /// Continue a run's training from its newest checkpoint (refused while a run trains: one
    /// job at a time; the Train panel shows the live one).
    Resume(PathBuf),
    /// Send the training job a command: pause, resume, stop, a single step, save now, roll back.
    Job(Command),
    /// Draw a run in the Canvas: from this checkpoint, or (none) its live model or newest
    /// checkpoint.
    OpenInCanvas(PathBuf, Option<PathBuf>),
    /// Keep a run in the recent list.
    Remember(PathBuf),
    /// Show a preset's data in the Data panel (the Model panel picked the preset).
    UseData(DataSource),
}

/// Where panels queue [`StudioCommand`]s this frame (a channel: queued from a shared context).
#[derive(Debug, Clone)]
pub struct Commands(Sender<StudioCommand>);

impl Commands {
    /// A queue and the end the studio drains.
    pub fn channel() -> (Self, Receiver<StudioCommand>) {
        let (tx, rx) = mpsc::channel();
        (Self(tx), rx)
    }

    /// Queues `command` for the end of the frame.
    pub fn send(&self, command: StudioCommand) {
        // The studio holds the receiver for as long as any panel draws.
        let _ = self.0.send(command);
    }
}

/// What every panel draws with: how to reach the studio and core this frame.
pub struct PanelContext<'a> {
    /// Where inference computes and what it draws from.
    pub inference: &'a Inference,
    /// The studio's queue.
    pub commands: &'a Commands,
    /// Folder dialogs.
    pub picker: &'a dyn FolderPicker,
    /// Where one-shot background jobs start (the studio lists what runs).
    pub jobs: &'a Jobs,
    /// Repaints when a background job answers.
    pub wake: Wake,
}

impl PanelContext<'_> {
    /// Queues `command` for the studio.
    pub fn send(&self, command: StudioCommand) {
        self.commands.send(command);
    }

    /// Runs `work` on a background thread named `name`, listed with the studio's jobs; the
    /// studio repaints when it answers.
    pub fn spawn<T: Send + 'static>(
        &self,
        name: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Pending<T> {
        let wake = self.wake.clone();
        self.jobs.spawn(name, move || wake(), work)
    }
}
