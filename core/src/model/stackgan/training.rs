//! A training step's losses: which scales train, the real images at each scale, and the D and G
//! losses summed over them.

use burn::prelude::*;

use super::conditioning::kl;
use super::config::{Mismatch, StackGanConfig, Version};
use super::losses::{DLogits, colour_consistency, generator_adversarial, joint_d, stage_d};
use super::v2::StageDrawing;
use super::{
    ScaleDiscriminator, StackGanDiscriminator, StackGanGenerator, StackNoise, nearest_other_class,
};
use crate::model::gan::DiscriminatorStep;

/// Which networks a step trains: v2 trains every scale at once; v1 trains Stage-I, then
/// Stage-II (with Stage-I fixed).
pub fn trained_scales(config: &StackGanConfig, step: u64) -> std::ops::Range<usize> {
    match config.version {
        Version::V2 => 0..config.scales,
        Version::V1 if step < config.stage1_steps => 0..1,
        Version::V1 => 1..2,
    }
}

/// The mean of the conditions μ of a drawing's Conditioning Augmentations for `scale`: v1's
/// stages each have their own; v2's scales share one.
fn mu_for(drawing: &StageDrawing, scale: usize) -> Option<Tensor<2>> {
    let a = drawing.augmented.get(scale).or(drawing.augmented.first())?;
    Some(a.mu.clone().detach())
}

/// The condition D `d` reads for a drawing's own text at `scale`: the drawing's μ (as computed
/// when drawing it), or D's own compression of the embeddings.
fn d_condition(
    d: &ScaleDiscriminator,
    generator: &StackGanGenerator,
    drawing: &StageDrawing,
    text: Option<Tensor<2>>,
    scale: usize,
) -> Option<Tensor<2>> {
    if d.reads_embeddings() {
        d.condition(generator, text?, scale)
    } else {
        mu_for(drawing, scale)
    }
}

/// The real images at each scale, coarse to fine, in `[-1, 1]`, from a finest batch in `[0, 1]`.
pub fn real_scales(config: &StackGanConfig, real: Tensor<4>) -> Vec<Tensor<4>> {
    let sides = config.sides();
    let mut out = vec![real * 2.0 - 1.0];
    while out.len() < sides.len() {
        let finer = out.last().expect("one at least").clone();
        let mut coarser = crate::model::lapgan::pyramid::downsample(finer);
        while coarser.dims()[2] > sides[sides.len() - 1 - out.len()] {
            coarser = crate::model::lapgan::pyramid::downsample(coarser);
        }
        out.push(coarser);
    }
    out.reverse();
    out
}

/// The discriminators' loss at `step`: every trained scale's D on real images with matching
/// and mismatched conditions and on detached fakes. `classes` (the real images' labels) are
/// read by [`Mismatch::NearestOtherClass`], `counterparts` (the embeddings of the real images'
/// counterparts' captions) by [`Mismatch::Counterpart`].
#[allow(clippy::too_many_arguments)]
pub fn discriminator_loss(
    config: &StackGanConfig,
    generator: &StackGanGenerator,
    critic: &StackGanDiscriminator,
    real: Tensor<4>,
    noise: &StackNoise,
    text: Option<Tensor<2>>,
    classes: Option<&[u32]>,
    counterparts: Option<Tensor<2>>,
    step: u64,
) -> DiscriminatorStep<StageDrawing> {
    let counterparts = counterparts.filter(|_| config.mismatch == Mismatch::Counterpart);
    let scales = trained_scales(config, step);
    let hard = match (config.mismatch, &text, classes) {
        (Mismatch::NearestOtherClass, Some(t), Some(classes)) => {
            let embeddings = t
                .clone()
                .into_data()
                .try_to_vec::<f32>()
                .expect("f32 embeddings");
            let rows = nearest_other_class(&embeddings, classes);
            let rows = rows.into_iter().map(|r| r as i64).collect::<Vec<_>>();
            Some(Tensor::<1, Int>::from_data(
                TensorData::new(rows, [classes.len()]),
                &t.device(),
            ))
        }
        _ => None,
    };
    let drawing = generator.draw(noise, text.clone(), scales.end);
    let reals = real_scales(config, real);
    let b = reals[0].dims()[0];
    let sigma = config.instance_sigma(step);
    let mut total = None;
    let mut shown = None;
    for i in scales {
        let d = &critic.scales[i];
        let h_real = d.encode(noise.noisy(reals[i].clone(), i, false, sigma));
        let h_fake = d.encode(noise.noisy(drawing.images[i].clone().detach(), i, true, sigma));
        let mu = d_condition(d, generator, &drawing, text.clone(), i);
        let counterpart = counterparts
            .clone()
            .and_then(|t| d.condition(generator, t, i))
            .and_then(|m| d.cond_logits(h_real.clone(), m));
        let logits = DLogits {
            real: mu.clone().and_then(|m| d.cond_logits(h_real.clone(), m)),
            wrong: mu.clone().and_then(|m| {
                let next = d.cond_logits(
                    h_real.clone().narrow_batch(0, b - 1),
                    m.clone().narrow(0, 1, b - 1),
                );
                let nearest = hard
                    .as_ref()
                    .and_then(|rows| d.cond_logits(h_real.clone(), m.select(0, rows.clone())));
                match nearest.or(counterpart) {
                    Some(hard) => Some(Tensor::cat(vec![next?, hard], 0)),
                    None => next,
                }
            }),
            fake: mu.and_then(|m| d.cond_logits(h_fake.clone(), m)),
            real_uncond: d.uncond_logits(h_real),
            fake_uncond: d.uncond_logits(h_fake),
        };
        let loss = match config.version {
            Version::V1 => stage_d(&logits),
            Version::V2 => joint_d(&logits, config.uncond_weight),
        };
        let real_head = logits.real.clone().or(logits.real_uncond.clone());
        let fake_head = logits.fake.clone().or(logits.fake_uncond.clone());
        shown = Some((real_head.expect("a head"), fake_head.expect("a head")));
        total = Some(match total {
            Some(t) => t + loss,
            None => loss,
        });
    }
    let (r, f) = shown.expect("at least one scale trains");
    DiscriminatorStep {
        loss: total.expect("at least one scale trains"),
        d_real: burn::tensor::activation::sigmoid(r).mean(),
        d_fake: burn::tensor::activation::sigmoid(f).mean(),
        fakes: drawing,
    }
}

