//! The built-in sentence encoder: needs no download, so text-to-image models train on a machine
//! without all-MiniLM-L6-v2.
//!
//! Words (lower-cased runs of letters and digits, from a vocabulary of the dataset's training
//! captions) → a 64-wide embedding → a GRU of 128 → a dense layer → L2 normalisation, 128 wide.
//! Like the char-CNN-RNN text encoder StackGAN builds on (Reed et al. 2016), it is trained jointly
//! with an image encoder so that a caption lands near the images it describes: a small strided
//! CNN embeds the images, and a symmetric contrastive loss (softmax over cosine similarities at
//! temperature 0.1, both directions; pairs whose captions are the same sentence all count as
//! matches) pulls matching (image, caption) pairs together. After a warm-up on random batches,
//! each batch is made of look-alike groups (captions sharing most of their words), so that the
//! words that tell them apart must be read. When the images carry class labels (the shapes,
//! Fashion-MNIST, CUB's species), both embeddings are also pulled to a learnt prototype of their
//! class, as in Reed et al.'s class-structured joint embedding: without it, the shapes' captions
//! embedded their colours and barely their shape (cosine 0.99 between "a red circle on a blue
//! background" and "… square …"; 0.76 with it). Trained once per run (800 steps, about a minute
//! at 32×32 on a laptop CPU) and saved into the run folder.

use std::collections::HashMap;
use std::path::Path;

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::gru::{Gru, GruConfig};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::activation::{leaky_relu, log_softmax};
use burn::tensor::{Bytes, TensorData};
use sha2::{Digest, Sha256};

use crate::data::{Dataset, ImageSet};
use crate::error::{Error, Result};
use crate::model::stackgan::layers::conv2d;
use crate::model::{conv, seeded};
use crate::noise::NoiseStream;

use super::batches::{look_alike_batch, overlap, random_pairs, word_set};

/// Width of an embedding.
pub const WIDTH: usize = 128;
const WORD: usize = 64;
const HIDDEN: usize = 128;
/// Words read per caption.
const MAX_WORDS: usize = 48;
/// Training of the joint encoders.
const STEPS: usize = 800;
const BATCH: usize = 64;
/// Steps of random batches before the batches of look-alike captions begin.
const WARM_UP: usize = STEPS / 8;
const TEMPERATURE: f64 = 0.1;
const MAGIC: &[u8; 8] = b"EASELTXT";

/// The lower-cased words of a sentence.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Words seen in training, numbered from 2 (0 pads, 1 stands for any unseen word).
#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    words: Vec<String>,
    index: HashMap<String, u32>,
}

impl Vocabulary {
    /// The vocabulary of `texts`, in order of first appearance.
    pub fn of(texts: &[String]) -> Self {
        let mut v = Self {
            words: Vec::new(),
            index: HashMap::new(),
        };
        for t in texts {
            for w in words(t) {
                if !v.index.contains_key(&w) {
                    v.index.insert(w.clone(), v.words.len() as u32 + 2);
                    v.words.push(w);
                }
            }
        }
        v
    }

    /// Ids of a sentence's words (at least one: an empty sentence reads as one unknown word).
    pub fn ids(&self, text: &str) -> Vec<u32> {
        let mut ids: Vec<u32> = words(text)
            .iter()
            .take(MAX_WORDS)
            .map(|w| self.index.get(w).copied().unwrap_or(1))
            .collect();
        if ids.is_empty() {
            ids.push(1);
        }
        ids
    }

    /// The words of a sentence never seen in training, in order, each once: the encoder reads
    /// them all as one "unknown word".
    pub fn unknown(&self, text: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for w in words(text) {
            if !self.index.contains_key(&w) && !out.contains(&w) {
                out.push(w);
            }
        }
        out
    }

    /// Number of ids, padding and unknown included.
    pub fn size(&self) -> usize {
        self.words.len() + 2
    }
}

/// The text side: embedding → GRU → dense.
#[derive(Module, Debug)]
pub struct TextNet {
    embedding: Embedding,
    gru: Gru,
    out: Linear,
}

impl TextNet {
    fn new(vocabulary: usize, device: &Device) -> Self {
        Self {
            embedding: EmbeddingConfig::new(vocabulary, WORD).init(device),
            gru: GruConfig::new(WORD, HIDDEN, true).init(device),
            out: LinearConfig::new(HIDDEN, WIDTH).init(device),
        }
    }

