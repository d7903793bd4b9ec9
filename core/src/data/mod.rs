//! Datasets: the in-memory image set every model trains on, the sources it can come from, and
//! conversion to the model's size and channel count.
//!
//! Images are kept as `u8` (N × C × H × W) to hold Fashion-MNIST's 70 000 images in 55 MB; a batch
//! becomes `f32` in `[0, 1]` only when it is drawn.

pub mod captions;
pub mod cifar;
pub mod folder;
pub mod idx;
pub mod shapes;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use captions::Captions;

/// Where Debian's `dataset-fashion-mnist` package puts its files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST's class names, in label order.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// A set of equally sized images with optional labels and captions.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    /// Channels per image: 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
    /// Pixels, image-major then channel-major (N × C × H × W).
    pub pixels: Vec<u8>,
    /// One class index per image, when the source has classes.
    pub labels: Option<Vec<u32>>,
    /// English captions (one or more per image), when the source has them.
    pub captions: Option<Captions>,
    /// Class names, indexed by label.
    pub class_names: Vec<String>,
}

impl ImageSet {
    /// Number of values in one image.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.pixels.len().checked_div(self.image_len()).unwrap_or(0)
    }

    /// Whether the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pixels of image `index` (C × H × W).
    pub fn image(&self, index: usize) -> &[u8] {
        let n = self.image_len();
        &self.pixels[index * n..(index + 1) * n]
    }

    /// The images at `indices` as `f32` in `[0, 1]`, concatenated (B × C × H × W).
    pub fn batch_f32(&self, indices: &[usize]) -> Vec<f32> {
        let mut out = Vec::with_capacity(indices.len() * self.image_len());
        for &i in indices {
            out.extend(self.image(i).iter().map(|&p| f32::from(p) / 255.0));
        }
        out
    }

    /// Keeps the first `count` images (all when `count` is larger).
    pub fn truncate(&mut self, count: usize) {
        let count = count.min(self.len());
        self.pixels.truncate(count * self.image_len());
        if let Some(labels) = &mut self.labels {
            labels.truncate(count);
        }
        if let Some(captions) = &mut self.captions {
            captions.truncate(count);
        }
    }

    /// This set resized (shorter side to `size`, then centre-cropped) and converted to `channels`.
    pub fn conform(self, size: usize, channels: usize) -> Result<ImageSet> {
        if channels != 1 && channels != 3 {
            return Err(Error::config(
                "model.channels",
                format!("expected 1 or 3, found {channels}"),
            ));
        }
        if self.height == size && self.width == size && self.channels == channels {
            return Ok(self);
        }
        let mut pixels = Vec::with_capacity(self.len() * channels * size * size);
        for i in 0..self.len() {
            let rgb = to_rgb_image(self.image(i), self.channels, self.width, self.height);
            let square = folder::resize_centre_crop(&rgb, size);
            pixels.extend(from_rgb_image(&square, channels));
        }
        Ok(ImageSet {
            channels,
            height: size,
            width: size,
            pixels,
            ..self
        })
    }
}

/// Planar C × H × W bytes to an interleaved RGB image.
pub(crate) fn to_rgb_image(
    planar: &[u8],
    channels: usize,
    width: usize,
    height: usize,
) -> image::RgbImage {
    let plane = width * height;
    image::RgbImage::from_fn(width as u32, height as u32, |x, y| {
        let p = y as usize * width + x as usize;
        if channels == 1 {
            image::Rgb([planar[p]; 3])
        } else {
            image::Rgb([planar[p], planar[plane + p], planar[2 * plane + p]])
        }
    })
}

/// An interleaved RGB image to planar C × H × W bytes (grey by ITU-R 601 luma when `channels == 1`).
pub(crate) fn from_rgb_image(img: &image::RgbImage, channels: usize) -> Vec<u8> {
    let plane = (img.width() * img.height()) as usize;
    let mut out = vec![0u8; plane * channels];
    for (p, px) in img.pixels().enumerate() {
        let [r, g, b] = px.0;
        if channels == 1 {
            let luma = 0.299 * f32::from(r) + 0.587 * f32::from(g) + 0.114 * f32::from(b);
            out[p] = luma.round().clamp(0.0, 255.0) as u8;
        } else {
            out[p] = r;
            out[plane + p] = g;
            out[2 * plane + p] = b;
        }
    }
    out
}

/// A dataset: a training split and a held-out test split, never mixed.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// A short human name ("Fashion-MNIST", "built-in shapes").
    pub name: String,
    /// The images models train on.
    pub train: ImageSet,
    /// Held-out images for evaluation.
    pub test: ImageSet,
}

/// Where a dataset comes from, as written in a run's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DataSource {
    /// The built-in procedural shapes: needs no file.
    Shapes {
        /// Training images to generate.
        #[serde(default = "shapes::default_train_count")]
        train_count: usize,
        /// Test images to generate (from a different stream than training).
        #[serde(default = "shapes::default_test_count")]
        test_count: usize,
        /// The seed the images follow from.
        #[serde(default)]
        seed: u64,
    },
    /// Fashion-MNIST as IDX files; `path` defaults to Debian's install folder.
    FashionMnist {
        /// The folder holding the four IDX files (gzipped or raw).
        #[serde(default)]
        path: Option<PathBuf>,
    },
    /// Any MNIST-layout IDX folder.
    Idx {
        /// The folder holding `train-images-idx3-ubyte` and friends.
        path: PathBuf,
    },
    /// CIFAR-10 binary batches.
    Cifar10 {
        /// The folder holding `data_batch_*.bin` and `test_batch.bin`.
        path: PathBuf,
    },
    /// A folder of PNG/JPEG images, searched recursively; sub-folders name the classes.
    Folder {
        /// The folder.
        path: PathBuf,
    },
}

