//! Exports of a trained generator: images (a grid, one PNG per sample, every canvas C_t and the
//! looping GIF of the drawing) and *bundles*, folders that carry everything needed to draw the
//! same images again: the config, the checkpoint (with its SHA-256), the seed, count and steps,
//! and the images themselves.
//!
//! A bundle is itself a run folder (`config.toml`, `checkpoints/`), so `easel sample --run
//! <bundle>` draws from it; [`verify_bundle`] redraws every image and compares pixels.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::backend::BackendKind;
use crate::error::{Error, Result};
use crate::images::ImageBatch;
use crate::model::gran::NoiseMode;
use crate::sample::{LoadedModel, Origin, Samples};
use crate::train::run_dir::RunDir;

use super::{create_dir, save_each, save_gif, save_grid};

/// The manifest's file name inside a bundle.
pub const MANIFEST: &str = "manifest.toml";
/// The most images one grid shows; larger exports still write every image when asked.
pub const GRID_LIMIT: usize = 256;
/// Manifest format version.
/// The manifest format this build writes and reads.
pub const BUNDLE_VERSION: u32 = 1;

/// What to draw and which files to write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportRequest {
    /// Images to draw.
    pub count: usize,
    /// Seed of the noise.
    pub seed: u64,
    /// Drawing steps (default: the T trained; more is allowed).
    pub steps: Option<usize>,
    /// Noise once or per step (default: as trained).
    pub noise: Option<NoiseMode>,
    /// Write `grid.png` (at most [`GRID_LIMIT`] images).
    pub grid: bool,
    /// Write `sample-00000.png`… one per image.
    pub each: bool,
    /// Write every C_t and ΔC_t as grids and the drawing as `drawing.gif`.
    pub frames: bool,
}

impl Default for ExportRequest {
    fn default() -> Self {
        Self {
            count: 64,
            seed: 0,
            steps: None,
            noise: None,
            grid: true,
            each: true,
            frames: true,
        }
    }
}

impl ExportRequest {
    /// Checks the figures a user typed.
    pub fn validate(&self) -> Result<()> {
        if !(1..=100_000).contains(&self.count) {
            return Err(Error::config(
                "count",
                format!("expected 1–100000 images, found {}", self.count),
            ));
        }
        if !(self.grid || self.each || self.frames) {
            return Err(Error::config(
                "files",
                "choose at least one of the grid, one PNG per sample, or the drawing",
            ));
        }
        Ok(())
    }

    /// Draws the images this request asks for.
    pub fn draw(&self, model: &LoadedModel) -> Result<Samples> {
        self.validate()?;
        let noise = self.noise.unwrap_or(model.noise_mode());
        model.sample_with_noise(self.count, self.steps, self.seed, self.frames, noise)
    }
}

/// Writes the files `request` asks for from `samples` into `out`; returns their paths.
pub fn write_samples(
    samples: &Samples,
    request: &ExportRequest,
    out: &Path,
) -> Result<Vec<PathBuf>> {
    create_dir(out)?;
    let mut written = Vec::new();
    if request.each {
        written.extend(save_each(&samples.images, out, "sample", 0)?);
    }
    let shown = samples.images.count.min(GRID_LIMIT);
    let first = |b: &ImageBatch| {
        let mut b = b.clone();
        b.count = b.count.min(shown);
        b.pixels.truncate(b.count * b.image_len());
        b
    };
    let grid_images = first(&samples.images);
    let columns = grid_images.square_columns();
    if request.grid {
        let path = out.join("grid.png");
        save_grid(&grid_images, columns, &path)?;
        written.push(path);
    }
    if request.frames && !samples.canvases.is_empty() {
        let canvases: Vec<ImageBatch> = samples.canvases.iter().map(first).collect();
        for (t, (c, d)) in canvases.iter().zip(&samples.delta_canvases).enumerate() {
            let path = out.join(format!("canvas-t{:02}.png", t + 1));
            save_grid(c, columns, &path)?;
            written.push(path);
            let path = out.join(format!("delta-t{:02}.png", t + 1));
            save_grid(&first(d), columns, &path)?;
            written.push(path);
        }
        let gif_frames: Vec<_> = canvases
            .iter()
            .map(|c| c.upscaled_grid(columns, 2))
            .collect();
        let path = out.join("drawing.gif");
        save_gif(&gif_frames, 300, &path)?;
        written.push(path);
    }
    Ok(written)
}