    /// Unit-length embeddings of tokenised sentences (`ids[b]` of any length ≥ 1).
    fn forward(&self, ids: &[Vec<u32>], device: &Device) -> Tensor<2> {
        let b = ids.len();
        let len = ids.iter().map(Vec::len).max().unwrap_or(1);
        let mut flat = Vec::with_capacity(b * len);
        let mut last = vec![0f32; b * len];
        for (row, t) in ids.iter().enumerate() {
            flat.extend(t.iter().map(|&i| i64::from(i)));
            flat.extend(std::iter::repeat_n(0, len - t.len()));
            last[row * len + t.len() - 1] = 1.0;
        }
        let ids = Tensor::<2, Int>::from_data(TensorData::new(flat, [b, len]), device);
        let states = self.gru.forward(self.embedding.forward(ids), None); // [b, len, hidden]
        let pick = Tensor::<3>::from_data(TensorData::new(last, [b, len, 1]), device);
        let final_state = (states * pick).sum_dim(1).reshape([b, HIDDEN]);
        normalise(self.out.forward(final_state))
    }
}

/// The image side, used only in training: strided convolutions, global average, dense; and,
/// when the images carry class labels, one prototype per class shared by both sides.
#[derive(Module, Debug)]
pub struct ImageNet {
    convs: Vec<Conv2d>,
    out: Linear,
    prototypes: Option<Linear>,
}

impl ImageNet {
    fn new(channels: usize, classes: usize, device: &Device) -> Self {
        let widths = [channels, 32, 64, 128];
        Self {
            convs: widths
                .windows(2)
                .map(|w| conv2d(w[0], w[1], 4, 2, 1, true, device))
                .collect(),
            out: LinearConfig::new(128, WIDTH).init(device),
            prototypes: (classes > 1).then(|| {
                LinearConfig::new(WIDTH, classes)
                    .with_bias(false)
                    .init(device)
            }),
        }
    }

    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut h = images * 2.0 - 1.0;
        for c in &self.convs {
            h = leaky_relu(conv::conv2d(c, h), 0.2);
        }
        let [b, w, _, _] = h.dims();
        normalise(self.out.forward(h.mean_dim(3).mean_dim(2).reshape([b, w])))
    }

    /// The class term: cross-entropy of each embedding's similarity to the class prototypes
    /// against its image's class, for the image and the caption embeddings alike.
    fn class_loss(&self, embeddings: [Tensor<2>; 2], classes: Tensor<2>) -> Option<Tensor<1>> {
        let prototypes = self.prototypes.as_ref()?;
        let [v, t] = embeddings;
        Some(
            soft_cross_entropy(prototypes.forward(v) / TEMPERATURE, classes.clone())
                + soft_cross_entropy(prototypes.forward(t) / TEMPERATURE, classes),
        )
    }
}

fn normalise(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt() + 1e-8;
    x / norm
}

/// The trained built-in encoder.
#[derive(Debug, Clone)]
pub struct BuiltinEncoder {
    vocabulary: Vocabulary,
    net: TextNet,
    device: Device,
    id: String,
}

/// How well the joint training went, on held-out images.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Fraction of held-out images whose own caption is the most similar of 10 candidates
    /// (their own and nine other images' with different sentences); chance is 0.1.
    pub retrieval_at_1: f32,
    /// The same among look-alikes: the nine other sentences sharing the most words with the
    /// image's own (on the shapes: mostly the same colours, another shape or size); chance 0.1.
    pub look_alike_retrieval_at_1: f32,
}

impl BuiltinEncoder {
    /// Trains the text and image encoders jointly on `data`'s captioned training images
    /// (`seed` fixes every draw); `progress` receives the fraction done. Returns the encoder and
    /// its retrieval score on the held-out split.
    pub fn train(
        data: &Dataset,
        seed: u64,
        device: &Device,
        progress: &mut dyn FnMut(f32),
    ) -> Result<(Self, Fit)> {
        let set = &data.train;
        let captions = set.captions.as_ref().ok_or_else(|| {
            Error::Dataset(format!(
                "{}: the built-in text encoder trains on captions, and these images have none",
                data.name
            ))
        })?;
        let vocabulary = Vocabulary::of(&captions.texts);
        let classes = set
            .labels
            .as_ref()
            .and_then(|l| l.iter().max())
            .map_or(0, |&m| m as usize + 1);
        let train_device = device.clone().autodiff();
        let (mut text, mut image) = seeded(device, seed, || {
            (
                TextNet::new(vocabulary.size(), &train_device),
                ImageNet::new(set.channels, classes, &train_device),
            )
        });
        let (mut opt_t, mut opt_i) = (AdamConfig::new().init(), AdamConfig::new().init());
        let mut noise = NoiseStream::new(seed, 0x7E47);
        let batch = BATCH.min(set.len());
        let word_sets: Vec<Vec<u32>> = captions
            .texts
            .iter()
            .map(|t| word_set(&vocabulary, t))
            .collect();
        for step in 0..STEPS {
            let (images, chosen) = if step < WARM_UP {
                random_pairs(&mut noise, captions, set.len(), batch)
            } else {
                look_alike_batch(&mut noise, captions, &word_sets, set.len(), batch)
            };
            let ids: Vec<Vec<u32>> = chosen
                .iter()
                .map(|&t| vocabulary.ids(&captions.texts[t as usize]))
                .collect();
            let pixels = image_batch(set, &images, &train_device);
            let t = text.forward(&ids, &train_device);
            let v = image.forward(pixels);
            let logits = v.clone().matmul(t.clone().transpose()) / TEMPERATURE; // [images, texts]
            let targets = same_sentence(&chosen, &train_device);
            let mut loss = soft_cross_entropy(logits.clone(), targets.clone())
                + soft_cross_entropy(logits.transpose(), targets);
            if let Some(labels) = &set.labels
                && let Some(term) =
                    image.class_loss([v, t], one_hot(&images, labels, classes, &train_device))
            {
                loss = loss + term;
            }
            let mut grads = loss.backward();
            let grads_t = GradientsParams::from_module(&mut grads, &text);
            let grads_i = GradientsParams::from_module(&mut grads, &image);
            text = opt_t.step(1e-3, text, grads_t);
            image = opt_i.step(1e-3, image, grads_i);
            progress((step + 1) as f32 / STEPS as f32);
        }
        let encoder = Self::assemble(vocabulary, text.valid(), device);
        let fit = encoder.retrieval(&data.test, &image.valid(), device)?;
        Ok((encoder, fit))
    }