impl Default for DataSource {
    fn default() -> Self {
        DataSource::Shapes {
            train_count: shapes::default_train_count(),
            test_count: shapes::default_test_count(),
            seed: 0,
        }
    }
}

impl DataSource {
    /// A one-line description for listings.
    pub fn describe(&self) -> String {
        match self {
            DataSource::Shapes { .. } => "built-in shapes".into(),
            DataSource::FashionMnist { path } => format!(
                "Fashion-MNIST ({})",
                path.as_deref()
                    .unwrap_or(Path::new(FASHION_MNIST_DIR))
                    .display()
            ),
            DataSource::Idx { path } => format!("IDX ({})", path.display()),
            DataSource::Cifar10 { path } => format!("CIFAR-10 ({})", path.display()),
            DataSource::Folder { path } => format!("image folder ({})", path.display()),
        }
    }

    /// The captions of the first `limit` held-out images, with their classes when the source has
    /// them, read without decoding images (Fashion-MNIST reads only its labels file): what a text
    /// model's default prompts are made of. Sources without captions are an error.
    pub fn held_out_captions(&self, limit: usize) -> Result<(Captions, Option<Vec<u32>>)> {
        match self {
            DataSource::Shapes {
                test_count, seed, ..
            } => {
                let specs: Vec<shapes::ShapeSpec> = (0..limit.min(*test_count))
                    .map(|i| shapes::spec(*seed, shapes::Split::Test, i))
                    .collect();
                Ok((
                    Captions::from_lists(specs.iter().map(shapes::ShapeSpec::captions)),
                    Some(specs.iter().map(|s| s.shape as u32).collect()),
                ))
            }
            DataSource::FashionMnist { path } => {
                let dir = path
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(FASHION_MNIST_DIR));
                let stem = "t10k-labels-idx1-ubyte";
                let file = idx::find_file(&dir, stem).ok_or_else(|| {
                    Error::Dataset(format!("{}: no {stem} or {stem}.gz", dir.display()))
                })?;
                let mut labels = idx::parse_labels(&file, &idx::read_maybe_gzipped(&file)?)?;
                labels.truncate(limit);
                Ok((
                    Captions::from_lists(labels.iter().map(|&l| captions::fashion_mnist(l))),
                    Some(labels),
                ))
            }
            DataSource::Folder { path } => folder::held_out_captions(path, limit),
            other => Err(Error::Dataset(format!(
                "{}: its images have no captions",
                other.describe()
            ))),
        }
    }

    /// Loads the dataset, resized and converted to `size` × `size` × `channels`, keeping at most
    /// `limit` training images when given.
    pub fn load(&self, size: usize, channels: usize, limit: Option<usize>) -> Result<Dataset> {
        let (name, mut train, mut test) = match self {
            DataSource::Shapes {
                train_count,
                test_count,
                seed,
            } => {
                let count = limit.map_or(*train_count, |l| l.min(*train_count));
                let train = shapes::generate(size, count, *seed, shapes::Split::Train)?;
                let test = shapes::generate(size, *test_count, *seed, shapes::Split::Test)?;
                ("built-in shapes".to_string(), train, test)
            }
            DataSource::FashionMnist { path } => {
                let dir = path
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(FASHION_MNIST_DIR));
                let (mut train, mut test) = idx::load_folder(&dir)?;
                for set in [&mut train, &mut test] {
                    set.class_names = FASHION_MNIST_CLASSES
                        .iter()
                        .map(|s| s.to_string())
                        .collect();
                    set.captions = set.labels.as_ref().map(|labels| {
                        Captions::from_lists(labels.iter().map(|&l| captions::fashion_mnist(l)))
                    });
                }
                ("Fashion-MNIST".to_string(), train, test)
            }
            DataSource::Idx { path } => {
                let (train, test) = idx::load_folder(path)?;
                (format!("IDX {}", path.display()), train, test)
            }
            DataSource::Cifar10 { path } => {
                let (train, test) = cifar::load_folder(path)?;
                ("CIFAR-10".to_string(), train, test)
            }
            DataSource::Folder { path } => {
                let (train, test) = folder::load_folder(path, size)?;
                (format!("folder {}", path.display()), train, test)
            }
        };
        if let Some(limit) = limit {
            train.truncate(limit);
        }
        if train.is_empty() {
            return Err(Error::Dataset(format!(
                "{name}: the training split holds no image"
            )));
        }
        train = train.conform(size, channels)?;
        test = test.conform(size, channels)?;
        Ok(Dataset { name, train, test })
    }
}

/// Whether Fashion-MNIST is installed where Debian puts it.
pub fn fashion_mnist_installed() -> bool {
    idx::find_file(Path::new(FASHION_MNIST_DIR), "train-images-idx3-ubyte").is_some()
}

/// Reads a whole file, naming it in the error.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}
