//! What every panel that draws hands its background job: where the model comes from — the
//! live training job's networks, or a checkpoint — and the backend it computes on. The studio
//! builds one each frame; no panel picks a backend or a checkpoint on its own.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use easel_core::backend::BackendKind;
use easel_core::sample::LoadedModel;
use easel_core::train::{LiveSlot, Snapshot, checkpoint};

/// Models kept loaded, newest last: drawing again from the same checkpoint file (unchanged) or
/// the same live snapshot, on the same backend, loads nothing.
pub const KEPT_MODELS: usize = 4;

/// What a loaded model was loaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    /// A checkpoint file as it stood (its length and modification time), or the newest one of a
    /// run when none was named.
    Checkpoint {
        run: PathBuf,
        path: PathBuf,
        named: bool,
        len: u64,
        modified: Option<SystemTime>,
        backend: BackendKind,
    },
    /// A training job's snapshot of a run at a step.
    Live {
        run: PathBuf,
        step: u64,
        backend: BackendKind,
    },
}

/// The loaded models the studio keeps across frames (shared by every [`Inference`] it builds).
#[derive(Debug, Default, Clone)]
pub struct ModelCache(Arc<Mutex<VecDeque<Kept>>>);

/// A kept model with what it was loaded from.
type Kept = (Key, Arc<LoadedModel>);

