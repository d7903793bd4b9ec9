//! Who plays in the Arena: a run (at its newest) or one of its kept checkpoints, its name, and,
//! for a run of a sweep, its configuration (its grid values but the seed).

use std::path::{Path, PathBuf};

use easel_core::train::{Sweep, checkpoint};

/// A contestant: a run folder (its live model while it trains, else its newest checkpoint) or
/// one of its kept checkpoint files (`<run>/checkpoints/step-N.ckpt`). Returns the run and the
/// checkpoint, if one was named.
pub(super) fn contestant(path: &Path) -> (PathBuf, Option<PathBuf>) {
    let folder = path.parent().filter(|p| p.ends_with("checkpoints"));
    match folder.and_then(Path::parent) {
        Some(run) if path.is_file() => (run.to_path_buf(), Some(path.to_path_buf())),
        _ => (path.to_path_buf(), None),
    }
}

/// A contestant's name: the run's folder name, with the checkpoint's step when one was named
/// ("b @ step 4").
pub(super) fn name_of(path: &Path) -> String {
    let (run, checkpoint) = contestant(path);
    let name = run
        .file_name()
        .map_or_else(|| run.display().to_string(), |n| n.to_string_lossy().into());
    match checkpoint.and_then(|c| step_of(&c)) {
        Some(step) => format!("{name} @ step {step}"),
        None => name,
    }
}

/// The step of a checkpoint file named as [`checkpoint::file_name`] writes it.
pub(super) fn step_of(path: &Path) -> Option<u64> {
    let stem = path.file_stem()?.to_str()?;
    stem.strip_prefix("step-")?.parse().ok()
}

/// What can be chosen for `run`: the run itself, then each checkpoint it keeps, newest last.
pub(super) fn choices(run: &Path) -> Vec<(PathBuf, String)> {
    let mut out = vec![(run.to_path_buf(), run.display().to_string())];
    let kept = checkpoint::list(&run.join("checkpoints")).unwrap_or_default();
    out.extend(
        kept.into_iter()
            .map(|(step, path)| (path, format!("{} @ step {step}", run.display()))),
    );
    out
}

/// A contestant's configuration: for a run of a sweep, its grid values but the seed (with the
/// checkpoint's step when one was named); none for a run outside a sweep.
pub(super) fn configuration_of(path: &Path) -> Option<String> {
    let (run, checkpoint) = contestant(path);
    let in_sweep = run
        .parent()
        .filter(|p| Sweep::is_sweep(p))
        .and_then(|p| Sweep::open(p).ok())
        .and_then(|sweep| sweep.run_of(&run).map(Sweep::configuration));
    let config = in_sweep?;
    Some(match checkpoint.and_then(|c| step_of(&c)) {
        Some(step) => format!("{config} @ step {step}"),
        None => config,
    })
}
