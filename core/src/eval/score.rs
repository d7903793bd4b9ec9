//! Sample-quality figures of one model, each beside the same figure for real held-out images so
//! a reader can tell good from bad: the classifier score (the Inception Score formula,
//! `exp E_x KL(p(y|x) ‖ p(y))`, on Easel's own classifier), the Fréchet distance of classifier
//! features to the training images, and class coverage. Plus the paper's memorisation check: a
//! sample's nearest training images by pixel distance and by discriminator-feature distance.

use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

use crate::data::{Dataset, ImageSet};
use crate::error::{Error, Result};
pub use crate::eval::classifier::Coverage;
use crate::eval::classifier::{FEATURES, Outputs, TrainedClassifier};
use crate::eval::frechet::{Moments, frechet_distance};
use crate::eval::text_check::{TextCheck, text_check};
use crate::eval::variety::{Variety, VarietyReference, variety};
use crate::model::gan::Networks;
use crate::sample::LoadedModel;

/// How a score is taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreConfig {
    /// Samples drawn from the model (and held-out images scored beside them, as many as there
    /// are, up to this).
    pub samples: usize,
    /// Seed of the samples' noise.
    pub seed: u64,
    /// Training images the Fréchet reference and the neighbour search use, at most.
    pub reference_limit: usize,
    /// Nearest neighbours listed per probed sample.
    pub neighbours: usize,
    /// Samples probed for neighbours (the first ones).
    pub probes: usize,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        Self {
            samples: 1000,
            seed: 0,
            reference_limit: 10_000,
            neighbours: 5,
            probes: 8,
        }
    }
}

/// The figures of one set of images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Images scored.
    pub count: usize,
    /// `exp E KL(p(y|x) ‖ p(y))`: 1 (every image the same class, or no confidence) up to the
    /// number of classes (confident and evenly spread).
    pub classifier_score: f64,
    /// Fréchet distance of the classifier's features to the training images' (lower is closer).
    pub frechet_distance: f64,
    /// How the images spread over the classes.
    pub coverage: Coverage,
}

/// A sample and its nearest training images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Neighbours {
    /// Index of the sample among the drawn ones.
    pub sample: usize,
    /// Nearest training images by pixel distance: (training index, Euclidean distance).
    pub by_pixels: Vec<(usize, f64)>,
    /// Nearest training images by the distance between D's features.
    pub by_discriminator: Vec<(usize, f64)>,
}

/// Everything `easel score` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreReport {
    /// The settings used.
    pub config: ScoreConfig,
    /// Dataset name.
    pub dataset: String,
    /// Class names of the classifier.
    pub classes: Vec<String>,
    /// The classifier's accuracy on held-out images: how far its figures can be trusted.
    pub classifier_accuracy: f64,
    /// The model's samples.
    pub samples: Figures,
    /// Real held-out images, for comparison.
    pub real: Figures,
    /// The first samples' nearest training images.
    pub neighbours: Vec<Neighbours>,
    /// Mean over the probes of (nearest training image's pixel distance) divided by (a held-out
    /// image's distance to its nearest training image): well below 1 suggests copying.
    pub memorisation_ratio: f64,
    /// For a text model on a labelled dataset: how often the classifier puts a sample in the
    /// class of the held-out image whose caption it was drawn from.
    #[serde(default)]
    pub text_match: Option<TextMatch>,
    /// For a text model on captioned, labelled data: whether its discriminators tell held-out
    /// images' own captions from other classes' closest ones.
    #[serde(default)]
    pub text_check: Option<TextCheck>,
    /// For a text model on labelled data: how much its images of one caption differ, beside
    /// real images that fit the caption.
    #[serde(default)]
    pub variety: Option<Variety>,
}

