//! Sampling from a trained run: load a checkpoint's generator and draw images, keeping every
//! canvas C_t and update ΔC_t when asked — also for more steps than were trained. For LAPGAN the
//! "steps" are the pyramid's levels, coarse to fine: C_t is level t's image expanded to the full
//! side, ΔC_t what that level added (the coarsest image itself, then each band-pass residual).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::prelude::*;
use sha2::{Digest, Sha256};

use crate::backend::BackendKind;
use crate::error::{Error, Result};
use crate::images::ImageBatch;
use crate::model::gan::{self, Networks};
use crate::model::gran::NoiseMode;
use crate::model::lapgan::to_unit;
use crate::model::records;
use crate::noise::NoiseStream;
use crate::text::Encoder;
use crate::train::checkpoint::{self, Checkpoint};
use crate::train::config::RunConfig;
use crate::train::run_dir::RunDir;

/// Images are drawn in chunks of this many to bound memory.
const CHUNK: usize = 100;

/// A generator and discriminator loaded from a checkpoint, or handed over by a training job,
/// ready for inference. (Cloning shares the weights: burn's tensors are reference-counted.)
#[derive(Debug, Clone)]
pub struct LoadedModel {
    /// The run's config.
    pub config: RunConfig,
    /// Where the weights came from.
    pub origin: Origin,
    /// The step the weights are at.
    pub step: u64,
    /// The generator and discriminator (inference mode).
    pub networks: Networks,
    /// The backend they compute on.
    pub backend: BackendKind,
    /// Its device.
    pub device: Device,
    /// What a text model draws from (see [`Self::prompts`]); filled on first use.
    prompts: OnceLock<Prompts>,
    encoder: Option<Encoder>,
}

/// Where a [`LoadedModel`]'s weights came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A checkpoint file.
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// Its SHA-256, hex.
        sha256: String,
    },
    /// A training job's networks as they stood (see [`crate::train::Snapshot`]); no file holds
    /// them yet.
    Live,
}

impl Origin {
    /// The checkpoint file, when the weights came from one.
    pub fn checkpoint(&self) -> Option<&Path> {
        match self {
            Origin::Checkpoint { path, .. } => Some(path),
            Origin::Live => None,
        }
    }
}

/// Sentences a text model draws from, with their embeddings.
#[derive(Debug, Clone)]
pub struct Prompts {
    /// The sentences.
    pub texts: Vec<String>,
    /// `[texts, width]`.
    pub embeddings: Tensor<2>,
    /// The class of the image each sentence describes, for the held-out captions of a labelled
    /// dataset (what the text-match figure of `easel score` checks samples against).
    pub labels: Option<Vec<u32>>,
}

impl Prompts {
    /// Image `start + i` reads sentence `(start + i) mod len`: `[n, width]`.
    fn cycled(&self, start: usize, n: usize) -> Tensor<2> {
        let len = self.texts.len();
        let rows: Vec<usize> = (start..start + n).map(|i| i % len).collect();
        self.rows(&rows)
    }

    /// The embeddings of sentences `rows` (each below the count): `[rows, width]`.
    fn rows(&self, rows: &[usize]) -> Tensor<2> {
        let index: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
        let device = self.embeddings.device();
        let index = Tensor::<1, Int>::from_data(TensorData::new(index, [rows.len()]), &device);
        self.embeddings.clone().select(0, index)
    }
}

