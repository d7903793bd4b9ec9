//! The in-app classifier behind the sample-quality metrics: a small convolutional network trained
//! on a labelled dataset's training split, tested on its held-out split, and cached per dataset so
//! later scores reuse it. It plays the part Inception plays in the Inception Score and FID: its
//! class probabilities give the classifier score and the class coverage, its 128 penultimate
//! features the Fréchet distance.

use std::path::{Path, PathBuf};

use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Bytes, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::{Dataset, ImageSet};
use crate::error::{Error, Result};
use crate::model::blocks::ConvEncoder;

/// Length of the feature vector the Fréchet distance is taken over.
pub const FEATURES: usize = 128;
/// Passes over the training split, within [`MIN_STEPS`]..=[`MAX_STEPS`] batches. At 2 the
/// shapes' classifier (10 000 images, 400 batches) told the held-out shapes apart 79% of the time.
pub const EPOCHS: usize = 12;
/// Lower bound on training batches, so a small dataset still gets a usable classifier.
pub const MIN_STEPS: usize = 400;
/// Upper bound on training batches, so a large dataset still trains in about a minute.
pub const MAX_STEPS: usize = 1500;
const BATCH: usize = 100;
const MAGIC: &[u8] = b"EASELCLS1\n";

/// The network: the discriminator's encoder shape (strided 5×5 convolutions, BatchNorm,
/// LeakyReLU) with 32 and 64 channels, a dense layer to [`FEATURES`], then the class logits.
#[derive(Module, Debug)]
pub struct Classifier {
    encoder: ConvEncoder,
    head: Linear,
}

impl Classifier {
    /// An untrained classifier of `channels × side × side` images into `classes` classes.
    pub fn new(channels: usize, side: usize, classes: usize, device: &Device) -> Self {
        let encoder = ConvEncoder::new(&[channels, 32, 64], side, 5, FEATURES, true, true, device);
        let head = LinearConfig::new(FEATURES, classes).init(device);
        Self { encoder, head }
    }

    /// Penultimate features.
    ///
    /// # Shapes
    /// - `images`: `[batch, channels, side, side]` in `[0, 1]`
    /// - output: `[batch, FEATURES]`
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        relu(self.encoder.forward(images.mul_scalar(2.0).sub_scalar(1.0)))
    }

    /// Class logits from features: `[batch, FEATURES] → [batch, classes]`.
    pub fn logits(&self, features: Tensor<2>) -> Tensor<2> {
        self.head.forward(features)
    }
}

/// What the cache file says about the classifier beside its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierInfo {
    /// The dataset's fingerprint ([`dataset_key`]).
    pub key: String,
    /// The dataset's name when it was trained.
    pub dataset: String,
    /// Class names, by label.
    pub classes: Vec<String>,
    /// Image channels.
    pub channels: usize,
    /// Image side.
    pub side: usize,
    /// Training batches taken.
    pub steps: usize,
    /// Fraction of the held-out split classified correctly.
    pub test_accuracy: f64,
}

/// A trained classifier, ready to score images.
#[derive(Debug, Clone)]
pub struct TrainedClassifier {
    /// The network (inference mode).
    pub model: Classifier,
    /// What it was trained on and how well it does.
    pub info: ClassifierInfo,
    /// Where it computes.
    pub device: Device,
}

/// Class probabilities and features of a set of images.
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    /// `count × classes` probabilities, image-major.
    pub probabilities: Vec<f32>,
    /// `count × FEATURES` features, image-major.
    pub features: Vec<f32>,
}

