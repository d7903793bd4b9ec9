//! Walks between two sentences (text models) or two seeds (StackGAN without text) with the rest
//! of the noise fixed: the images of every stage or scale at each point of the walk.
//!
//! Between sentences the walk is linear in the embeddings, `e_t = (1 − t)·e_from + t·e_to`; the
//! generator then reads either μ(e_t) (Conditioning Augmentation off: the deterministic centre)
//! or `μ + σ ⊙ ε` with one ε for the whole walk (on). Between seeds the walk is spherical
//! (slerp) between two draws of z, as is usual for Gaussian latents.

use burn::prelude::*;
use burn::tensor::TensorData;

use crate::error::{Error, Result};
use crate::images::ImageBatch;
use crate::model::gan::{Gan, Networks};
use crate::model::stackgan::{self, StackNoise};
use crate::noise::NoiseStream;
use crate::sample::LoadedModel;

/// Most points on a walk.
pub const MAX_STEPS: usize = 64;

/// The images along a walk.
#[derive(Debug, Clone)]
pub struct Walk {
    /// For each stage or scale (coarse to fine), one image per point of the walk.
    pub stages: Vec<ImageBatch>,
    /// The mean σ of Conditioning Augmentation at each point (text walks; empty otherwise).
    pub sigma: Vec<f32>,
}

impl Walk {
    /// The finest images.
    pub fn images(&self) -> &ImageBatch {
        self.stages.last().expect("a walk has a stage")
    }
}

fn check_steps(steps: usize) -> Result<()> {
    if (2..=MAX_STEPS).contains(&steps) {
        Ok(())
    } else {
        Err(Error::config(
            "steps",
            format!("a walk has 2 to {MAX_STEPS} points, found {steps}"),
        ))
    }
}

/// StackGAN's config, generator and noise for `n` images from `seed`, the same z for every
/// image.
fn stack_parts(
    model: &LoadedModel,
    n: usize,
    seed: u64,
) -> Result<(
    &stackgan::StackGanConfig,
    &stackgan::StackGanGenerator,
    StackNoise,
)> {
    let Networks::StackGan(pair) = &model.networks else {
        return Err(Error::config(
            "run",
            format!(
                "{} does not draw in stages from text or z walks",
                model.config.model.label()
            ),
        ));
    };
    let mut stream = NoiseStream::new(seed, 0);
    let one = pair
        .model
        .noise(1, 1, &mut |c| stream.normals(c), &model.device);
    let repeat = |t: Tensor<2>| t.repeat_dim(0, n);
    Ok((
        &pair.model,
        &pair.generator,
        StackNoise {
            z: repeat(one.z),
            eps: one.eps.into_iter().map(repeat).collect(),
            instance: Vec::new(),
        },
    ))
}

fn stages_of(drawing: stackgan::StageDrawing) -> Vec<ImageBatch> {
    drawing
        .images
        .into_iter()
        .map(|x| ImageBatch::from_tensor(stackgan::to_unit(x)))
        .collect()
}

/// `steps` points from sentence `from` to sentence `to` with z (and ε) from `seed`;
/// `sampled_c` keeps Conditioning Augmentation's noise, otherwise the generator reads μ.
pub fn between_texts(
    model: &LoadedModel,
    from: &str,
    to: &str,
    steps: usize,
    seed: u64,
    sampled_c: bool,
) -> Result<Walk> {
    check_steps(steps)?;
    let ends = model.embed(&[from, to])?;
    let (_, g, mut noise) = stack_parts(model, steps, seed)?;
    if !sampled_c {
        noise.eps = noise.eps.into_iter().map(|e| e.zeros_like()).collect();
    }
    let t: Vec<f32> = (0..steps).map(|i| i as f32 / (steps - 1) as f32).collect();
    let t = Tensor::<2>::from_data(TensorData::new(t, [steps, 1]), &model.device);
    let e_from = ends.clone().narrow(0, 0, 1);
    let e_to = ends.narrow(0, 1, 1);
    let text = e_from.clone() + (e_to - e_from) * t;
    let drawing = g.draw(&noise, Some(text), usize::MAX);
    let sigma = drawing
        .augmented
        .last()
        .map(|a| {
            (a.logvar.clone() * 0.5)
                .exp()
                .mean_dim(1)
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap_or_default()
        })
        .unwrap_or_default();
    Ok(Walk {
        stages: stages_of(drawing),
        sigma,
    })
}

/// Spherical interpolation between `a` and `b` at `t`: `[1, d]` rows.
fn slerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    let cos = (dot / (na * nb).max(1e-12)).clamp(-1.0, 1.0);
    let omega = cos.acos();
    if omega.abs() < 1e-4 {
        return a.iter().zip(b).map(|(x, y)| x + t * (y - x)).collect();
    }
    let (wa, wb) = (
        ((1.0 - t) * omega).sin() / omega.sin(),
        (t * omega).sin() / omega.sin(),
    );
    a.iter().zip(b).map(|(x, y)| wa * x + wb * y).collect()
}

/// `steps` points from the z of `seed_from` to that of `seed_to` (slerp), for a StackGAN that
/// draws without text.
pub fn between_seeds(
    model: &LoadedModel,
    seed_from: u64,
    seed_to: u64,
    steps: usize,
) -> Result<Walk> {
    check_steps(steps)?;
    if model.reads_text() {
        return Err(Error::config(
            "run",
            "this model draws from text: walk between two sentences instead",
        ));
    }
    let (config, g, _) = stack_parts(model, 1, seed_from)?;
    let z_dim = config.z_dim;
    let draw = |seed| NoiseStream::new(seed, 0).normals(z_dim);
    let (a, b) = (draw(seed_from), draw(seed_to));
    let rows: Vec<f32> = (0..steps)
        .flat_map(|i| slerp(&a, &b, i as f32 / (steps - 1) as f32))
        .collect();
    let z = Tensor::<2>::from_data(TensorData::new(rows, [steps, z_dim]), &model.device);
    let drawing = g.draw(
        &StackNoise {
            z,
            eps: Vec::new(),
            instance: Vec::new(),
        },
        None,
        usize::MAX,
    );
    Ok(Walk {
        stages: stages_of(drawing),
        sigma: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::slerp;

    #[test]
    fn slerp_keeps_the_ends_and_the_norm_between_equal_norm_ends() {
        let a = [1.0, 0.0];
        let b = [0.0, 1.0];
        assert_eq!(slerp(&a, &b, 0.0), a);
        let end = slerp(&a, &b, 1.0);
        assert!((end[0] - 0.0).abs() < 1e-6 && (end[1] - 1.0).abs() < 1e-6);
        let mid = slerp(&a, &b, 0.5);
        let norm = (mid[0] * mid[0] + mid[1] * mid[1]).sqrt();
        assert!((norm - 1.0).abs() < 1e-6, "{norm}");
        assert!((mid[0] - mid[1]).abs() < 1e-6);
    }
}