/// The default prompts of a text model: the first caption of each of the first 1000 held-out
/// images of its dataset (read without decoding images), embedded (through the cache) by its
/// encoder.
fn held_out_prompts(config: &RunConfig, encoder: &Encoder, device: &Device) -> Result<Prompts> {
    let (captions, labels) = config.data.held_out_captions(1000)?;
    let (texts, embeddings) = encoder.firsts(&captions, captions.len(), device)?;
    Ok(Prompts {
        texts,
        embeddings,
        labels,
    })
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
        self.config
            .model
            .gran()
            .map_or(NoiseMode::Once, |g| g.noise)
    }

    /// The T the generator was trained with (LAPGAN: its levels).
    pub fn trained_steps(&self) -> usize {
        self.config.model.steps()
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
        let networks = records::load_networks(
            Networks::init(&config.model, &device),
            ckpt.section("generator", &path)?,
            ckpt.section("discriminator", &path)?,
            &path,
        )?;
        let origin = Origin::Checkpoint { path, sha256: sha };
        Self::assemble(
            run_dir,
            config,
            origin,
            ckpt.state.step,
            networks.valid(),
            (backend, device),
        )
    }

    /// The networks a training job of the run in `run_dir` handed over, moved to `backend`'s
    /// device: the model as it stands while the run trains or is paused, before or between
    /// checkpoints.
    pub fn from_snapshot(
        run_dir: &Path,
        snapshot: crate::train::Snapshot,
        backend: BackendKind,
    ) -> Result<Self> {
        let device = backend.device()?;
        let networks = snapshot.networks.to_device(&device);
        let step = snapshot.step;
        Self::assemble(
            run_dir,
            snapshot.config,
            Origin::Live,
            step,
            networks,
            (backend, device),
        )
    }

    /// The model with its networks on `device`, `backend`'s, and a text run's encoder.
    fn assemble(
        run_dir: &Path,
        config: RunConfig,
        origin: Origin,
        step: u64,
        networks: Networks,
        (backend, device): (BackendKind, Device),
    ) -> Result<Self> {
        let encoder =
            match &config.model {
                crate::train::ModelConfig::StackGan(s) if s.conditional() => Some(
                    Encoder::for_run(s.encoder, run_dir, None, config.seed, &device, &mut |_| {})?,
                ),
                _ => None,
            };
        Ok(Self {
            step,
            config,
            origin,
            networks,
            backend,
            device,
            prompts: OnceLock::new(),
            encoder,
        })
    }

    /// The error of asking a model without text for text.
    fn not_text(&self) -> Error {
        Error::config(
            "text",
            format!("{} does not draw from text", self.config.model.label()),
        )
    }

    /// Whether the model draws from text.
    pub fn reads_text(&self) -> bool {
        self.encoder.is_some()
    }

    /// The sentence encoder of a text model.
    pub fn encoder(&self) -> Option<&Encoder> {
        self.encoder.as_ref()
    }

    /// Makes a text model draw from `texts` (cycled over the images drawn).
    pub fn set_prompts(&mut self, texts: &[String]) -> Result<()> {
        let encoder = self.encoder.as_ref().ok_or_else(|| self.not_text())?;
        if texts.is_empty() || texts.iter().any(|t| t.trim().is_empty()) {
            return Err(Error::config("text", "expected a sentence, found nothing"));
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let prompts = Prompts {
            texts: texts.to_vec(),
            embeddings: encoder.embed_tensor(&refs, &self.device)?,
            labels: None,
        };
        self.prompts = OnceLock::from(prompts);
        Ok(())
    }

    /// What a text model draws from: the sentences and their embeddings, cycled over the images
    /// drawn; by default (until [`Self::set_prompts`]) the first caption of each of the first
    /// 1000 held-out images, read and embedded on first use. `None` for a model without text.
    pub fn prompts(&self) -> Result<Option<&Prompts>> {
        let Some(encoder) = &self.encoder else {
            return Ok(None);
        };
        if let Some(p) = self.prompts.get() {
            return Ok(Some(p));
        }
        let held_out = held_out_prompts(&self.config, encoder, &self.device)?;
        Ok(Some(self.prompts.get_or_init(|| held_out)))
    }

    /// Embeddings of `texts` by the model's encoder (`[texts, width]`).
    pub fn embed(&self, texts: &[&str]) -> Result<Tensor<2>> {
        let encoder = self.encoder.as_ref().ok_or_else(|| self.not_text())?;
        encoder.embed_tensor(texts, &self.device)
    }

    /// The condition of images `start..start + n`: cycled class one-hots for a
    /// class-conditional model, the prompts' embeddings for a text model, else none.
    pub fn condition(&self, start: usize, n: usize) -> Result<Option<Tensor<2>>> {
        Ok(match self.prompts()? {
            Some(p) => Some(p.cycled(start, n)),
            None => self.networks.cycled_labels(start, n, &self.device),
        })
    }

    /// The dataset the model was trained on (every training image), at the model's size and
    /// channels: what battles and scores compare it with.
    pub fn dataset(&self) -> Result<crate::data::Dataset> {
        let (size, channels) = self.config.model.image_shape();
        self.config.data.load(size, channels, None)
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
        self.sample_with_noise(count, steps, seed, intermediates, self.noise_mode())
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
        let steps = self.networks.drawing_steps(steps)?;
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
        let mut noise = NoiseStream::new(seed, 0);
        let mut out = Samples {
            images: ImageBatch::default(),
            canvases: Vec::new(),
            delta_canvases: Vec::new(),
        };
        let mut first = true;
        for start in (0..count).step_by(CHUNK) {
            let n = CHUNK.min(count - start);
            let labels = self.condition(start, n)?;
            let normals = &mut |c| noise.normals(c);
            let mode = Some(noise_mode);
            if intermediates {
                let drawing =
                    self.networks
                        .intermediates(n, steps, mode, normals, labels, &self.device);
                for (t, (c, d)) in drawing.canvases.into_iter().zip(drawing.deltas).enumerate() {
                    concat(&mut out.canvases, t, ImageBatch::from_tensor(c));
                    concat(
                        &mut out.delta_canvases,
                        t,
                        ImageBatch::from_signed_tensor(d),
                    );
                }
            } else {
                let images = ImageBatch::from_tensor(self.networks.images(
                    n,
                    steps,
                    mode,
                    normals,
                    labels,
                    &self.device,
                ));
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

    /// A text model's images of chosen sentences: image `i` reads sentence `rows[i]` of
    /// [`Self::prompts`], the noise drawn from `seed` as [`Self::sample`] draws it for as many
    /// images (so one row repeated gives that sentence under different noise).
    pub fn sample_prompts(&self, rows: &[usize], seed: u64) -> Result<ImageBatch> {
        let prompts = self.prompts()?.ok_or_else(|| self.not_text())?;
        if let Some(&r) = rows.iter().find(|&&r| r >= prompts.texts.len()) {
            return Err(Error::config(
                "text",
                format!(
                    "sentence {r} asked for, the model holds {}",
                    prompts.texts.len()
                ),
            ));
        }
        let steps = self.networks.steps();
        let mut noise = NoiseStream::new(seed, 0);
        let mut out = Vec::new();
        for chunk in rows.chunks(CHUNK) {
            let images = self.networks.images(
                chunk.len(),
                steps,
                None,
                &mut |c| noise.normals(c),
                Some(prompts.rows(chunk)),
                &self.device,
            );
            concat(&mut out, 0, ImageBatch::from_tensor(images));
        }
        Ok(out.pop().unwrap_or_default())
    }

    /// LAPGAN's pyramid for `count` drawings, coarse to fine: every level's low-pass input
    /// `l_k`, its residual `h̃_k` (signed, mapped to [0, 1] with mid-grey 0) and its image `Ĩ_k`,
    /// each at its own side. The coarsest level's z comes from `seeds[last]`, level k's noise
    /// plane from `seeds[k]` (finest first), so changing one level's seed re-rolls that level
    /// alone and leaves every coarser one as it was. `label` picks the class of a conditional
    /// model (default: class 0).
    pub fn pyramid(
        &self,
        count: usize,
        seeds: &[u64],
        label: Option<u32>,
    ) -> Result<Vec<PyramidLevel>> {
        let Networks::Lapgan(pair) = &self.networks else {
            return Err(Error::config(
                "model",
                "the pyramid view needs a LAPGAN run".to_string(),
            ));
        };
        let g = &pair.generator;
        let levels = g.sides().len();
        if seeds.len() != levels {
            return Err(Error::config(
                "seeds",
                format!(
                    "expected one seed per level ({levels}), found {}",
                    seeds.len()
                ),
            ));
        }
        if count == 0 {
            return Err(Error::config(
                "count",
                "expected at least one image".to_string(),
            ));
        }
        let (coarse, planes) = g.noise_sizes(count);
        let coarse = NoiseStream::new(seeds[levels - 1], levels as u64).normals(coarse);
        let planes = planes
            .into_iter()
            .enumerate()
            .map(|(k, n)| NoiseStream::new(seeds[k], k as u64 + 1).normals(n))
            .collect();
        let noise = g.noise(count, coarse, planes, &self.device);
        let classes = g.classes();
        let labels = (classes > 0)
            .then(|| gan::one_hot(&vec![label.unwrap_or(0); count], classes, &self.device));
        let drawing = g.generate(&noise, labels);
        Ok((0..levels)
            .rev()
            .map(|k| PyramidLevel {
                side: g.sides()[k],
                low: drawing
                    .lows
                    .get(k)
                    .map(|l| ImageBatch::from_tensor(to_unit(l.clone()))),
                residual: drawing
                    .residuals
                    .get(k)
                    .map(|r| ImageBatch::from_signed_tensor(r.clone())),
                image: ImageBatch::from_tensor(to_unit(drawing.images[k].clone())),
            })
            .collect())
    }
}

/// One level of a LAPGAN drawing (see [`LoadedModel::pyramid`]).
#[derive(Debug, Clone)]
pub struct PyramidLevel {
    /// The level's side in pixels.
    pub side: usize,
    /// `l_k = u(Ĩ_{k+1})` in [0, 1] (none at the coarsest level).
    pub low: Option<ImageBatch>,
    /// `h̃_k`, signed, mapped to [0, 1] with mid-grey 0 (none at the coarsest level).
    pub residual: Option<ImageBatch>,
    /// `Ĩ_k` in [0, 1].
    pub image: ImageBatch,
}