impl TrainedClassifier {
    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.info.classes.len()
    }

    /// Probabilities and features of `count` images given as `[0, 1]` pixels, in batches.
    pub fn outputs(&self, pixels: &[f32], count: usize) -> Outputs {
        let (c, s) = (self.info.channels, self.info.side);
        let len = c * s * s;
        assert_eq!(
            pixels.len(),
            count * len,
            "pixels do not hold {count} images"
        );
        let mut out = Outputs {
            probabilities: Vec::with_capacity(count * self.classes()),
            features: Vec::with_capacity(count * FEATURES),
        };
        for chunk in pixels.chunks(500 * len) {
            let n = chunk.len() / len;
            let images =
                Tensor::<4>::from_data(TensorData::new(chunk.to_vec(), [n, c, s, s]), &self.device);
            let features = self.model.features(images);
            let probabilities = softmax(self.model.logits(features.clone()), 1);
            out.features.extend(read(features));
            out.probabilities.extend(read(probabilities));
        }
        out
    }

    /// Probabilities and features of every image of `set`.
    pub fn outputs_of_set(&self, set: &ImageSet) -> Outputs {
        let all: Vec<usize> = (0..set.len()).collect();
        self.outputs(&set.batch_f32(&all), set.len())
    }
}

fn read(tensor: Tensor<2>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 after convert")
}

/// The folder classifiers are cached in: `classifiers/` in [`crate::paths::cache_root`].
pub fn cache_dir() -> PathBuf {
    crate::paths::cache_root().join("classifiers")
}

/// A fingerprint of a dataset's training split: its name, shape, labels and every image's
/// pixels, hashed. Two runs on the same data share a classifier; any change trains a new one.
pub fn dataset_key(data: &Dataset) -> String {
    let set = &data.train;
    let mut hash = Sha256::new();
    hash.update(data.name.as_bytes());
    for n in [set.channels, set.height, set.width, set.len()] {
        hash.update((n as u64).to_le_bytes());
    }
    for label in set.labels.iter().flatten() {
        hash.update(label.to_le_bytes());
    }
    hash.update(&set.pixels);
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The cached classifier of `data`, or a new one trained (then cached) when there is none, the
/// cached file cannot be read, or it was trained for another number of batches. `progress` receives the fraction of training done.
pub fn load_or_train(
    data: &Dataset,
    device: &Device,
    progress: &mut dyn FnMut(f32),
) -> Result<TrainedClassifier> {
    let classes = class_count(data)?;
    let key = dataset_key(data);
    let path = cache_dir().join(format!("{key}.bin"));
    // A classifier trained for another number of batches (an older recipe) is trained again.
    if let Ok(found) = load(&path, device)
        && found.info.key == key
        && found.info.classes.len() == classes
        && found.info.steps == planned_steps(data.train.len())
    {
        return Ok(found);
    }
    let trained = train(data, device, progress)?;
    save(&trained, &path)?;
    Ok(trained)
}

/// The cached classifier of `data`, if one was trained before and still reads (never trains).
pub fn cached(data: &Dataset, device: &Device) -> Option<TrainedClassifier> {
    data.train.labels.as_ref()?;
    let key = dataset_key(data);
    load(&cache_dir().join(format!("{key}.bin")), device)
        .ok()
        .filter(|c| c.info.key == key && c.info.steps == planned_steps(data.train.len()))
}

fn class_count(data: &Dataset) -> Result<usize> {
    let labels = data.train.labels.as_ref().ok_or_else(|| {
        Error::Dataset(format!(
            "{}: the images have no labels, and the classifier score, Fréchet distance and class \
             coverage need a labelled dataset (Fashion-MNIST, built-in shapes, a folder of class \
             sub-folders)",
            data.name
        ))
    })?;
    let classes = data
        .train
        .class_names
        .len()
        .max(labels.iter().max().map_or(0, |&l| l as usize + 1));
    if classes < 2 {
        return Err(Error::Dataset(format!(
            "{}: one class only; a classifier needs two or more",
            data.name
        )));
    }
    Ok(classes)
}

/// The training batches for a training split of `images`.
fn planned_steps(images: usize) -> usize {
    (EPOCHS * images.div_ceil(BATCH)).clamp(MIN_STEPS, MAX_STEPS)
}

/// Trains a classifier on `data.train` and measures it on `data.test` (seeded: the same data
/// gives the same network).
pub fn train(
    data: &Dataset,
    device: &Device,
    progress: &mut dyn FnMut(f32),
) -> Result<TrainedClassifier> {
    let classes = class_count(data)?;
    let set = &data.train;
    let labels = set.labels.as_ref().expect("checked by class_count");
    let side = set.height;
    let train_device = device.clone().autodiff();
    // Seeded under the shared lock: other threads drawing from the device's generator at the
    // same time (tests, a training job) must not change this network.
    let mut model = crate::model::seeded(device, 0, || {
        Classifier::new(set.channels, side, classes, &train_device)
    });
    let mut optim = AdamConfig::new().init();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let batches_per_epoch = set.len().div_ceil(BATCH);
    let steps = planned_steps(set.len());
    let mut order: Vec<usize> = Vec::new();
    for step in 0..steps {
        if step % batches_per_epoch == 0 {
            order = (0..set.len()).collect();
            order.shuffle(&mut rng);
        }
        let start = (step % batches_per_epoch) * BATCH;
        let indices = &order[start..(start + BATCH).min(order.len())];
        let images = Tensor::<4>::from_data(
            TensorData::new(
                set.batch_f32(indices),
                [indices.len(), set.channels, side, side],
            ),
            &train_device,
        );
        let targets: Vec<i64> = indices.iter().map(|&i| labels[i] as i64).collect();
        let targets =
            Tensor::<1, Int>::from_data(TensorData::new(targets, [indices.len()]), &train_device);
        let logits = model.logits(model.features(images));
        let loss = burn::nn::loss::CrossEntropyLossConfig::new()
            .init(&train_device)
            .forward(logits, targets);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model, grads);
        progress((step + 1) as f32 / steps as f32);
    }
    let mut trained = TrainedClassifier {
        model: model.valid(),
        info: ClassifierInfo {
            key: dataset_key(data),
            dataset: data.name.clone(),
            classes: (0..classes)
                .map(|c| {
                    set.class_names
                        .get(c)
                        .cloned()
                        .unwrap_or_else(|| format!("class {c}"))
                })
                .collect(),
            channels: set.channels,
            side,
            steps,
            test_accuracy: 0.0,
        },
        device: device.clone(),
    };
    trained.info.test_accuracy = accuracy(&trained, &data.test);
    Ok(trained)
}

