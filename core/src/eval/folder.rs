//! Scoring any program's images: a folder of PNG/JPEG files scored with the same classifier,
//! Fréchet distance, coverage and pixel memorisation check as a run's samples (`easel score
//! --folder`), so Easel's samples can be set beside another program's, such as the PyTorch
//! references in `bench/`.

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
    /// The side and channels the images were read at (the first image's).
    pub side: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
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

/// The side and channels of the first image below `dir`: its shorter side, and 1 when it is
/// stored without colour (grey PNG or JPEG), else 3.
pub fn image_format(dir: &Path) -> Result<(usize, usize)> {
    let one = folder::image_paths(dir, 1)?;
    let path = &one[0];
    let img = image::open(path)
        .map_err(|e| Error::format(path, "a readable PNG or JPEG image", e.to_string()))?;
    let side = img.width().min(img.height()) as usize;
    let channels = if img.color().has_color() { 3 } else { 1 };
    Ok((side, channels))
}

/// Loads `data` at the size and channels of the images in `dir`, ready for [`score_folder`].
pub fn dataset_for(dir: &Path, data: &DataSource) -> Result<Dataset> {
    let (side, channels) = image_format(dir)?;
    data.load(side, channels, None)
}

/// Scores the images in `dir` (at most `config.samples`, in sorted path order) against `data`
/// with `classifier` (trained on `data` at the images' size and channels).
pub fn score_folder(
    dir: &Path,
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
    let images = folder::load_images(dir, side, channels, config.samples)?;
    score_images(dir, &images, data, classifier, config)
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
        assert_eq!(image_format(&real_dir).unwrap(), (16, 3));
        let config = ScoreConfig {
            samples: 100,
            probes: 4,
            ..ScoreConfig::default()
        };
        let real = score_folder(&real_dir, &data, &c, &config).unwrap();
        // The folder holds the held-out images themselves: the same pixels, the same figures.
        assert_eq!(real.samples, real.real);
        assert_eq!(real.samples.count, 100, "at most `samples` images read");
        assert!((real.memorisation_ratio - 1.0).abs() < 1e-12);
        assert_eq!(real.neighbours.len(), 4);
        assert!(
            real.neighbours
                .iter()
                .all(|n| n.by_discriminator.is_empty())
        );
        let noise = score_folder(&noise_dir, &data, &c, &config).unwrap();
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
        let e = score_folder(&empty, &data, &c, &config).unwrap_err();
        assert!(e.to_string().contains("no PNG or JPEG image"), "{e}");
        let other = DataSource::Shapes {
            train_count: 100,
            test_count: 10,
            seed: 5,
        }
        .load(24, 3, None)
        .unwrap();
        let e = score_folder(&real_dir, &other, &c, &config).unwrap_err();
        assert!(e.to_string().contains("the classifier reads"), "{e}");
    }
}