/// A bundle's `manifest.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format version.
    pub version: u32,
    /// The Easel version that wrote it.
    pub easel_version: String,
    /// The run the checkpoint came from (for people; the bundle does not need it).
    pub source_run: String,
    /// The checkpoint, relative to the bundle.
    pub checkpoint: String,
    /// SHA-256 of the checkpoint file, hex.
    pub checkpoint_sha256: String,
    /// The training step of the checkpoint.
    pub checkpoint_step: u64,
    /// What was drawn.
    pub request: ExportRequest,
    /// The drawing steps used (the request's, or T).
    pub steps: usize,
    /// The noise mode used.
    pub noise: NoiseMode,
    /// The images, relative to the bundle.
    pub files: Vec<String>,
    /// The command that draws the same images again.
    pub regenerate: String,
}

/// What [`export_bundle`] wrote.
#[derive(Debug, Clone)]
pub struct BundleReport {
    /// The bundle folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Rejects a path from a manifest that is absolute or climbs out of the bundle.
fn inside(bundle: &Path, relative: &str) -> Result<PathBuf> {
    let path = Path::new(relative);
    if relative.is_empty() || !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(Error::Format {
            path: bundle.join(MANIFEST),
            expected: "paths inside the bundle".into(),
            found: format!("{relative:?}"),
        });
    }
    Ok(bundle.join(path))
}

/// Writes a bundle into `out` (which must not exist, or be empty): the run's config, a copy of
/// the checkpoint, the images under `images/`, and the manifest.
pub fn export_bundle(
    model: &LoadedModel,
    request: &ExportRequest,
    out: &Path,
) -> Result<BundleReport> {
    request.validate()?;
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(|e| Error::io(out, e))?
            .next()
            .is_some()
    {
        return Err(Error::Run {
            path: out.to_path_buf(),
            reason: "the bundle folder is not empty; choose a new one".into(),
        });
    }
    let Origin::Checkpoint {
        path: source,
        sha256,
    } = &model.origin
    else {
        return Err(Error::config(
            "checkpoint",
            "a bundle holds its checkpoint: save one (Save now) and export from it",
        ));
    };
    let samples = request.draw(model)?;
    let run = RunDir::new(out);
    run.create(&model.config)?;
    let bytes = std::fs::read(source).map_err(|e| Error::io(source, e))?;
    if &sha256_hex(&bytes) != sha256 {
        return Err(Error::Checkpoint {
            path: source.clone(),
            reason: "the file changed since it was loaded".into(),
        });
    }
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| crate::train::checkpoint::file_name(model.step));
    let checkpoint = format!("checkpoints/{name}");
    let copy = out.join(&checkpoint);
    std::fs::write(&copy, &bytes).map_err(|e| Error::io(&copy, e))?;
    let images = out.join("images");
    let written = write_samples(&samples, request, &images)?;
    let files = written
        .iter()
        .filter_map(|p| p.strip_prefix(out).ok())
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .collect();
    let steps = samples
        .canvases
        .len()
        .max(request.steps.unwrap_or(model.trained_steps()));
    let noise = request.noise.unwrap_or(model.noise_mode());
    let mut regenerate = format!(
        "easel sample --run <bundle> --checkpoint <bundle>/{checkpoint} --count {} --seed {} --steps {steps} --noise {} --out <folder>",
        request.count,
        request.seed,
        noise.name(),
    );
    if request.frames {
        regenerate.push_str(" --frames");
    }
    let manifest = Manifest {
        version: BUNDLE_VERSION,
        easel_version: env!("CARGO_PKG_VERSION").into(),
        source_run: source
            .parent()
            .and_then(Path::parent)
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        checkpoint,
        checkpoint_sha256: sha256.clone(),
        checkpoint_step: model.step,
        request: request.clone(),
        steps,
        noise,
        files,
        regenerate,
    };
    let text = toml::to_string_pretty(&manifest).map_err(|e| Error::Run {
        path: out.to_path_buf(),
        reason: format!("could not write the manifest: {e}"),
    })?;
    let path = out.join(MANIFEST);
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    Ok(BundleReport {
        dir: out.to_path_buf(),
        manifest,
    })
}