/// Class coverage: how the classifier's labels of a set of images spread over the classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Images given each class (by the classifier's most likely label).
    pub histogram: Vec<usize>,
    /// Classes given at least half their fair share (half of count / classes): the rule
    /// [`Coverage::of`] applies.
    pub covered: usize,
}

impl Coverage {
    /// Coverage of `probabilities` (`count × classes`).
    pub fn of(probabilities: &[f32], classes: usize) -> Self {
        let mut histogram = vec![0usize; classes];
        for p in probabilities.chunks(classes) {
            histogram[argmax(p)] += 1;
        }
        let count: usize = histogram.iter().sum();
        let covered = histogram
            .iter()
            .filter(|&&h| 2 * h * classes >= count && h > 0)
            .count();
        Self { histogram, covered }
    }

    /// Fraction of classes covered.
    pub fn fraction(&self) -> f64 {
        self.covered as f64 / self.histogram.len().max(1) as f64
    }
}

/// Fraction of a labelled set the classifier labels correctly (0 when it has no labels).
pub fn accuracy(classifier: &TrainedClassifier, set: &ImageSet) -> f64 {
    let Some(labels) = &set.labels else {
        return 0.0;
    };
    if set.is_empty() {
        return 0.0;
    }
    let k = classifier.classes();
    let out = classifier.outputs_of_set(set);
    let correct = out
        .probabilities
        .chunks(k)
        .zip(labels)
        .filter(|(p, label)| argmax(p) == **label as usize)
        .count();
    correct as f64 / set.len() as f64
}

/// Index of the largest value.
pub fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}

