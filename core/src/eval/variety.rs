//! The variety within a caption: whether a text model draws one caption in many ways or in one
//! (a generator that ignores its noise). It draws several images of each of the first held-out
//! captions and takes the per-pixel standard deviation within each caption's images, beside the
//! same figure for real images that fit the caption. The text match of `easel score` cannot see
//! this: a model drawing every caption once, the same whatever z, matches its text perfectly.

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::sample::LoadedModel;

/// Whether a text model draws one caption in many ways or in one (a generator that ignores its
/// noise): the per-pixel standard deviation over images of the same caption, averaged over the
/// pixels and the captions, for samples and for real images that fit each caption.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Variety {
    /// Captions drawn (the first held-out ones).
    pub captions: usize,
    /// Images of each, sampled and real.
    pub per_caption: usize,
    /// The samples' spread.
    pub samples: f64,
    /// The real images' spread.
    pub real: f64,
    /// Which real images fit a caption.
    pub reference: VarietyReference,
}

/// The real images [`Variety`] compares samples with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VarietyReference {
    /// The built-in shapes: the image the caption describes, drawn at random places (a
    /// caption names everything else).
    Placed,
    /// Held-out images of the caption's class (captions made from labels).
    Class,
}

/// Captions and images per caption of [`Variety`].
const VARIETY: (usize, usize) = (16, 8);

/// The mean over `groups` groups of `per_group` images (`len` values each, consecutive) of the
/// per-value population standard deviation within a group, averaged over the values.
pub fn spread(pixels: &[f32], groups: usize, per_group: usize, len: usize) -> f64 {
    let mut total = 0.0;
    for g in pixels.chunks_exact(per_group * len).take(groups) {
        for j in 0..len {
            let values = (0..per_group).map(|k| f64::from(g[k * len + j]));
            let mean = values.clone().sum::<f64>() / per_group as f64;
            let var = values.map(|v| (v - mean).powi(2)).sum::<f64>() / per_group as f64;
            total += var.sqrt();
        }
    }
    total / (groups * len).max(1) as f64
}

/// [`Variety`] of a text model whose prompts have classes; `None` otherwise, or when some
/// caption has no real images to compare with (a shapes caption not naming everything, a class
/// with under [`VARIETY`]'s images per caption held out).
pub fn variety(model: &LoadedModel, data: &Dataset, seed: u64) -> Result<Option<Variety>> {
    let Some(prompts) = model.prompts()? else {
        return Ok(None);
    };
    let Some(labels) = &prompts.labels else {
        return Ok(None);
    };
    let (captions, per) = (VARIETY.0.min(labels.len()), VARIETY.1);
    let rows: Vec<usize> = (0..captions).flat_map(|c| [c; VARIETY.1]).collect();
    let drawn = model.sample_prompts(&rows, seed)?;
    let set = &data.test;
    let len = drawn.pixels.len() / drawn.count.max(1);
    let shapes = matches!(model.config.data, crate::data::DataSource::Shapes { .. });
    let mut real = Vec::with_capacity(captions * per * len);
    if shapes {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        for text in &prompts.texts[..captions] {
            let Some(asked) = crate::data::shapes::read_caption(text) else {
                return Ok(None);
            };
            for _ in 0..per {
                let Some(spec) = asked.placed(&mut rng) else {
                    return Ok(None);
                };
                real.extend(
                    spec.render(drawn.height)
                        .iter()
                        .map(|&v| f32::from(v) / 255.0),
                );
            }
        }
    } else {
        let Some(test_labels) = &set.labels else {
            return Ok(None);
        };
        for &label in &labels[..captions] {
            let of_class: Vec<usize> = (0..set.len())
                .filter(|&i| test_labels[i] == label)
                .take(per)
                .collect();
            if of_class.len() < per {
                return Ok(None);
            }
            real.extend(set.batch_f32(&of_class));
        }
    }
    if real.len() != drawn.pixels.len() {
        return Err(Error::Dataset(format!(
            "{}: real images of {} values, samples of {len}",
            data.name,
            real.len() / (captions * per).max(1)
        )));
    }
    Ok(Some(Variety {
        captions,
        per_caption: per,
        samples: spread(&drawn.pixels, captions, per, len),
        real: spread(&real, captions, per, len),
        reference: if shapes {
            VarietyReference::Placed
        } else {
            VarietyReference::Class
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_the_per_pixel_deviation_within_each_group() {
        // Group 0: two images of two pixels, [0, 1] and [1, 1]: deviations 0.5 and 0.
        // Group 1: [0.2, 0.2] twice: 0 and 0.
        let pixels = [0.0, 1.0, 1.0, 1.0, 0.2, 0.2, 0.2, 0.2];
        assert!((spread(&pixels, 2, 2, 2) - 0.125).abs() < 1e-12);
        assert!((spread(&pixels, 1, 2, 2) - 0.25).abs() < 1e-12);
        assert_eq!(spread(&pixels[4..], 1, 2, 2), 0.0, "one image twice");
        // Four images of one value, 0, 0, 1, 1: population deviation 0.5.
        assert!((spread(&[0.0, 0.0, 1.0, 1.0], 1, 4, 1) - 0.5).abs() < 1e-12);
    }
}
