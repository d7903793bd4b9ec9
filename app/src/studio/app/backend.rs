//! A run asked to train on a backend this machine cannot use (a GPU run opened on a laptop, a
//! backend chosen on another machine): the studio says why and trains on the CPU only when the
//! user agrees.

use easel_core::backend::BackendKind;
use easel_core::train::{JobStart, RunDir};

use super::Studio;

/// A start held back until the user answers.
pub(super) struct BackendQuestion {
    start: JobStart,
    why: String,
}

impl BackendQuestion {
    /// What the held-back start will do, for the Train panel behind the question.
    pub(super) fn describe(&self) -> String {
        match &self.start {
            JobStart::New { run_dir, config } => format!(
                "Waiting for an answer: the new run {} into {}",
                config.model.label(),
                run_dir.display()
            ),
            JobStart::Resume { run_dir, .. } => format!(
                "Waiting for an answer: resuming {} from its newest intact checkpoint",
                run_dir.display()
            ),
        }
    }
}

impl Studio {
    /// The backend `start` would train on, or why it cannot, when that is not the CPU.
    pub(super) fn unusable_backend(start: JobStart) -> Result<JobStart, BackendQuestion> {
        let asked = match &start {
            JobStart::New { config, .. } => config.backend,
            JobStart::Resume {
                backend: Some(b), ..
            } => *b,
            // A run folder that does not load is reported by the job itself.
            JobStart::Resume { run_dir, .. } => match RunDir::new(run_dir).load_config() {
                Ok(config) => config.backend,
                Err(_) => return Ok(start),
            },
        };
        match asked.usable() {
            Ok(()) => Ok(start),
            Err(why) => Err(BackendQuestion { start, why }),
        }
    }

    /// The question, while one is open: train on the CPU, or cancel.
    pub(super) fn backend_question_ui(&mut self, ctx: &egui::Context) {
        let Some(question) = &self.backend_question else {
            return;
        };
        let mut answer = None;
        egui::Modal::new(egui::Id::unique("backend-unavailable")).show(ctx, |ui| {
            ui.heading("This backend cannot be used here");
            ui.label(&question.why);
            ui.label("Train on the CPU instead? It is slower; nothing else about the run changes.");
            ui.horizontal(|ui| {
                if ui.button("Train on the CPU").clicked() {
                    answer = Some(true);
                }
                if ui.button("Cancel").clicked() {
                    answer = Some(false);
                }
            });
        });
        let Some(agreed) = answer else { return };
        let question = self.backend_question.take().expect("open");
        self.train.held_back = None;
        if agreed {
            let start = match question.start {
                JobStart::New {
                    run_dir,
                    mut config,
                } => {
                    config.backend = BackendKind::Cpu;
                    self.state.model.config.backend = BackendKind::Cpu;
                    JobStart::New { run_dir, config }
                }
                JobStart::Resume { run_dir, .. } => JobStart::Resume {
                    run_dir,
                    backend: Some(BackendKind::Cpu),
                },
            };
            self.start(start, ctx);
        }
    }
}
