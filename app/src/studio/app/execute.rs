//! The studio carrying out what the panels asked for this frame: one [`StudioCommand`] at a
//! time, after every panel has drawn.

use easel_core::train::JobStart;

use super::Studio;
use crate::commands::{PanelContext, StudioCommand};
use crate::inference::Inference;
use crate::panels::PanelKind;
use crate::picker::Wake;
use crate::worker::TrainSession;

impl Studio {
    /// Carries out one panel's command (see [`StudioCommand`]).
    pub(super) fn execute(
        &mut self,
        command: StudioCommand,
        ctx: &egui::Context,
        inference: &Inference,
        wake: &Wake,
    ) {
        match command {
            StudioCommand::Start(run_dir, config) => {
                self.start(JobStart::New { run_dir, config }, ctx);
            }
            StudioCommand::Resume(run_dir) => {
                if self.session.as_ref().is_some_and(TrainSession::is_live) {
                    // One job at a time: the Train panel shows the live one.
                    self.state.panel = PanelKind::Train;
                } else {
                    let start = JobStart::Resume {
                        run_dir,
                        backend: None,
                    };
                    self.start(start, ctx);
                }
            }
            StudioCommand::Job(command) => {
                if let Some(s) = &self.session {
                    s.send(command);
                }
            }
            StudioCommand::OpenInCanvas(dir, checkpoint) => {
                self.canvas_run = Some(dir.clone());
                self.state.canvas.checkpoint = checkpoint;
                let cx = PanelContext {
                    inference,
                    commands: &self.commands,
                    picker: self.picker.as_ref(),
                    jobs: &self.jobs,
                    wake: wake.clone(),
                };
                self.state.canvas.draw(&dir, &cx);
                self.state.panel = PanelKind::Canvas;
                self.remember(dir);
            }
            StudioCommand::Remember(dir) => self.remember(dir),
            StudioCommand::UseData(source) => self.state.data.set_source(&source),
        }
    }
}