    fn assemble(vocabulary: Vocabulary, net: TextNet, device: &Device) -> Self {
        let mut hash = Sha256::new();
        for w in &vocabulary.words {
            hash.update(w.as_bytes());
            hash.update([0]);
        }
        for (_, values) in crate::model::parameters(&net) {
            for v in values {
                hash.update(v.to_le_bytes());
            }
        }
        let id = format!(
            "builtin-{}",
            hash.finalize()[..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        Self {
            vocabulary,
            net,
            device: device.clone(),
            id,
        }
    }

    /// Image-to-caption retrieval among 10 candidates on the first 500 captioned images of
    /// `set`: how often an image's own caption is the nearest, among nine random other captions
    /// and among the nine look-alikes (the other captions sharing the most words with it).
    fn retrieval(&self, set: &ImageSet, image: &ImageNet, device: &Device) -> Result<Fit> {
        let m = set.len().min(500);
        let Some(captions) = set.captions.as_ref().filter(|_| m > 9) else {
            return Ok(Fit {
                retrieval_at_1: 0.0,
                look_alike_retrieval_at_1: 0.0,
            });
        };
        let indices: Vec<usize> = (0..m).collect();
        let v = Tensor::cat(
            indices
                .chunks(100)
                .map(|chunk| image.forward(image_batch(set, chunk, device)))
                .collect(),
            0,
        );
        let own: Vec<&str> = indices.iter().map(|&i| captions.first(i)).collect();
        let sets: Vec<Vec<u32>> = own.iter().map(|t| word_set(&self.vocabulary, t)).collect();
        let t = self.embed_tensor(&own)?;
        let sims = v
            .matmul(t.transpose())
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32");
        let (mut hits, mut hard_hits, mut trials) = (0, 0, 0);
        for r in 0..m {
            let others: Vec<usize> = (1..m)
                .map(|k| (r + k) % m)
                .filter(|&c| own[c] != own[r])
                .collect();
            if others.len() < 9 {
                continue;
            }
            let mut alike: Vec<(f32, usize)> = others
                .iter()
                .map(|&c| (overlap(&sets[r], &sets[c]), c))
                .collect();
            alike.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            trials += 1;
            let mine = sims[r * m + r];
            let beats = |c: usize| sims[r * m + c] < mine;
            hits += usize::from(others[..9].iter().all(|&c| beats(c)));
            hard_hits += usize::from(alike[..9].iter().all(|&(_, c)| beats(c)));
        }
        let rate = |h: usize| {
            if trials == 0 {
                0.0
            } else {
                h as f32 / trials as f32
            }
        };
        Ok(Fit {
            retrieval_at_1: rate(hits),
            look_alike_retrieval_at_1: rate(hard_hits),
        })
    }

    /// The identity its embeddings are cached under (changes with the weights).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its vocabulary: the words of the captions it was trained on.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    /// Unit-length embeddings of `texts`, `[texts, WIDTH]`.
    pub fn embed_tensor(&self, texts: &[&str]) -> Result<Tensor<2>> {
        let ids: Vec<Vec<u32>> = texts.iter().map(|t| self.vocabulary.ids(t)).collect();
        let mut parts = Vec::new();
        for chunk in ids.chunks(256) {
            parts.push(self.net.forward(chunk, &self.device));
        }
        if parts.is_empty() {
            return Ok(Tensor::zeros([0, WIDTH], &self.device));
        }
        Ok(Tensor::cat(parts, 0))
    }

    /// Unit-length embeddings, one per text.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let values = self
            .embed_tensor(texts)?
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32");
        Ok(values.chunks(WIDTH).map(<[f32]>::to_vec).collect())
    }

    /// Writes the encoder (vocabulary and weights, with a SHA-256 of both).
    pub fn save(&self, path: &Path) -> Result<()> {
        let record = crate::model::records::record_bytes(&self.net)?;
        let vocabulary = self.vocabulary.words.join("\n");
        let mut body = Vec::new();
        body.extend_from_slice(MAGIC);
        body.extend_from_slice(&(vocabulary.len() as u64).to_le_bytes());
        body.extend_from_slice(vocabulary.as_bytes());
        body.extend_from_slice(&(record.len() as u64).to_le_bytes());
        body.extend_from_slice(&record);
        crate::sealed::write(path, body)
    }

    /// Reads an encoder [`Self::save`] wrote, checking its checksum and lengths.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let body = crate::sealed::read(path, MAGIC, "an Easel built-in text encoder")?;
        let body = body.as_slice();
        let bad =
            |why: &str| Error::format(path, "an Easel built-in text encoder", why.to_string());
        let read_len = |at: usize| -> Result<usize> {
            let raw: [u8; 8] = body
                .get(at..at + 8)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad("truncated"))?;
            usize::try_from(u64::from_le_bytes(raw)).map_err(|_| bad("an impossible length"))
        };
        let vocab_len = read_len(8)?;
        let vocab_end = 16usize
            .checked_add(vocab_len)
            .filter(|&e| e + 8 <= body.len())
            .ok_or_else(|| bad("a vocabulary longer than the file"))?;
        let vocabulary = std::str::from_utf8(&body[16..vocab_end])
            .map_err(|_| bad("a vocabulary that is not UTF-8"))?;
        let record_len = read_len(vocab_end)?;
        let record = body
            .get(vocab_end + 8..)
            .filter(|r| r.len() == record_len)
            .ok_or_else(|| bad("weights of the wrong length"))?;
        let texts: Vec<String> = if vocabulary.is_empty() {
            Vec::new()
        } else {
            vocabulary.split('\n').map(str::to_string).collect()
        };
        let vocabulary = Vocabulary::of(&texts);
        let net = TextNet::new(vocabulary.size(), device);
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(record.to_vec()))
            .map_err(|e| bad(&e.to_string()))?;
        let net = net
            .try_load_record(record)
            .map_err(|e| bad(&e.to_string()))?;
        Ok(Self::assemble(vocabulary, net, device))
    }
}

