//! Scoring any program's images: a folder of PNG/JPEG files scored with the same classifier,
//! Fréchet distance, coverage and pixel memorisation check as a run's samples (`easel score
//! --folder`), so Easel's samples can be set beside another program's, such as the PyTorch
//! references in `bench/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::classifier::{FEATURES, TrainedClassifier};
use super::frechet::Moments;
use super::score::{Figures, Neighbours, ScoreConfig, figures, first, nearest};
use crate::data::{DataSource, Dataset, ImageSet, folder};
use crate::error::{Error, Result};

/// What `easel score --folder` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FolderReport {
    /// The folder scored.
    pub folder: PathBuf,
    /// The side the images were read at (the shorter side of the size most of them have).
    pub side: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Images below the folder of another size, not scored (e.g. `easel sample`'s `grid.png`).
    pub skipped: usize,
    /// Dataset name.
    pub dataset: String,
    /// Class names of the classifier.
    pub classes: Vec<String>,
    /// The classifier's accuracy on held-out images.
    pub classifier_accuracy: f64,
    /// The folder's images.
    pub samples: Figures,
    /// As many real held-out images, for comparison.
    pub real: Figures,
    /// The first images' nearest training images by pixels (D features: none, there is no D).
    pub neighbours: Vec<Neighbours>,
    /// Mean nearest-training-image pixel distance of the probed images over that of held-out
    /// images: well below 1 suggests copying.
    pub memorisation_ratio: f64,
}

/// The images below a folder that are scored: every PNG and JPEG of the size most of them
/// have (a folder of samples may hold a grid of them too), in sorted path order.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderImages {
    /// The folder.
    pub dir: PathBuf,
    /// The files scored.
    pub files: Vec<PathBuf>,
    /// Their shorter side.
    pub side: usize,
    /// 1 when they are stored without colour (grey PNG or JPEG), else 3.
    pub channels: usize,
    /// Images of other sizes, left out.
    pub skipped: usize,
}

impl FolderImages {
    /// Finds the images below `dir`, reading only their headers (and one image's colour type).
    pub fn scan(dir: &Path) -> Result<Self> {
        let paths = folder::image_paths(dir, usize::MAX)?;
        let unreadable = |path: &Path, e: image::ImageError| {
            Error::format(path, "a readable PNG or JPEG image", e.to_string())
        };
        let mut sizes = Vec::with_capacity(paths.len());
        let mut counts: BTreeMap<(u32, u32), usize> = BTreeMap::new();
        for path in &paths {
            let size = image::image_dimensions(path).map_err(|e| unreadable(path, e))?;
            *counts.entry(size).or_default() += 1;
            sizes.push(size);
        }
        let (&common, _) = counts
            .iter()
            .max_by_key(|&(size, n)| (*n, std::cmp::Reverse(*size)))
            .expect("image_paths finds at least one image");
        let files: Vec<PathBuf> = paths
            .iter()
            .zip(&sizes)
            .filter(|&(_, size)| *size == common)
            .map(|(p, _)| p.clone())
            .collect();
        let first = image::open(&files[0]).map_err(|e| unreadable(&files[0], e))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            skipped: paths.len() - files.len(),
            files,
            side: common.0.min(common.1) as usize,
            channels: if first.color().has_color() { 3 } else { 1 },
        })
    }

    /// `data` loaded at these images' side and channels, ready for [`score_folder`].
    pub fn dataset(&self, data: &DataSource) -> Result<Dataset> {
        data.load(self.side, self.channels, None)
    }
}

/// Scores the images (at most `config.samples`, in sorted path order) against `data` with
/// `classifier` (trained on `data` at the images' size and channels).
pub fn score_folder(
    images: &FolderImages,
    data: &Dataset,
    classifier: &TrainedClassifier,
    config: &ScoreConfig,
) -> Result<FolderReport> {
    let set = &data.train;
    let (side, channels) = (set.height, set.channels);
    if [channels, side] != [classifier.info.channels, classifier.info.side] {
        return Err(Error::Dataset(format!(
            "the classifier reads {}×{}² images, the data holds {channels}×{side}²",
            classifier.info.channels, classifier.info.side
        )));
    }
    let files = &images.files[..images.files.len().min(config.samples)];
    let set = folder::load_image_files(files, side, channels)?;
    let mut report = score_images(&images.dir, &set, data, classifier, config)?;
    report.skipped = images.skipped;
    Ok(report)
}