/// The generator's loss at `step` and mean D(G(z)) of the finest trained scale: the adversarial
/// terms of every trained scale, the KL term of each Conditioning Augmentation used, and (v2)
/// colour consistency between adjacent scales. `drawn`: this step's drawing from `noise` and
/// `text` where the discriminator step made it (both reference codes draw once per
/// iteration); drawn here otherwise.
pub fn generator_loss(
    config: &StackGanConfig,
    generator: &StackGanGenerator,
    critic: &StackGanDiscriminator,
    noise: &StackNoise,
    text: Option<Tensor<2>>,
    drawn: Option<StageDrawing>,
    step: u64,
) -> (Tensor<1>, Tensor<1>) {
    let scales = trained_scales(config, step);
    let drawing = drawn.unwrap_or_else(|| generator.draw(noise, text.clone(), scales.end));
    let mut total: Option<Tensor<1>> = None;
    let mut add = |t: Tensor<1>| {
        total = Some(match total.take() {
            Some(s) => s + t,
            None => t,
        })
    };
    let mut shown = None;
    let sigma = config.instance_sigma(step);
    for i in scales.clone() {
        let d = &critic.scales[i];
        let h = d.encode(noise.noisy(drawing.images[i].clone(), i, true, sigma));
        let cond = d_condition(d, generator, &drawing, text.clone(), i)
            .and_then(|m| d.cond_logits(h.clone(), m));
        let uncond = d.uncond_logits(h);
        shown = cond.clone().or(uncond.clone());
        add(generator_adversarial(cond, uncond, config.uncond_weight));
        if config.version == Version::V2
            && i > 0
            && (config.colour_mean_weight > 0.0 || config.colour_cov_weight > 0.0)
        {
            add(colour_consistency(
                drawing.images[i].clone(),
                drawing.images[i - 1].clone(),
                config.colour_mean_weight,
                config.colour_cov_weight,
            ));
        }
    }
    if config.mode_seeking > 0.0 {
        let finest = drawing.images[scales.end - 1].clone();
        add(mode_seeking(finest, noise.z.clone()) * config.mode_seeking);
    }
    if config.kl_weight > 0.0 {
        let used: Vec<_> = match config.version {
            Version::V2 => drawing.augmented.iter().collect(),
            Version::V1 => drawing.augmented.iter().skip(scales.start).collect(),
        };
        for a in used {
            add(kl(a.mu.clone(), a.logvar.clone()) * config.kl_weight);
        }
    }
    let d_fake = burn::tensor::activation::sigmoid(shown.expect("a head")).mean();
    (total.expect("at least one scale trains"), d_fake)
}

/// The mode-seeking term of a batch whose rows i and i + b/2 were drawn from one condition
/// (Mao et al. 2019): `1 / (mean |x₁ − x₂| / mean |z₁ − z₂| + 10⁻⁵)`, the first half of
/// `images` against the second, as the pair's noise `z` differs. Falls as the drawings of one
/// condition spread apart; G minimises it.
pub fn mode_seeking(images: Tensor<4>, z: Tensor<2>) -> Tensor<1> {
    let h = images.dims()[0] / 2;
    let apart = |x: Tensor<4>| (x.clone().narrow(0, 0, h) - x.narrow(0, h, h)).abs().mean();
    let z_apart = (z.clone().narrow(0, 0, h) - z.narrow(0, h, h)).abs().mean();
    (apart(images) / z_apart + 1e-5).recip()
}