/// The images at `indices` as a `[n, c, h, w]` tensor in `[0, 1]`.
fn image_batch(set: &ImageSet, indices: &[usize], device: &Device) -> Tensor<4> {
    Tensor::from_data(
        TensorData::new(
            set.batch_f32(indices),
            [indices.len(), set.channels, set.height, set.width],
        ),
        device,
    )
}

/// Row-normalised matches: pair (i, j) matches when captions i and j are the same sentence.
fn same_sentence(chosen: &[u32], device: &Device) -> Tensor<2> {
    let n = chosen.len();
    let mut m = vec![0f32; n * n];
    for i in 0..n {
        let matches = chosen.iter().filter(|&&c| c == chosen[i]).count() as f32;
        for j in 0..n {
            if chosen[j] == chosen[i] {
                m[i * n + j] = 1.0 / matches;
            }
        }
    }
    Tensor::from_data(TensorData::new(m, [n, n]), device)
}

/// One row per image of `indices`, 1 at its class.
fn one_hot(indices: &[usize], labels: &[u32], classes: usize, device: &Device) -> Tensor<2> {
    let mut m = vec![0f32; indices.len() * classes];
    for (row, &i) in indices.iter().enumerate() {
        m[row * classes + labels[i] as usize] = 1.0;
    }
    Tensor::from_data(TensorData::new(m, [indices.len(), classes]), device)
}

/// Cross-entropy of row-wise softmax `logits` against row-stochastic `targets`, averaged.
fn soft_cross_entropy(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let n = logits.dims()[0];
    (log_softmax(logits, 1) * targets).sum().neg() / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_vocabulary() {
        assert_eq!(
            words("A red-ish Circle, large!"),
            ["a", "red", "ish", "circle", "large"]
        );
        let v = Vocabulary::of(&["a red circle".into(), "a blue ring".into()]);
        assert_eq!(v.size(), 2 + 5);
        assert_eq!(v.ids("A RED ring"), [2, 3, 6]);
        assert_eq!(v.ids("a purple ring"), [2, 1, 6], "unseen words are 1");
        assert_eq!(v.ids("  "), [1]);
        assert_eq!(
            v.unknown("A purple ring, purple and Green"),
            ["purple", "and", "green"]
        );
        assert!(v.unknown("a red circle").is_empty());
    }
}
