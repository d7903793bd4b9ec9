//! Conditions of [`Trainer`]'s batches: class one-hots for class-conditional models, sentence
//! embeddings for text-to-image models (one of each image's captions, drawn from the noise
//! stream so resuming repeats the choice).

use burn::prelude::*;

use super::Trainer;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::gan;
use crate::model::stackgan::{COUNTERPART_POOL, Mismatch, counterparts, pick_counterpart};
use crate::text::{CaptionTable, Encoder};
use crate::train::config::{ModelConfig, RunConfig};

/// A text model's captions: the training split's table, the fixed grid's condition (the
/// first caption of the first held-out images), and with [`Mismatch::Counterpart`] each
/// training image's counterparts (one per other class).
pub(super) struct TextConditions {
    pub(super) train: CaptionTable,
    pub(super) fixed: Tensor<2>,
    pub(super) counterparts: Option<Vec<Vec<u32>>>,
}

/// Writes the concrete encoder into a text model's config (`auto` → MiniLM where installed,
/// else the built-in encoder, with `text_dim` set to its width), so the run records which
/// encoder its embeddings came from.
pub(super) fn resolve_encoder(config: &mut RunConfig) -> Result<()> {
    if let ModelConfig::StackGan(s) = &mut config.model
        && s.conditional()
    {
        let auto = s.encoder == crate::text::EncoderChoice::Auto;
        s.encoder = Encoder::resolve(s.encoder);
        let width = Encoder::width_of(s.encoder);
        if auto {
            // A preset's text_dim is MiniLM's; `auto` follows whichever encoder this machine has.
            s.text_dim = width;
        }
        if s.text_dim != width {
            return Err(Error::config(
                "model.text_dim",
                format!(
                    "the {:?} encoder makes {width}-wide embeddings; text_dim is {}",
                    s.encoder, s.text_dim
                ),
            ));
        }
    }
    Ok(())
}

/// Loads the encoder of a text model (the built-in one is trained on the run's data the first
/// time, and kept in the run folder) and embeds its dataset's captions (from the cache when it
/// has them); `None` for models that read no text.
pub(super) fn text_conditions(
    config: &RunConfig,
    run_dir: &std::path::Path,
    data: &Dataset,
    device: &Device,
    preparing: super::Preparing<'_>,
) -> Result<Option<TextConditions>> {
    let ModelConfig::StackGan(s) = &config.model else {
        return Ok(None);
    };
    if !s.conditional() {
        return Ok(None);
    }
    let missing = || {
        Error::Dataset(format!(
            "{} has no captions, and {} draws from text: use the built-in shapes, \
             Fashion-MNIST or a captioned folder",
            data.name,
            config.model.label()
        ))
    };
    let train = data.train.captions.as_ref().ok_or_else(missing)?;
    let test = data.test.captions.as_ref().ok_or_else(missing)?;
    let encoder = Encoder::for_run(
        s.encoder,
        run_dir,
        Some(data),
        config.seed,
        device,
        &mut |f| preparing("training the built-in text encoder", Some(f)),
    )?;
    let what = format!("embedding the captions with {}", encoder.name());
    let train = encoder.table(train, &mut |f| preparing(&what, Some(f)))?;
    let (_, fixed) = encoder.firsts(test, config.train.sample_count, device)?;
    let counterparts = match (s.mismatch, &data.train.labels) {
        (Mismatch::Counterpart, Some(labels)) => {
            preparing("pairing each image with its counterparts' captions", None);
            let all: Vec<usize> = (0..train.captions.len()).collect();
            let (_, firsts) = train.first(&all, device);
            Some(counterparts(firsts, labels, COUNTERPART_POOL))
        }
        _ => None,
    };
    Ok(Some(TextConditions {
        train,
        fixed,
        counterparts,
    }))
}

impl Trainer {
    /// The condition of the `index`-th batch of this epoch: sentence embeddings for a text
    /// model (one caption per image, drawn from the noise stream), class one-hots for a
    /// class-conditional model, else none.
    pub(super) fn condition_at(&mut self, index: usize) -> Option<Tensor<2>> {
        self.conditions_at(index).0
    }

    /// As [`Self::condition_at`], with the embeddings of the images' counterparts' captions
    /// when the model pairs them: one counterpart per image, of a class drawn from the noise
    /// stream, its caption in the phrasing drawn for its image.
    pub(super) fn conditions_at(&mut self, index: usize) -> (Option<Tensor<2>>, Option<Tensor<2>>) {
        let b = self.config.train.batch_size;
        let device = self.device.clone().autodiff();
        if let Some(text) = &self.text {
            let images = self.batch_images(index);
            let mut uniforms = self.noise.uniforms(b);
            if self.paired() {
                // Mode seeking's pairs: an image's second copy reads the first's phrasing.
                let (first, second) = uniforms.split_at_mut(b / 2);
                second.copy_from_slice(first);
            }
            let counterparts = text.counterparts.as_ref().map(|all| {
                let classes = self.noise.uniforms(b);
                let partners: Vec<usize> = images
                    .iter()
                    .zip(classes)
                    .map(|(&i, u)| pick_counterpart(&all[i], i, u))
                    .collect();
                text.train.batch(&partners, &uniforms, &device)
            });
            return (
                Some(text.train.batch(&images, &uniforms, &device)),
                counterparts,
            );
        }
        let classes = self.config.model.classes();
        if classes == 0 {
            return (None, None);
        }
        let labels = self.classes_at(index);
        (labels.map(|l| gan::one_hot(&l, classes, &device)), None)
    }

    /// The labels of the `index`-th batch of this epoch's images, when they have labels.
    pub(super) fn classes_at(&self, index: usize) -> Option<Vec<u32>> {
        let all = self.data.train.labels.as_ref()?;
        Some(self.batch_images(index).iter().map(|&i| all[i]).collect())
    }
}