impl ScoreReport {
    /// What a text model's figures say, one line each, as `easel score` prints them and the
    /// studio's score view shows them: the text match with each class's asked → shown, the
    /// colours and size read off the pixels (the shapes), and D's text check per scale; no lines
    /// for a model without text. Indented lines detail the line above them.
    pub fn text_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let k = self.classes.len().max(1);
        if let Some(m) = &self.text_match {
            lines.push(format!(
                "text match: {:.1}% of {} samples drawn from held-out captions are classified as \
                 their caption's class (chance {:.1}%; the classifier is {:.1}% right on real \
                 images)",
                100.0 * m.accuracy,
                m.samples,
                100.0 / k as f64,
                100.0 * self.classifier_accuracy
            ));
            lines.push(format!(
                "  per class (shown of asked): {}",
                self.classes
                    .iter()
                    .zip(&m.per_class)
                    .map(|(c, (asked, shown))| format!("{c} {shown}/{asked}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            if let Some(c) = &m.colours {
                let pct = |n: usize| 100.0 * n as f64 / c.samples.max(1) as f64;
                lines.push(format!(
                    "  colours read off the pixels (of {} samples): shape's colour as asked \
                     {:.1}%, background as asked {:.1}%, both {:.1}% (chance 12.5%, 12.5%, 1.8%)",
                    c.samples,
                    pct(c.shape),
                    pct(c.background),
                    pct(c.both)
                ));
                if c.sized > 0 {
                    lines.push(format!(
                        "  size read off the pixels (of {} samples whose text names one): as \
                         asked {:.1}% (chance 33.3%)",
                        c.sized,
                        100.0 * c.size as f64 / c.sized as f64
                    ));
                }
            }
        }
        if let Some(v) = &self.variety {
            lines.push(format!(
                "variety within a caption: {} samples of each of the first {} held-out captions \
                 differ by {:.3} per pixel (standard deviation, pixels 0 to 1); real images that \
                 fit each caption: {:.3} ({})",
                v.per_caption,
                v.captions,
                v.samples,
                v.real,
                match v.reference {
                    VarietyReference::Placed => "its shape drawn at other places",
                    VarietyReference::Class => "held-out images of its class",
                }
            ));
        }
        if let Some(c) = &self.text_check {
            lines.push(format!(
                "D's text check ({} held-out images, each with its own caption and the closest \
                 caption of each of {} other classes; about 50% is a D that reads the text but \
                 not what tells them apart):",
                c.images, c.others
            ));
            for s in &c.scales {
                lines.push(format!(
                    "  {0}×{0}: prefers the right caption in {1:.1}% of pairs; D(right) {2:.3}, \
                     D(other class) {3:.3}",
                    s.side,
                    100.0 * s.prefers_right,
                    s.right,
                    s.wrong
                ));
            }
        }
        lines
    }
}

/// Whether samples show what their text says, by the classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextMatch {
    /// Samples checked.
    pub samples: usize,
    /// Fraction classified as their caption's class (the classifier's own accuracy on real
    /// held-out images is the ceiling; 1 / classes is chance).
    pub accuracy: f64,
    /// Per class: (samples asked for it, classified as it).
    pub per_class: Vec<(usize, usize)>,
    /// On the built-in shapes, whether the colours named are the colours drawn.
    #[serde(default)]
    pub colours: Option<ColourMatch>,
}

/// Whether samples of the built-in shapes show the colours and the size their text names, read
/// off the pixels ([`crate::data::shapes::read_image`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ColourMatch {
    /// Samples whose text names both colours.
    pub samples: usize,
    /// Of those, drawn with the shape's colour named.
    pub shape: usize,
    /// Drawn on the background named.
    pub background: usize,
    /// Both.
    pub both: usize,
    /// Samples whose text names a size (small, medium, large).
    #[serde(default)]
    pub sized: usize,
    /// Of those, drawn at the size named: the area of the pixels away from the background is
    /// nearest, in ratio, to that size's area for the shape asked.
    #[serde(default)]
    pub size: usize,
}

/// The colour match of `count` RGB samples (`3 × side²` values each, in `[0, 1]`), sample `i`
/// drawn from `texts[i mod len]`; `None` when no text names both colours.
pub fn colour_match(
    pixels: &[f32],
    count: usize,
    side: usize,
    texts: &[String],
) -> Option<ColourMatch> {
    let len = 3 * side * side;
    if texts.is_empty() || pixels.len() < count * len {
        return None;
    }
    use crate::data::shapes;
    let mut m = ColourMatch {
        samples: 0,
        shape: 0,
        background: 0,
        both: 0,
        sized: 0,
        size: 0,
    };
    for i in 0..count {
        let Some(asked) = shapes::read_caption(&texts[i % texts.len()]) else {
            continue;
        };
        let (Some(colour), Some(background)) = (asked.colour, asked.background) else {
            continue;
        };
        let seen = shapes::read_image(&pixels[i * len..(i + 1) * len], side);
        let (a, b) = (seen.colour == Some(colour), seen.background == background);
        m.samples += 1;
        m.shape += usize::from(a);
        m.background += usize::from(b);
        m.both += usize::from(a && b);
        if let Some(size) = asked.size {
            m.sized += 1;
            m.size += usize::from(shapes::size_of(asked.shape, seen.area) == Some(size));
        }
    }
    (m.samples > 0).then_some(m)
}

