//! The mode-collapse alarm: during training, each fixed-z sample grid is compared with real
//! images. Its diversity (mean pairwise distance between the grid's images, divided by the same
//! for as many real training images) and, when a classifier for the dataset is cached, its class
//! coverage are followed; the alarm sounds when both fall low and well below their best so far.

use serde::{Deserialize, Serialize};

use crate::data::ImageSet;
use crate::eval::classifier::Coverage;
use crate::eval::classifier::TrainedClassifier;
use crate::images::ImageBatch;

/// Diversity (relative to real images) under which the alarm may sound.
pub const LOW_DIVERSITY: f64 = 0.4;
/// ...when it has also fallen below this fraction of its best so far.
pub const FALL: f64 = 0.6;

/// Mean Euclidean distance between all pairs of `count` images of `len` values each.
pub fn mean_pairwise_distance(pixels: &[f32], len: usize) -> f64 {
    let rows: Vec<&[f32]> = pixels.chunks(len).collect();
    let n = rows.len();
    if n < 2 {
        return 0.0;
    }
    let mut total = 0.0;
    for i in 0..n {
        for j in i + 1..n {
            let d2: f64 = rows[i]
                .iter()
                .zip(rows[j])
                .map(|(&a, &b)| ((a - b) as f64).powi(2))
                .sum();
            total += d2.sqrt();
        }
    }
    total / (n * (n - 1) / 2) as f64
}

/// One grid's reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollapseReading {
    /// The grid's diversity divided by real images' (1 ≈ as varied as the data).
    pub diversity: f64,
    /// Classes covered by the grid and the number of classes, when a classifier is cached.
    pub coverage: Option<(usize, usize)>,
    /// Why the alarm sounded, when it did.
    pub alarm: Option<String>,
}

/// Follows the fixed-z grids of one training session.
#[derive(Debug, Clone)]
pub struct CollapseWatch {
    real_diversity: f64,
    best_diversity: f64,
    best_coverage: usize,
    classifier: Option<TrainedClassifier>,
}

impl CollapseWatch {
    /// A watch comparing grids of `count` images with the first `count` images of `real`,
    /// counting classes with `classifier` when there is one.
    pub fn new(real: &ImageSet, count: usize, classifier: Option<TrainedClassifier>) -> Self {
        let indices: Vec<usize> = (0..count.min(real.len())).collect();
        let real_diversity = mean_pairwise_distance(&real.batch_f32(&indices), real.image_len());
        Self {
            real_diversity,
            best_diversity: 0.0,
            best_coverage: 0,
            classifier,
        }
    }

    /// Reads one grid.
    pub fn observe(&mut self, grid: &ImageBatch) -> CollapseReading {
        let len = grid.channels * grid.height * grid.width;
        let diversity =
            mean_pairwise_distance(&grid.pixels, len) / self.real_diversity.max(f64::MIN_POSITIVE);
        self.best_diversity = self.best_diversity.max(diversity);
        let coverage = self.classifier.as_ref().and_then(|c| {
            let image_len = c.info.channels * c.info.side * c.info.side;
            (image_len == len).then(|| {
                let out = c.outputs(&grid.pixels, grid.count);
                (
                    Coverage::of(&out.probabilities, c.classes()).covered,
                    c.classes(),
                )
            })
        });
        if let Some((covered, _)) = coverage {
            self.best_coverage = self.best_coverage.max(covered);
        }
        let diversity_fell = diversity < LOW_DIVERSITY && diversity < FALL * self.best_diversity;
        let coverage_fell = coverage.is_none_or(|(covered, classes)| {
            2 * covered <= classes && (covered as f64) < FALL * self.best_coverage as f64
        });
        let alarm = (diversity_fell && coverage_fell).then(|| {
            let mut why = format!(
                "mode collapse? the fixed-z samples' diversity fell to {:.2} of real images' \
                 (best so far {:.2})",
                diversity, self.best_diversity
            );
            if let Some((covered, classes)) = coverage {
                why += &format!(
                    " and they cover {covered} of {classes} classes (best so far {})",
                    self.best_coverage
                );
            }
            why
        });
        CollapseReading {
            diversity,
            coverage,
            alarm,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DataSource;

    fn batch(set: &ImageSet, indices: &[usize]) -> ImageBatch {
        ImageBatch {
            count: indices.len(),
            channels: set.channels,
            height: set.height,
            width: set.width,
            pixels: set.batch_f32(indices),
        }
    }

    #[test]
    fn pairwise_distance_by_hand() {
        // Three 2-pixel images at (0,0), (3,4), (0,4): distances 5, 3, 4 → mean 4.
        let d = mean_pairwise_distance(&[0.0, 0.0, 3.0, 4.0, 0.0, 4.0], 2);
        assert!((d - 4.0).abs() < 1e-12);
        assert_eq!(mean_pairwise_distance(&[1.0, 2.0], 2), 0.0);
    }

    #[test]
    fn real_images_pass_and_a_collapsed_grid_sounds_the_alarm() {
        let data = DataSource::Shapes {
            train_count: 200,
            test_count: 64,
            seed: 1,
        }
        .load(16, 3, None)
        .unwrap();
        let mut watch = CollapseWatch::new(&data.train, 64, None);
        let varied = watch.observe(&batch(&data.test, &(0..64).collect::<Vec<_>>()));
        assert!(
            varied.diversity > 0.7,
            "held-out images: {}",
            varied.diversity
        );
        assert!(varied.alarm.is_none());
        // One image 62 times and two others: nearly no diversity, and far below its best.
        let mut same = vec![5usize; 62];
        same.extend([6, 7]);
        let collapsed = watch.observe(&batch(&data.test, &same));
        assert!(collapsed.diversity < 0.1, "{}", collapsed.diversity);
        let alarm = collapsed.alarm.expect("the alarm sounds");
        assert!(alarm.contains("diversity fell"), "{alarm}");
        // A watch that never saw a varied grid does not call a constant start a collapse.
        let mut fresh = CollapseWatch::new(&data.train, 64, None);
        assert!(fresh.observe(&batch(&data.test, &same)).alarm.is_none());
    }
}
