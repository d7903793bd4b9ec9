//! The sentence encoder a text-to-image run uses, and the table of its captions' embeddings.

use burn::prelude::*;
use burn::tensor::TensorData;

use std::path::Path;

use super::EncoderChoice;
use super::builtin::{self, BuiltinEncoder};
use super::cache;
use super::minilm::{self, MiniLm};
use crate::data::{Captions, Dataset};
use crate::error::{Error, Result};

/// The file a run keeps its built-in encoder in.
pub const RUN_ENCODER_FILE: &str = "text_encoder.bin";

/// A loaded sentence encoder.
#[derive(Debug, Clone)]
pub enum Encoder {
    /// all-MiniLM-L6-v2 (each variant boxed: both hold kilobytes of tokenizer or network).
    MiniLm(Box<MiniLm>),
    /// The built-in encoder, trained on the run's captions.
    Builtin(Box<BuiltinEncoder>),
}

impl Encoder {
    /// The concrete choice `Auto` stands for on this machine: MiniLM when installed, else the
    /// built-in encoder.
    pub fn resolve(choice: EncoderChoice) -> EncoderChoice {
        match choice {
            EncoderChoice::Auto if minilm::installed() => EncoderChoice::MiniLm,
            EncoderChoice::Auto => EncoderChoice::Builtin,
            other => other,
        }
    }

    /// The encoder of a text run in `run_dir`: MiniLM from where it is installed; the built-in
    /// one from the run's `text_encoder.bin`, trained on `data` (and saved there) when the run
    /// has none yet (`training` receives the fraction of that training done).
    pub fn for_run(
        choice: EncoderChoice,
        run_dir: &Path,
        data: Option<&Dataset>,
        seed: u64,
        device: &Device,
        training: &mut dyn FnMut(f32),
    ) -> Result<Self> {
        match Self::resolve(choice) {
            EncoderChoice::MiniLm => Ok(Encoder::MiniLm(Box::new(MiniLm::load(
                &minilm::default_dir(),
                device,
            )?))),
            _ => {
                let path = run_dir.join(RUN_ENCODER_FILE);
                if path.is_file() {
                    return Ok(Encoder::Builtin(Box::new(BuiltinEncoder::load(
                        &path, device,
                    )?)));
                }
                let data = data.ok_or_else(|| {
                    Error::Dataset(format!(
                        "{}: the run's built-in text encoder is missing",
                        path.display()
                    ))
                })?;
                let (encoder, _) = BuiltinEncoder::train(data, seed, device, training)?;
                encoder.save(&path)?;
                Ok(Encoder::Builtin(Box::new(encoder)))
            }
        }
    }

    /// Width of an embedding of `choice` (resolved), without loading its weights.
    pub fn width_of(choice: EncoderChoice) -> usize {
        match Self::resolve(choice) {
            EncoderChoice::MiniLm => 384,
            _ => builtin::WIDTH,
        }
    }