/// The text-match figure of samples drawn from prompts with known classes: sample `i` was drawn
/// from prompt `i mod labels.len()`.
pub fn text_match(probabilities: &[f32], classes: usize, labels: &[u32]) -> Option<TextMatch> {
    if labels.is_empty() || classes == 0 {
        return None;
    }
    let mut per_class = vec![(0usize, 0usize); classes];
    let mut right = 0;
    let rows = probabilities.chunks(classes);
    let samples = rows.len();
    for (i, p) in rows.enumerate() {
        let want = labels[i % labels.len()] as usize % classes;
        let hit = super::classifier::argmax(p) == want;
        per_class[want].0 += 1;
        per_class[want].1 += usize::from(hit);
        right += usize::from(hit);
    }
    Some(TextMatch {
        samples,
        accuracy: right as f64 / samples.max(1) as f64,
        per_class,
        colours: None,
    })
}

/// `exp(mean_x Σ_y p(y|x) (ln p(y|x) − ln p(y)))`, `p(y)` the mean of `p(y|x)`.
pub fn classifier_score(probabilities: &[f32], classes: usize) -> f64 {
    let count = probabilities.len() / classes;
    if count == 0 {
        return 1.0;
    }
    let mut marginal = vec![0f64; classes];
    for p in probabilities.chunks(classes) {
        for (m, &v) in marginal.iter_mut().zip(p) {
            *m += v as f64 / count as f64;
        }
    }
    let kl: f64 = probabilities
        .chunks(classes)
        .map(|p| {
            p.iter()
                .zip(&marginal)
                .filter(|&(&v, &m)| v > 0.0 && m > 0.0)
                .map(|(&v, &m)| v as f64 * ((v as f64).ln() - m.ln()))
                .sum::<f64>()
        })
        .sum::<f64>()
        / count as f64;
    kl.exp()
}

/// The figures of classifier outputs `out` of `count` images against the training images'
/// feature moments `reference`.
pub(crate) fn figures(out: &Outputs, count: usize, reference: &Moments, classes: usize) -> Figures {
    Figures {
        count,
        classifier_score: classifier_score(&out.probabilities, classes),
        frechet_distance: frechet_distance(&Moments::of(&out.features, FEATURES), reference),
        coverage: Coverage::of(&out.probabilities, classes),
    }
}

/// The `k` rows of `candidates` (each `dim` long) nearest to `query`, by Euclidean distance.
pub fn nearest(query: &[f32], candidates: &[f32], dim: usize, k: usize) -> Vec<(usize, f64)> {
    let mut all: Vec<(usize, f64)> = candidates
        .chunks(dim)
        .enumerate()
        .map(|(i, row)| {
            let d2: f64 = row
                .iter()
                .zip(query)
                .map(|(&a, &b)| ((a - b) as f64).powi(2))
                .sum();
            (i, d2.sqrt())
        })
        .collect();
    let k = k.min(all.len());
    if k == 0 {
        return Vec::new();
    }
    all.select_nth_unstable_by(k - 1, |a, b| a.1.total_cmp(&b.1));
    all.truncate(k);
    all.sort_by(|a, b| a.1.total_cmp(&b.1));
    all
}

fn discriminator_features(
    d: &Networks,
    device: &Device,
    pixels: &[f32],
    shape: [usize; 3],
) -> (Vec<f32>, usize) {
    let len = shape.iter().product::<usize>();
    let mut out = Vec::new();
    let mut dim = 0;
    for chunk in pixels.chunks(500 * len) {
        let n = chunk.len() / len;
        let images = Tensor::<4>::from_data(
            TensorData::new(chunk.to_vec(), [n, shape[0], shape[1], shape[2]]),
            device,
        );
        let f = d.features(images, None);
        dim = f.dims()[1];
        out.extend(
            f.into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .expect("f32"),
        );
    }
    (out, dim)
}

