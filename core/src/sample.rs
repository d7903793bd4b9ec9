//! Sampling from a trained run: load a checkpoint's generator and draw images, keeping every
//! canvas C_t and update ΔC_t when asked — also for more steps than were trained.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use sha2::{Digest, Sha256};

use crate::backend::BackendKind;
use crate::error::{Error, Result};
use crate::images::ImageBatch;
use crate::model::gran::{Discriminator, GranGenerator, NoiseMode};
use crate::train::checkpoint::{self, Checkpoint};
use crate::train::config::{ModelConfig, RunConfig};
use crate::train::noise::NoiseStream;
use crate::train::run_dir::RunDir;

/// Images are drawn in chunks of this many to bound memory.
const CHUNK: usize = 100;

/// A generator and discriminator loaded from a checkpoint, ready for inference.
pub struct LoadedModel {
    /// The run's config.
    pub config: RunConfig,
    /// The checkpoint file.
    pub checkpoint: PathBuf,
    /// SHA-256 of the checkpoint file, hex.
    pub checkpoint_sha256: String,
    /// The step the checkpoint was taken at.
    pub step: u64,
    /// The generator (inference mode).
    pub generator: GranGenerator,
    /// The discriminator (inference mode).
    pub discriminator: Discriminator,
    /// The device they live on.
    pub device: Device,
}

/// What a sampling call returns.
#[derive(Debug, Clone)]
pub struct Samples {
    /// The final canvases.
    pub images: ImageBatch,
    /// C_1..C_steps, when intermediates were asked for.
    pub canvases: Vec<ImageBatch>,
    /// ΔC_1..ΔC_steps mapped to [0, 1] (0 at mid-grey), when intermediates were asked for.
    pub delta_canvases: Vec<ImageBatch>,
}

fn concat(batches: &mut Vec<ImageBatch>, index: usize, next: ImageBatch) {
    if let Some(b) = batches.get_mut(index) {
        b.count += next.count;
        b.pixels.extend(next.pixels);
    } else {
        batches.push(next);
    }
}

impl LoadedModel {
    /// The noise mode the generator was trained with.
    pub fn noise_mode(&self) -> NoiseMode {
        let ModelConfig::Gran(g) = &self.config.model;
        g.noise
    }

    /// The T the generator was trained with.
    pub fn trained_steps(&self) -> usize {
        let ModelConfig::Gran(g) = &self.config.model;
        g.steps
    }

    /// Loads `checkpoint` (default: the newest intact one) of the run in `run_dir`.
    pub fn load(run_dir: &Path, checkpoint: Option<&Path>, backend: BackendKind) -> Result<Self> {
        let run = RunDir::new(run_dir);
        let config = run.load_config()?;
        let path = match checkpoint {
            Some(p) => p.to_path_buf(),
            None => checkpoint::load_latest(&run.checkpoints())?.1,
        };
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let ckpt = Checkpoint::from_bytes(&bytes, &path)?;
        let sha = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let device = backend.device()?;
        let ModelConfig::Gran(gran) = &config.model;
        let load = |section: &str| -> Result<ModuleRecord> {
            ModuleRecord::from_bytes(Bytes::from_bytes_vec(
                ckpt.section(section, &path)?.to_vec(),
            ))
            .map_err(|e| Error::Checkpoint {
                path: path.clone(),
                reason: format!("{section}: {e}"),
            })
        };
        let bad = |e: burn::store::RecordError| Error::Checkpoint {
            path: path.clone(),
            reason: e.to_string(),
        };
        let generator = gran
            .init_generator(&device)
            .try_load_record(load("generator")?)
            .map_err(bad)?;
        let discriminator = gran
            .init_discriminator(&device)
            .try_load_record(load("discriminator")?)
            .map_err(bad)?;
        Ok(Self {
            step: ckpt.state.step,
            config,
            checkpoint: path,
            checkpoint_sha256: sha,
            generator: generator.valid(),
            discriminator: discriminator.valid(),
            device,
        })
    }

    /// The dataset the model was trained on (every training image), at the model's size and
    /// channels: what battles and scores compare it with.
    pub fn dataset(&self) -> Result<crate::data::Dataset> {
        let ModelConfig::Gran(g) = &self.config.model;
        self.config.data.load(g.image_size, g.channels, None)
    }

    /// Draws `count` images in `steps` steps (default: T) from noise seeded by `seed`; with
    /// `intermediates`, also every C_t and ΔC_t.
    pub fn sample(
        &self,
        count: usize,
        steps: Option<usize>,
        seed: u64,
        intermediates: bool,
    ) -> Result<Samples> {
        let ModelConfig::Gran(gran) = &self.config.model;
        self.sample_with_noise(count, steps, seed, intermediates, gran.noise)
    }

    /// As [`Self::sample`], with the noise drawn once or per step as `noise` says rather than as
    /// the model was trained (the studio's toggle: a model trained with one z may still be shown
    /// a fresh z at every step).
    pub fn sample_with_noise(
        &self,
        count: usize,
        steps: Option<usize>,
        seed: u64,
        intermediates: bool,
        noise_mode: NoiseMode,
    ) -> Result<Samples> {
        let ModelConfig::Gran(gran) = &self.config.model;
        let steps = steps.unwrap_or(gran.steps);
        if !(1..=256).contains(&steps) {
            return Err(Error::config(
                "steps",
                format!("expected 1–256 drawing steps, found {steps}"),
            ));
        }
        if count == 0 {
            return Err(Error::config(
                "count",
                "expected at least one image".to_string(),
            ));
        }
        let z_steps = if noise_mode == NoiseMode::PerStep {
            steps
        } else {
            1
        };
        let mut noise = NoiseStream::new(seed, 0);
        let mut out = Samples {
            images: ImageBatch::default(),
            canvases: Vec::new(),
            delta_canvases: Vec::new(),
        };
        let mut first = true;
        for start in (0..count).step_by(CHUNK) {
            let n = CHUNK.min(count - start);
            let z = Tensor::<3>::from_data(
                TensorData::new(
                    noise.normals(n * z_steps * gran.z_dim),
                    [n, z_steps, gran.z_dim],
                ),
                &self.device,
            );
            if intermediates {
                let drawing = self.generator.generate(z, steps);
                for (t, (c, d)) in drawing
                    .canvases
                    .into_iter()
                    .zip(drawing.delta_canvases)
                    .enumerate()
                {
                    concat(&mut out.canvases, t, ImageBatch::from_tensor(c));
                    concat(
                        &mut out.delta_canvases,
                        t,
                        ImageBatch::from_signed_tensor(d),
                    );
                }
            } else {
                let images = ImageBatch::from_tensor(self.generator.forward(z, steps));
                if first {
                    out.images = images;
                } else {
                    out.images.count += images.count;
                    out.images.pixels.extend(images.pixels);
                }
            }
            first = false;
        }
        if intermediates {
            out.images = out.canvases.last().cloned().unwrap_or_default();
        }
        Ok(out)
    }
}