fn save(classifier: &TrainedClassifier, path: &Path) -> Result<()> {
    let record = classifier
        .model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| Error::Checkpoint {
            path: path.into(),
            reason: e.to_string(),
        })?;
    let header = serde_json::to_vec(&classifier.info).expect("info serialises");
    let mut bytes = MAGIC.to_vec();
    bytes.extend((header.len() as u64).to_le_bytes());
    bytes.extend(&header);
    bytes.extend(record.iter());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    crate::sealed::write_atomically(path, &bytes)
}

/// Reads a cached classifier.
pub fn load(path: &Path, device: &Device) -> Result<TrainedClassifier> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |found: String| Error::Format {
        path: path.into(),
        expected: "an Easel classifier cache file".into(),
        found,
    };
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("another file type".into()))?;
    if rest.len() < 8 {
        return Err(bad("a truncated file".into()));
    }
    let header_len = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes")) as usize;
    let header = rest
        .get(8..8usize.saturating_add(header_len))
        .ok_or_else(|| bad(format!("a header of {header_len} bytes past the end")))?;
    let info: ClassifierInfo =
        serde_json::from_slice(header).map_err(|e| bad(format!("a bad header ({e})")))?;
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(rest[8 + header_len..].to_vec()))
        .map_err(|e| bad(format!("bad weights ({e})")))?;
    let model = Classifier::new(info.channels, info.side, info.classes.len(), device)
        .try_load_record(record)
        .map_err(|e| bad(format!("weights of another shape ({e})")))?;
    Ok(TrainedClassifier {
        model,
        info,
        device: device.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DataSource;

    #[test]
    fn learns_the_shapes_caches_and_reloads_the_same_network() {
        let cache = tempfile::tempdir().unwrap();
        // SAFETY of set_var: this is the only test in the crate that reads EASEL_CACHE.
        unsafe { std::env::set_var("EASEL_CACHE", cache.path()) };
        let data = DataSource::Shapes {
            train_count: 2000,
            test_count: 300,
            seed: 3,
        }
        .load(16, 3, None)
        .unwrap();
        let device = Device::flex();
        let mut last = 0.0;
        let trained = load_or_train(&data, &device, &mut |f| last = f).unwrap();
        assert_eq!(last, 1.0, "progress reaches the end");
        let chance = 1.0 / trained.classes() as f64;
        assert!(
            trained.info.test_accuracy > 2.0 * chance,
            "held-out accuracy {} vs chance {chance}",
            trained.info.test_accuracy
        );
        let path = cache_dir().join(format!("{}.bin", dataset_key(&data)));
        assert!(path.is_file(), "cached at {}", path.display());
        let reloaded = load(&path, &device).unwrap();
        assert_eq!(reloaded.info, trained.info);
        let probe = &data.test.batch_f32(&[0, 1, 2]);
        assert_eq!(
            reloaded.outputs(probe, 3),
            trained.outputs(probe, 3),
            "the cache holds the same network"
        );
        // Another recipe's classifier (another number of batches) is trained again, over it.
        let mut older = reloaded.clone();
        older.info.steps = MIN_STEPS - 1;
        save(&older, &path).unwrap();
        assert!(cached(&data, &device).is_none());
        let mut trained_again = false;
        let again = load_or_train(&data, &device, &mut |_| trained_again = true).unwrap();
        assert!(trained_again && again.info.steps == trained.info.steps);
        // The cache now holds the network trained again (its accuracy may differ from the
        // first training's: threaded sums need not add in one order; seen 57.7% vs 56.7%).
        assert_eq!(load(&path, &device).unwrap().info, again.info);
        // A damaged cache is refused in words, and load_or_train trains again over it.
        std::fs::write(&path, b"EASELCLS1\n\x05").unwrap();
        assert!(
            load(&path, &device)
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
    }

    #[test]
    fn unlabelled_data_is_refused_in_words() {
        let mut data = DataSource::Shapes {
            train_count: 10,
            test_count: 10,
            seed: 0,
        }
        .load(16, 3, None)
        .unwrap();
        data.train.labels = None;
        let e = load_or_train(&data, &Device::flex(), &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("no labels"), "{e}");
    }
}