    /// A short name for the studio and the CLI.
    pub fn name(&self) -> &'static str {
        match self {
            Encoder::MiniLm(_) => "all-MiniLM-L6-v2",
            Encoder::Builtin(_) => "the built-in encoder (word embeddings + GRU)",
        }
    }

    /// The identity its cached embeddings are filed under.
    pub fn id(&self) -> &str {
        match self {
            Encoder::MiniLm(_) => "minilm-l6-v2",
            Encoder::Builtin(b) => b.id(),
        }
    }

    /// Width of an embedding.
    pub fn width(&self) -> usize {
        match self {
            Encoder::MiniLm(m) => m.width(),
            Encoder::Builtin(_) => builtin::WIDTH,
        }
    }

    /// How many tokens `text` is read as (MiniLM: word pieces with `[CLS]` and `[SEP]`; the
    /// built-in encoder: words, at most its limit).
    pub fn tokens(&self, text: &str) -> Result<usize> {
        match self {
            Encoder::MiniLm(m) => Ok(m.tokenize(text)?.len()),
            Encoder::Builtin(b) => Ok(b.vocabulary().ids(text).len()),
        }
    }

    /// The words of `text` the encoder has never seen (the built-in encoder knows only its
    /// training captions' words; MiniLM's word pieces cover any text, so none).
    pub fn unknown_words(&self, text: &str) -> Vec<String> {
        match self {
            Encoder::MiniLm(_) => Vec::new(),
            Encoder::Builtin(b) => b.vocabulary().unknown(text),
        }
    }

    /// One embedding per text.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        match self {
            Encoder::MiniLm(m) => m.embed(texts),
            Encoder::Builtin(b) => b.embed(texts),
        }
    }

    /// Embeddings of `texts` as a `[texts, width]` tensor.
    pub fn embed_tensor(&self, texts: &[&str], device: &Device) -> Result<Tensor<2>> {
        let rows = self.embed(texts)?;
        let width = self.width();
        let flat: Vec<f32> = rows.into_iter().flatten().collect();
        Ok(Tensor::from_data(
            TensorData::new(flat, [texts.len(), width]),
            device,
        ))
    }

    /// The first caption of images `0..count` of `captions` (cycled when `count` exceeds them)
    /// and their embeddings `[count, width]`, through the cache; only those sentences are
    /// embedded, not every caption of the set.
    pub fn firsts(
        &self,
        captions: &Captions,
        count: usize,
        device: &Device,
    ) -> Result<(Vec<String>, Tensor<2>)> {
        if captions.is_empty() {
            return Err(Error::Dataset("no captions to draw prompts from".into()));
        }
        let firsts = Captions::from_lists(
            (0..count).map(|i| vec![captions.first(i % captions.len()).to_string()]),
        );
        let images: Vec<usize> = (0..count).collect();
        Ok(self.table(&firsts, &mut |_| {})?.first(&images, device))
    }

    /// The embeddings of every caption in `captions`, from the cache or encoded (then cached).
    pub fn table(
        &self,
        captions: &Captions,
        progress: &mut dyn FnMut(f32),
    ) -> Result<CaptionTable> {
        let found = cache::load_or_embed(
            &cache::default_dir(),
            self.id(),
            &captions.texts,
            &mut |texts| self.embed(texts),
            progress,
        )?;
        let width = self.width();
        let mut vectors = Vec::with_capacity(captions.texts.len() * width);
        for text in &captions.texts {
            let v = found
                .get(text)
                .filter(|v| v.len() == width)
                .ok_or_else(|| Error::Dataset(format!("the embeddings cache lacks {text:?}")))?;
            vectors.extend_from_slice(v);
        }
        Ok(CaptionTable {
            captions: captions.clone(),
            width,
            vectors,
        })
    }
}

/// Every caption of an image set with its embedding, in the order of `captions.texts`.
#[derive(Debug, Clone)]
pub struct CaptionTable {
    /// The captions, per image.
    pub captions: Captions,
    /// Width of an embedding.
    pub width: usize,
    /// `texts × width` values.
    pub vectors: Vec<f32>,
}

impl CaptionTable {
    /// The embedding of distinct text `t`.
    pub fn vector(&self, t: usize) -> &[f32] {
        &self.vectors[t * self.width..(t + 1) * self.width]
    }

    /// For each image in `images`, the embedding of one of its captions, chosen by the matching
    /// `uniforms` in `[0, 1)`: `[images.len(), width]`.
    pub fn batch(&self, images: &[usize], uniforms: &[f32], device: &Device) -> Tensor<2> {
        let mut flat = Vec::with_capacity(images.len() * self.width);
        for (&i, &u) in images.iter().zip(uniforms) {
            let options = &self.captions.of_image[i];
            let pick = ((u * options.len() as f32) as usize).min(options.len() - 1);
            flat.extend_from_slice(self.vector(options[pick] as usize));
        }
        Tensor::from_data(TensorData::new(flat, [images.len(), self.width]), device)
    }

    /// The first caption of each image in `images`, with its embedding: `[images.len(), width]`.
    pub fn first(&self, images: &[usize], device: &Device) -> (Vec<String>, Tensor<2>) {
        let texts = images
            .iter()
            .map(|&i| self.captions.first(i).to_string())
            .collect();
        let zeros = vec![0.0; images.len()];
        (texts, self.batch(images, &zeros, device))
    }
}