impl ModelCache {
    fn get(&self, key: &Key) -> Option<Arc<LoadedModel>> {
        let models = self.0.lock().ok()?;
        models
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, m)| m.clone())
    }

    fn keep(&self, key: Key, model: Arc<LoadedModel>) {
        if let Ok(mut models) = self.0.lock() {
            models.retain(|(k, _)| k != &key);
            if models.len() == KEPT_MODELS {
                models.pop_front();
            }
            models.push_back((key, model));
        }
    }

    /// How many models are kept.
    pub fn len(&self) -> usize {
        self.0.lock().map_or(0, |m| m.len())
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Inference as the studio has it this frame.
#[derive(Debug, Clone, Default)]
pub struct Inference {
    /// Where inference computes: the backend chosen in the Model panel, or the CPU where that
    /// one cannot be used here (the agreed fall-back; see [`Self::fell_back`]).
    pub backend: BackendKind,
    /// The backend chosen, when it could not be used.
    pub fell_back: Option<BackendKind>,
    /// The run whose job is training or paused, with where it hands its networks over (read
    /// when a model is loaded, on the loading thread).
    live: Option<(PathBuf, LiveSlot)>,
    /// The models loaded so far.
    cache: ModelCache,
}

impl Inference {
    /// Inference on `chosen` (the CPU where it is unusable here), drawing `live`'s run from its
    /// snapshot.
    pub fn new(chosen: BackendKind, live: Option<(PathBuf, LiveSlot)>, cache: ModelCache) -> Self {
        let usable = chosen.usable().is_ok();
        Self {
            backend: if usable { chosen } else { BackendKind::Cpu },
            fell_back: (!usable).then_some(chosen),
            live,
            cache,
        }
    }

    /// Whether `run` is the run this studio's job trains (or holds paused).
    pub fn trains(&self, run: &Path) -> bool {
        self.live.as_ref().is_some_and(|(r, _)| r == run)
    }

    /// The live job's newest networks, when `run` is the run it trains.
    pub fn live(&self, run: &Path) -> Option<Snapshot> {
        let (_, slot) = self.live.as_ref().filter(|(r, _)| r == run)?;
        slot.lock().ok()?.clone()
    }

    /// The model of `run` on [`Self::backend`]: from `checkpoint` when one is named; else from
    /// the live job's networks while `run` trains or is paused; else from its newest intact
    /// checkpoint. Loaded once: the same file unchanged, or the same snapshot, on the same
    /// backend comes from the studio's cache. Runs on a background thread (loading reads files
    /// and moves weights).
    pub fn load(
        &self,
        run: &Path,
        checkpoint: Option<&Path>,
    ) -> easel_core::Result<Arc<LoadedModel>> {
        let backend = self.backend;
        if let (None, Some(snapshot)) = (checkpoint, self.live(run)) {
            let key = Key::Live {
                run: run.to_path_buf(),
                step: snapshot.step,
                backend,
            };
            return self.cached(key, || LoadedModel::from_snapshot(run, snapshot, backend));
        }
        self.load_checkpoint(run, checkpoint)
    }

    /// The model of `run` from `checkpoint` (default: its newest intact one) on
    /// [`Self::backend`], never from the live job: what a bundle, which holds its checkpoint,
    /// is made from. Cached as [`Self::load`] caches.
    pub fn load_checkpoint(
        &self,
        run: &Path,
        checkpoint: Option<&Path>,
    ) -> easel_core::Result<Arc<LoadedModel>> {
        let backend = self.backend;
        let path = match checkpoint {
            Some(p) => Some(p.to_path_buf()),
            None => checkpoint::list(&run.join("checkpoints"))
                .ok()
                .and_then(|mut kept| kept.pop())
                .map(|(_, p)| p),
        };
        let metadata = path.as_ref().and_then(|p| std::fs::metadata(p).ok());
        let (Some(path), Some(metadata)) = (path, metadata) else {
            // Nothing to key on: load, and let the loader say what is missing.
            return LoadedModel::load(run, checkpoint, backend).map(Arc::new);
        };
        let key = Key::Checkpoint {
            run: run.to_path_buf(),
            path,
            named: checkpoint.is_some(),
            len: metadata.len(),
            modified: metadata.modified().ok(),
            backend,
        };
        self.cached(key, || LoadedModel::load(run, checkpoint, backend))
    }

    /// The model of `key` from the cache, else `load`ed and kept.
    fn cached(
        &self,
        key: Key,
        load: impl FnOnce() -> easel_core::Result<LoadedModel>,
    ) -> easel_core::Result<Arc<LoadedModel>> {
        if let Some(model) = self.cache.get(&key) {
            return Ok(model);
        }
        let model = Arc::new(load()?);
        self.cache.keep(key, model.clone());
        Ok(model)
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

#[cfg(test)]
mod tests {
    use easel_core::model::gran::GranConfig;
    use easel_core::train::{ModelConfig, RunConfig, StopReason, Trainer};

    use super::*;

    fn tiny() -> RunConfig {
        let mut c = RunConfig {
            model: ModelConfig::Gran(GranConfig {
                image_size: 16,
                channels: 3,
                steps: 2,
                z_dim: 8,
                hz_dim: 16,
                hc_dim: 16,
                decoder_widths: vec![16, 8, 3],
                discriminator_widths: vec![8, 16],
                kernel_size: 4,
                ..GranConfig::default()
            }),
            ..RunConfig::default()
        };
        c.data = easel_core::data::DataSource::Shapes {
            train_count: 32,
            test_count: 8,
            seed: 0,
        };
        c.train.batch_size = 16;
        c.train.sample_count = 4;
        c
    }

    fn train_to(t: &mut Trainer, steps: u64) {
        t.set_schedule(Some(steps), None, None).unwrap();
        let (_tx, rx) = std::sync::mpsc::channel();
        assert_eq!(t.run(&rx, &mut |_| {}).unwrap(), StopReason::MaxSteps);
    }

    #[test]
    fn a_model_is_loaded_once_per_checkpoint_snapshot_and_backend() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let mut trainer = Trainer::create(&run, tiny()).unwrap();
        train_to(&mut trainer, 2);
        let cache = ModelCache::default();
        let inference = Inference::new(BackendKind::Cpu, None, cache.clone());
        let first = inference.load(&run, None).unwrap();
        assert_eq!(first.step, 2);
        assert!(Arc::ptr_eq(&first, &inference.load(&run, None).unwrap()));
        // The same file named explicitly is another key, the same weights.
        let named = first.origin.checkpoint().unwrap().to_path_buf();
        let again = inference.load(&run, Some(&named)).unwrap();
        assert_eq!(again.step, 2);
        assert_eq!(cache.len(), 2);

        // A newer checkpoint is the new newest: loaded, not the kept one.
        train_to(&mut trainer, 4);
        let newer = inference.load(&run, None).unwrap();
        assert_eq!(newer.step, 4);
        assert!(Arc::ptr_eq(
            &again,
            &inference.load(&run, Some(&named)).unwrap()
        ));

        // The live model: one load per snapshot step; a snapshot of another step loads again.
        let snapshot = |step| Snapshot {
            step,
            config: trainer.config().clone(),
            networks: trainer.networks(),
        };
        let live = |step| {
            Inference::new(
                BackendKind::Cpu,
                Some((run.clone(), Arc::new(Mutex::new(Some(snapshot(step)))))),
                cache.clone(),
            )
        };
        let at_4 = live(4).load(&run, None).unwrap();
        assert_eq!(at_4.origin, easel_core::sample::Origin::Live);
        assert!(Arc::ptr_eq(&at_4, &live(4).load(&run, None).unwrap()));
        assert!(!Arc::ptr_eq(&at_4, &live(5).load(&run, None).unwrap()));
        // A named checkpoint is read from its file even while the run is live.
        assert_eq!(live(5).load(&run, Some(&named)).unwrap().step, 2);
        // At most KEPT_MODELS are kept.
        assert_eq!(cache.len(), KEPT_MODELS);
    }

    #[test]
    fn an_unusable_backend_falls_back_to_the_cpu_and_says_so() {
        if BackendKind::Cuda.compiled() {
            eprintln!("CUDA is compiled in: the fall-back is tested in builds without it");
            return;
        }
        let inference = Inference::new(BackendKind::Cuda, None, ModelCache::default());
        assert!(BackendKind::Cuda.usable().is_err());
        assert_eq!(inference.backend, BackendKind::Cpu);
        assert_eq!(inference.fell_back, Some(BackendKind::Cuda));
        let cpu = Inference::new(BackendKind::Cpu, None, ModelCache::default());
        assert_eq!((cpu.backend, cpu.fell_back), (BackendKind::Cpu, None));
    }
}