/// Scores `images` (already at the data's size and channels).
fn score_images(
    dir: &Path,
    images: &ImageSet,
    data: &Dataset,
    classifier: &TrainedClassifier,
    config: &ScoreConfig,
) -> Result<FolderReport> {
    if images.len() < 2 {
        return Err(Error::Dataset(format!(
            "{}: expected at least 2 images to score, found {}",
            dir.display(),
            images.len()
        )));
    }
    if data.test.len() < 2 {
        return Err(Error::Dataset(format!(
            "{} has fewer than 2 held-out images to compare the images with",
            data.name
        )));
    }
    let classes = classifier.classes();
    let (reference_pixels, reference_count) = first(&data.train, config.reference_limit);
    let reference = classifier.outputs(&reference_pixels, reference_count);
    let reference_moments = Moments::of(&reference.features, FEATURES);
    let (pixels, count) = first(images, images.len());
    let samples = figures(
        &classifier.outputs(&pixels, count),
        count,
        &reference_moments,
        classes,
    );
    let (test_pixels, test_count) = first(&data.test, count);
    let real = figures(
        &classifier.outputs(&test_pixels, test_count),
        test_count,
        &reference_moments,
        classes,
    );
    let len = images.image_len();
    let probes = config.probes.min(count);
    let neighbours: Vec<Neighbours> = (0..probes)
        .map(|i| Neighbours {
            sample: i,
            by_pixels: nearest(
                &pixels[i * len..(i + 1) * len],
                &reference_pixels,
                len,
                config.neighbours,
            ),
            by_discriminator: Vec::new(),
        })
        .collect();
    let real_nearest: Vec<f64> = (0..probes.min(test_count))
        .map(|i| {
            nearest(
                &test_pixels[i * len..(i + 1) * len],
                &reference_pixels,
                len,
                1,
            )[0]
            .1
        })
        .collect();
    let image_nearest: Vec<f64> = neighbours
        .iter()
        .filter_map(|n| n.by_pixels.first().map(|x| x.1))
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    Ok(FolderReport {
        folder: dir.to_path_buf(),
        side: images.height,
        channels: images.channels,
        skipped: 0,
        dataset: data.name.clone(),
        classes: classifier.info.classes.clone(),
        classifier_accuracy: classifier.info.test_accuracy,
        samples,
        real,
        neighbours,
        memorisation_ratio: mean(&image_nearest) / mean(&real_nearest).max(f64::MIN_POSITIVE),
    })
}

#[cfg(test)]
mod tests {
    use burn::prelude::Device;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::data::to_rgb_image;
    use crate::eval::classifier;

    /// Writes `set`'s first `count` images as PNGs (RGB, lossless) into `dir`.
    fn write_pngs(set: &ImageSet, count: usize, dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        for i in 0..count {
            to_rgb_image(set.image(i), set.channels, set.width, set.height)
                .save(dir.join(format!("image-{i:04}.png")))
                .unwrap();
        }
    }

    #[test]
    fn a_folder_of_held_out_images_scores_as_they_do_and_noise_far_worse() {
        let data = DataSource::Shapes {
            train_count: 2000,
            test_count: 120,
            seed: 5,
        }
        .load(16, 3, None)
        .unwrap();
        let c = classifier::train(&data, &Device::flex(), &mut |_| {}).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (real_dir, noise_dir) = (dir.path().join("real"), dir.path().join("noise"));
        write_pngs(&data.test, 120, &real_dir);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let noise = ImageSet {
            pixels: (0..120 * 3 * 16 * 16).map(|_| rng.random()).collect(),
            labels: None,
            captions: None,
            ..data.test.clone()
        };
        write_pngs(&noise, 120, &noise_dir);
        // A grid of another size beside the samples (as `easel sample` writes) is left out.
        image::RgbImage::new(40, 20)
            .save(real_dir.join("grid.png"))
            .unwrap();
        let real_images = FolderImages::scan(&real_dir).unwrap();
        assert_eq!((real_images.side, real_images.channels), (16, 3));
        assert_eq!((real_images.files.len(), real_images.skipped), (120, 1));
        let config = ScoreConfig {
            samples: 100,
            probes: 4,
            ..ScoreConfig::default()
        };
        let real = score_folder(&real_images, &data, &c, &config).unwrap();
        // The folder holds the held-out images themselves: the same pixels, the same figures.
        assert_eq!(real.samples, real.real);
        assert_eq!(real.samples.count, 100, "at most `samples` images read");
        assert_eq!(real.skipped, 1);
        assert!((real.memorisation_ratio - 1.0).abs() < 1e-12);
        assert_eq!(real.neighbours.len(), 4);
        assert!(
            real.neighbours
                .iter()
                .all(|n| n.by_discriminator.is_empty())
        );
        let noise_images = FolderImages::scan(&noise_dir).unwrap();
        let noise = score_folder(&noise_images, &data, &c, &config).unwrap();
        assert_eq!(noise.real, real.real);
        assert!(
            noise.samples.frechet_distance > 2.0 * real.samples.frechet_distance,
            "Fréchet: noise {} vs real {}",
            noise.samples.frechet_distance,
            real.samples.frechet_distance
        );
        assert!(noise.samples.classifier_score < real.samples.classifier_score);
        // A folder without images, or images at another size than the classifier's, is refused.
        let empty = dir.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let e = FolderImages::scan(&empty).unwrap_err();
        assert!(e.to_string().contains("no PNG or JPEG image"), "{e}");
        let other = DataSource::Shapes {
            train_count: 100,
            test_count: 10,
            seed: 5,
        }
        .load(24, 3, None)
        .unwrap();
        let e = score_folder(&real_images, &other, &c, &config).unwrap_err();
        assert!(e.to_string().contains("the classifier reads"), "{e}");
    }
}
