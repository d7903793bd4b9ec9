//! D's text check: whether a text model's conditional discriminators tell a held-out image's own
//! caption from the closest caption of each other class. A generator learns to show what its
//! text says only as far as its discriminators check it; when samples ignore a part of the text
//! (on the shapes, the shape), this tells whether D reads it.
//!
//! Each held-out image is paired with its own first caption and, for every other class, the
//! held-out caption of that class closest to its own ([`counterparts`]): on the shapes, the
//! same colours and size with another shape. D reads them as in training: on the autodiff
//! device with its BatchNorm layers taking the statistics of each batch of real images (its
//! running statistics mix real and fake batches, which D never reads at once in training).

use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::gan::{Networks, Pair};
use crate::model::stackgan::{counterparts, real_scales};
use crate::sample::LoadedModel;

/// What one conditional discriminator makes of held-out images and captions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaleCheck {
    /// Side of the images it reads.
    pub side: usize,
    /// Mean σ(logit) of the images with their own caption.
    pub right: f64,
    /// Mean σ(logit) of the images with another class's closest caption.
    pub wrong: f64,
    /// Of the (image, other class) pairs, the fraction in which D's logit is higher for the
    /// image's own caption: about 0.5 for a D that reads the text but not what tells the
    /// classes apart, 1 for one that always does; ties (a D blind to the text) count as not.
    pub prefers_right: f64,
}

/// D's text check of a text model, one reading per conditional discriminator, coarse to fine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextCheck {
    /// Held-out images read.
    pub images: usize,
    /// Other classes each image was paired with.
    pub others: usize,
    /// Coarse to fine.
    pub scales: Vec<ScaleCheck>,
}

/// D's text check of `model` on up to `limit` held-out images of `data` (whole batches of the
/// run's batch size where there are that many); `None` for a model that reads no text or data
/// without captions and labels.
pub fn text_check(model: &LoadedModel, data: &Dataset, limit: usize) -> Result<Option<TextCheck>> {
    let Networks::StackGan(Pair {
        model: config,
        generator,
        critic,
    }) = &model.networks
    else {
        return Ok(None);
    };
    let (Some(encoder), Some(captions), Some(labels)) = (
        model.encoder(),
        data.test.captions.as_ref(),
        data.test.labels.as_ref(),
    ) else {
        return Ok(None);
    };
    let batch = model.config.train.batch_size.max(2);
    let available = limit.min(data.test.len());
    let n = if available >= batch {
        available / batch * batch
    } else {
        available
    };
    if n < 2 {
        return Err(Error::Dataset(format!(
            "{} has fewer than 2 held-out images for D's text check",
            data.name
        )));
    }
    let device = model.device.clone().autodiff();
    let (_, embeddings) = encoder.firsts(captions, n, &device)?;
    let labels = &labels[..n];
    let others = counterparts(embeddings.clone(), labels, n);
    let k = others[0].len();
    if k == 0 || others.iter().any(|o| o.len() != k) {
        return Ok(None);
    }
    // The j-th other class's caption of every image.
    let columns: Vec<Vec<u32>> = (0..k)
        .map(|j| others.iter().map(|o| o[j]).collect())
        .collect();
    // Fresh copies in training mode: BatchNorm reads each batch's statistics (and updates
    // running statistics of these copies alone).
    let generator = generator.clone().train();
    let critic = critic.clone().train();
    let sides = config.sides();
    let scales: Vec<usize> = (0..critic.scales.len())
        .filter(|&i| critic.scales[i].conditional())
        .collect();
    // Per scale: sums of σ(right), σ(wrong), and pairs preferring the right caption.
    let mut sums = vec![(0.0f64, 0.0f64, 0usize); scales.len()];
    let set = &data.test;
    for start in (0..n).step_by(batch) {
        let m = batch.min(n - start);
        let indices: Vec<usize> = (start..start + m).collect();
        let pixels = Tensor::<4>::from_data(
            TensorData::new(
                set.batch_f32(&indices),
                [m, set.channels, set.height, set.width],
            ),
            &device,
        );
        let reals = real_scales(config, pixels);
        let text = embeddings.clone().narrow(0, start, m);
        for (slot, &i) in scales.iter().enumerate() {
            let d = &critic.scales[i];
            let h = d.encode(reals[i].clone());
            let logits = |t: Tensor<2>| -> Vec<f32> {
                let c = d
                    .condition(&generator, t, i)
                    .expect("a text model's condition");
                let l = d.cond_logits(h.clone(), c).expect("a conditional head");
                l.into_data()
                    .convert::<f32>()
                    .try_to_vec::<f32>()
                    .expect("f32 logits")
            };
            let right = logits(text.clone());
            sums[slot].0 += sum_sigmoid(&right);
            for column in &columns {
                let rows: Vec<i64> = column[start..start + m]
                    .iter()
                    .map(|&r| i64::from(r))
                    .collect();
                let rows = Tensor::<1, Int>::from_data(TensorData::new(rows, [m]), &device);
                let wrong = logits(embeddings.clone().select(0, rows));
                sums[slot].1 += sum_sigmoid(&wrong);
                sums[slot].2 += right.iter().zip(&wrong).filter(|(r, w)| r > w).count();
            }
        }
    }
    let pairs = (n * k) as f64;
    Ok(Some(TextCheck {
        images: n,
        others: k,
        scales: scales
            .iter()
            .zip(sums)
            .map(|(&i, (right, wrong, prefers))| ScaleCheck {
                side: sides[i],
                right: right / n as f64,
                wrong: wrong / pairs,
                prefers_right: prefers as f64 / pairs,
            })
            .collect(),
    }))
}

/// The sum of σ over logits.
fn sum_sigmoid(logits: &[f32]) -> f64 {
    logits
        .iter()
        .map(|&x| 1.0 / (1.0 + (-f64::from(x)).exp()))
        .sum()
}