/// The first `limit` images of `set` as floats in `[0, 1]`, and how many there are.
pub(crate) fn first(set: &ImageSet, limit: usize) -> (Vec<f32>, usize) {
    let n = set.len().min(limit);
    let indices: Vec<usize> = (0..n).collect();
    (set.batch_f32(&indices), n)
}

/// Scores `model`'s samples on `data` (the dataset it was trained on) with `classifier` (trained
/// on the same data). `progress` hears the fraction done.
pub fn score(
    model: &LoadedModel,
    data: &Dataset,
    classifier: &TrainedClassifier,
    config: &ScoreConfig,
    progress: &mut dyn FnMut(f32),
) -> Result<ScoreReport> {
    let set = &data.train;
    if [set.channels, set.height] != [classifier.info.channels, classifier.info.side] {
        return Err(Error::Dataset(format!(
            "the classifier reads {}×{}² images, the data holds {}×{}²",
            classifier.info.channels, classifier.info.side, set.channels, set.height
        )));
    }
    if config.samples < 2 {
        return Err(Error::config(
            "samples",
            "expected at least 2 samples to score",
        ));
    }
    if data.test.len() < 2 {
        return Err(Error::Dataset(format!(
            "{} has fewer than 2 held-out images to compare the samples with",
            data.name
        )));
    }
    let classes = classifier.classes();
    let drawn = model
        .sample(config.samples, None, config.seed, false)?
        .images;
    progress(0.2);
    let (reference_pixels, reference_count) = first(set, config.reference_limit);
    let reference = classifier.outputs(&reference_pixels, reference_count);
    let reference_moments = Moments::of(&reference.features, FEATURES);
    progress(0.5);
    let sample_out = classifier.outputs(&drawn.pixels, drawn.count);
    let samples = figures(&sample_out, drawn.count, &reference_moments, classes);
    let (test_pixels, test_count) = first(&data.test, config.samples);
    let test_out = classifier.outputs(&test_pixels, test_count);
    let real = figures(&test_out, test_count, &reference_moments, classes);
    progress(0.7);

    let shape = [set.channels, set.height, set.width];
    let len = set.image_len();
    let d = &model.networks;
    let (reference_d, dim) = discriminator_features(d, &model.device, &reference_pixels, shape);
    let probes = config.probes.min(drawn.count);
    let (probe_d, _) =
        discriminator_features(d, &model.device, &drawn.pixels[..probes * len], shape);
    let neighbours: Vec<Neighbours> = (0..probes)
        .map(|i| Neighbours {
            sample: i,
            by_pixels: nearest(
                &drawn.pixels[i * len..(i + 1) * len],
                &reference_pixels,
                len,
                config.neighbours,
            ),
            by_discriminator: nearest(
                &probe_d[i * dim..(i + 1) * dim],
                &reference_d,
                dim,
                config.neighbours,
            ),
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
    let sample_nearest: Vec<f64> = neighbours
        .iter()
        .filter_map(|n| n.by_pixels.first().map(|x| x.1))
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let memorisation_ratio = mean(&sample_nearest) / mean(&real_nearest).max(f64::MIN_POSITIVE);
    let prompts = model.prompts()?;
    let mut text_match = prompts
        .and_then(|p| p.labels.as_deref())
        .and_then(|labels| text_match(&sample_out.probabilities, classes, labels));
    if let (Some(m), Some(p), crate::data::DataSource::Shapes { .. }) =
        (&mut text_match, prompts, &model.config.data)
        && drawn.channels == 3
    {
        m.colours = colour_match(&drawn.pixels, drawn.count, drawn.height, &p.texts);
    }
    progress(0.9);
    let text_check = text_check(model, data, config.samples)?;
    let variety = variety(model, data, config.seed)?;
    progress(1.0);
    Ok(ScoreReport {
        config: config.clone(),
        dataset: data.name.clone(),
        classes: classifier.info.classes.clone(),
        classifier_accuracy: classifier.info.test_accuracy,
        samples,
        real,
        neighbours,
        memorisation_ratio,
        text_match,
        text_check,
        variety,
    })
}

#[cfg(test)]
mod tests;