/// Reads a bundle's manifest.
pub fn read_manifest(bundle: &Path) -> Result<Manifest> {
    let path = bundle.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    parse_manifest(bundle, &text)
}

/// Parses a bundle's manifest text, refusing any file it names outside the bundle.
pub fn parse_manifest(bundle: &Path, text: &str) -> Result<Manifest> {
    let path = bundle.join(MANIFEST);
    let manifest: Manifest = toml::from_str(text).map_err(|e| Error::Format {
        path: path.clone(),
        expected: "an Easel bundle manifest".into(),
        found: e.to_string(),
    })?;
    if manifest.version != BUNDLE_VERSION {
        return Err(Error::Format {
            path,
            expected: format!("bundle version {BUNDLE_VERSION}"),
            found: format!("version {}", manifest.version),
        });
    }
    inside(bundle, &manifest.checkpoint)?;
    for file in &manifest.files {
        inside(bundle, file)?;
    }
    Ok(manifest)
}

/// What [`verify_bundle`] found.
#[derive(Debug, Clone)]
pub struct Verification {
    /// The manifest.
    pub manifest: Manifest,
    /// Images redrawn and compared.
    pub images_checked: usize,
    /// The largest difference of one 8-bit channel value between the stored and redrawn images.
    pub max_difference: u8,
}

/// Checks a bundle: the checkpoint's SHA-256 matches the manifest, and redrawing with the
/// recorded seed, count, steps and noise gives the stored per-sample images (to within
/// `tolerance` of 255 per channel: 0 on the CPU backend that drew them).
pub fn verify_bundle(bundle: &Path, backend: BackendKind, tolerance: u8) -> Result<Verification> {
    let manifest = read_manifest(bundle)?;
    let checkpoint = inside(bundle, &manifest.checkpoint)?;
    let bytes = std::fs::read(&checkpoint).map_err(|e| Error::io(&checkpoint, e))?;
    let found = sha256_hex(&bytes);
    if found != manifest.checkpoint_sha256 {
        return Err(Error::Format {
            path: checkpoint,
            expected: format!("SHA-256 {}", manifest.checkpoint_sha256),
            found,
        });
    }
    let model = LoadedModel::load(bundle, Some(&checkpoint), backend)?;
    let request = ExportRequest {
        steps: Some(manifest.steps),
        noise: Some(manifest.noise),
        frames: false,
        ..manifest.request.clone()
    };
    let samples = request.draw(&model)?;
    let mut checked = 0;
    let mut max_difference = 0u8;
    for (i, file) in manifest
        .files
        .iter()
        .filter(|f| f.starts_with("images/sample-"))
        .enumerate()
    {
        let path = inside(bundle, file)?;
        let stored = image::open(&path)
            .map_err(|e| Error::Image {
                path: path.clone(),
                reason: e.to_string(),
            })?
            .to_rgba8();
        let drawn = samples.images.to_rgba(i);
        if stored.dimensions() != drawn.dimensions() {
            return Err(Error::Format {
                path,
                expected: format!("{:?} pixels", drawn.dimensions()),
                found: format!("{:?}", stored.dimensions()),
            });
        }
        let diff = stored
            .as_raw()
            .iter()
            .zip(drawn.as_raw())
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap_or(0);
        max_difference = max_difference.max(diff);
        checked += 1;
    }
    if max_difference > tolerance {
        return Err(Error::Run {
            path: bundle.to_path_buf(),
            reason: format!(
                "redrawn images differ from the stored ones by up to {max_difference}/255 (tolerance {tolerance})"
            ),
        });
    }
    Ok(Verification {
        manifest,
        images_checked: checked,
        max_difference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_paths_stay_inside_the_bundle() {
        let b = Path::new("/tmp/bundle");
        assert!(inside(b, "images/sample-00000.png").is_ok());
        for bad in ["../x.png", "/etc/passwd", "images/../../x", ""] {
            assert!(inside(b, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_request_needs_images_and_files() {
        let r = ExportRequest {
            count: 0,
            ..Default::default()
        };
        assert!(r.validate().is_err());
        let r = ExportRequest {
            grid: false,
            each: false,
            frames: false,
            ..Default::default()
        };
        assert!(
            r.validate()
                .unwrap_err()
                .to_string()
                .contains("at least one")
        );
    }
}
