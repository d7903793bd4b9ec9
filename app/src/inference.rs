//! What every panel that draws hands its background job: where the model comes from — the
//! live training job's networks, or a checkpoint — and the backend it computes on. The studio
//! builds one each frame; no panel picks a backend or a checkpoint on its own.

use std::path::{Path, PathBuf};

use easel_core::backend::BackendKind;
use easel_core::sample::LoadedModel;
use easel_core::train::Snapshot;

/// Inference as the studio has it this frame.
#[derive(Debug, Clone, Default)]
pub struct Inference {
    /// Where inference computes: the backend chosen in the Model panel, or the CPU where that
    /// one cannot be used here (the agreed fall-back; see [`Self::fell_back`]).
    pub backend: BackendKind,
    /// The backend chosen, when it could not be used.
    pub fell_back: Option<BackendKind>,
    /// The run whose job is training or paused, with the networks it last handed over.
    live: Option<(PathBuf, Snapshot)>,
}

impl Inference {
    /// Inference on `chosen` (the CPU where it is unusable here), drawing `live`'s run from its
    /// snapshot.
    pub fn new(chosen: BackendKind, live: Option<(PathBuf, Snapshot)>) -> Self {
        let usable = chosen.usable().is_ok();
        Self {
            backend: if usable { chosen } else { BackendKind::Cpu },
            fell_back: (!usable).then_some(chosen),
            live,
        }
    }

    /// The live job's newest networks, when `run` is the run it trains.
    pub fn live(&self, run: &Path) -> Option<&Snapshot> {
        self.live
            .as_ref()
            .filter(|(r, _)| r == run)
            .map(|(_, snapshot)| snapshot)
    }

    /// The model of `run` on [`Self::backend`]: from `checkpoint` when one is named; else from
    /// the live job's networks while `run` trains or is paused; else from its newest intact
    /// checkpoint. Runs on a background thread (loading reads files and moves weights).
    pub fn load(&self, run: &Path, checkpoint: Option<&Path>) -> easel_core::Result<LoadedModel> {
        match (checkpoint, self.live(run)) {
            (None, Some(snapshot)) => {
                LoadedModel::from_snapshot(run, snapshot.clone(), self.backend)
            }
            _ => LoadedModel::load(run, checkpoint, self.backend),
        }
    }

    /// The model of `run` from `checkpoint` (default: its newest intact one) on
    /// [`Self::backend`], never from the live job: what a bundle, which holds its checkpoint,
    /// is made from.
    pub fn load_checkpoint(
        &self,
        run: &Path,
        checkpoint: Option<&Path>,
    ) -> easel_core::Result<LoadedModel> {
        LoadedModel::load(run, checkpoint, self.backend)
    }

    /// Where a model came from and computes, in words: "the live model at step 318, on cpu".
    pub fn describe(model: &LoadedModel) -> String {
        let from = match model.origin.checkpoint() {
            Some(_) => "the checkpoint",
            None => "the live model",
        };
        format!("{from} at step {}, on {}", model.step, model.backend)
    }

    /// Where a model's weights stand, briefly: "checkpoint step 4" or "live model step 318".
    pub fn step_of(model: &LoadedModel) -> String {
        match model.origin.checkpoint() {
            Some(_) => format!("checkpoint step {}", model.step),
            None => format!("live model step {}", model.step),
        }
    }
}
