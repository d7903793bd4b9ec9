//! StackGAN-v1 and StackGAN-v2 (Zhang et al. 2017, 2018): text-to-image GANs that draw in
//! stages or scales, with Conditioning Augmentation, matching-aware discriminators, and (v2)
//! joint conditional/unconditional losses with colour consistency between scales.
//!
//! Conventions, as the authors' code: generators draw in `[-1, 1]` (tanh) and discriminators
//! read `[-1, 1]`; [`to_unit`] converts for the rest of Easel. The discriminators read the
//! condition μ of the generator's Conditioning Augmentation, detached (both reference codes
//! do), or with [`DiscriminatorText::Embedding`] their own compression of the embeddings.
//! A mismatched pair is a real image with the next image's condition in the batch (StackGAN-v1's
//! code), and with [`Mismatch::NearestOtherClass`] also with its nearest condition of another
//! class in the batch ([`nearest_other_class`]), or with [`Mismatch::Counterpart`] with the
//! caption of one of its counterparts, a random other class's closest image ([`counterparts`],
//! found once over the training set); real images at
//! coarser scales are the finest ones blurred and decimated
//! ([`crate::model::pyramid::downsample`]).

pub mod config;
pub mod flops;
pub mod layers;
pub mod losses;
pub mod v1;
pub mod v2;

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;

use super::maps::Maps;
pub use config::{DiscriminatorText, Mismatch, StackGanConfig, Version};
use layers::{ImageEncoder, Logits};
use losses::{DLogits, colour_consistency, generator_adversarial, joint_d, kl, stage_d};
use v1::V1Generator;
pub use v2::Drawing;
use v2::V2Generator;

/// Either generator.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum StackGanGenerator {
    /// Stage-I and Stage-II.
    V1(V1Generator),
    /// The tree.
    V2(V2Generator),
}

/// One discriminator: an image encoder with a conditional head, an unconditional head, or both.
#[derive(Module, Debug)]
pub struct ScaleDiscriminator {
    encoder: ImageEncoder,
    cond: Option<Logits>,
    uncond: Option<Logits>,
    /// [`DiscriminatorText::Embedding`]: this D's own compression of the sentence embedding.
    text: Option<Linear>,
}

impl ScaleDiscriminator {
    /// `condition`: the width of the condition the conditional head reads, and the width of
    /// the sentence embeddings when this D compresses them itself.
    fn new(
        channels: usize,
        side: usize,
        width: usize,
        condition: Option<(usize, Option<usize>)>,
        uncond: bool,
        device: &Device,
    ) -> Self {
        let encoder = ImageEncoder::new(channels, side, width, device);
        let (w, s) = (encoder.out_width(), encoder.out_side());
        Self {
            cond: condition.map(|(c, _)| Logits::new(w, s, c, device)),
            uncond: uncond.then(|| Logits::new(w, s, 0, device)),
            text: condition.and_then(|(c, text)| {
                text.map(|t| {
                    LinearConfig::new(t, c)
                        .with_initializer(crate::model::blocks::dcgan_init())
                        .init(device)
                })
            }),
            encoder,
        }
    }

    /// The condition this D reads for sentence embeddings `text` at `scale`: its own
    /// compression of them, or else the generator's μ (detached); `None` without text.
    pub fn condition(
        &self,
        generator: &StackGanGenerator,
        text: Tensor<2>,
        scale: usize,
    ) -> Option<Tensor<2>> {
        match &self.text {
            Some(fc) => Some(leaky_relu(fc.forward(text), 0.2)),
            None => generator.mu(text, scale),
        }
    }

    /// Whether this D compresses the sentence embeddings itself.
    pub fn reads_embeddings(&self) -> bool {
        self.text.is_some()
    }

    /// Features of images in `[-1, 1]`.
    pub fn encode(&self, images: Tensor<4>) -> Maps {
        self.encoder.forward(images)
    }

    /// The conditional logit of encoded images with condition μ (`None` when this D has no
    /// conditional head).
    pub fn cond_logits(&self, h: Maps, mu: Tensor<2>) -> Option<Tensor<2>> {
        self.cond.as_ref().map(|head| head.forward(h, Some(mu)))
    }

    /// The unconditional logit of encoded images (`None` without an unconditional head).
    pub fn uncond_logits(&self, h: Maps) -> Option<Tensor<2>> {
        self.uncond.as_ref().map(|head| head.forward(h, None))
    }

    /// Whether this D reads text.
    pub fn conditional(&self) -> bool {
        self.cond.is_some()
    }

    /// The flattened features the heads read (the memorisation check's space).
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        self.encode(images).into_flat_nchw()
    }
}

/// Every scale's (v2) or stage's (v1) discriminator, coarse to fine.
#[derive(Module, Debug)]
pub struct StackGanDiscriminator {
    /// Coarse to fine.
    pub scales: Vec<ScaleDiscriminator>,
}

impl StackGanConfig {
    /// The generator.
    pub fn init_generator(&self, device: &Device) -> StackGanGenerator {
        match self.version {
            Version::V1 => StackGanGenerator::V1(V1Generator::new(self, device)),
            Version::V2 => StackGanGenerator::V2(V2Generator::new(self, device)),
        }
    }

    /// The discriminators: v1's Stage-I D is conditional only and Stage-II's has both heads
    /// (the reference code); v2's have both heads, or only the unconditional one without text.
    pub fn init_discriminator(&self, device: &Device) -> StackGanDiscriminator {
        let own =
            (self.discriminator_text == DiscriminatorText::Embedding).then_some(self.text_dim);
        let cond = self.conditional().then_some((self.condition_dim, own));
        let scales = self
            .sides()
            .iter()
            .enumerate()
            .map(|(i, &side)| {
                let uncond = match self.version {
                    Version::V1 => i > 0,
                    Version::V2 => true,
                };
                ScaleDiscriminator::new(
                    self.channels,
                    side,
                    self.discriminator_width,
                    cond,
                    uncond,
                    device,
                )
            })
            .collect();
        StackGanDiscriminator { scales }
    }
}

/// The noise of a batch: z and, for a text model, ε for each Conditioning Augmentation.
#[derive(Debug, Clone)]
pub struct StackNoise {
    /// `[b, z_dim]`.
    pub z: Tensor<2>,
    /// `[b, condition_dim]` per CA network (v1: two; v2: one; none without text).
    pub eps: Vec<Tensor<2>>,
    /// Standard normals for instance noise, `[2b, channels, side, side]` per scale (the first
    /// `b` for real images, the rest for fakes); empty when the model adds none.
    pub instance: Vec<Tensor<4>>,
}

impl StackNoise {
    /// The standard normals of a training batch of `batch` images' instance noise, from
    /// `normals`: none when `config` adds no noise. Only training draws them (the trainer,
    /// after z and ε), so sampling reads the same stream whatever the setting.
    pub fn instance_normals(
        config: &StackGanConfig,
        batch: usize,
        normals: &mut dyn FnMut(usize) -> Vec<f32>,
        device: &Device,
    ) -> Vec<Tensor<4>> {
        if config.instance_noise <= 0.0 {
            return Vec::new();
        }
        config
            .sides()
            .into_iter()
            .map(|s| {
                let shape = [2 * batch, config.channels, s, s];
                let values = normals(shape.iter().product());
                Tensor::from_data(TensorData::new(values, shape), device)
            })
            .collect()
    }

    /// `images` (`[n, c, s, s]`, n ≤ b) of `scale` with instance noise of standard deviation
    /// `sigma` added: the real half of this batch's normals, or the fake half. Unchanged when
    /// `sigma` is 0 or the batch drew none.
    pub fn noisy(&self, images: Tensor<4>, scale: usize, fake: bool, sigma: f32) -> Tensor<4> {
        let Some(normals) = self.instance.get(scale).filter(|_| sigma > 0.0) else {
            return images;
        };
        let n = images.dims()[0];
        let b = normals.dims()[0] / 2;
        let start = if fake { b } else { 0 };
        images + normals.clone().narrow(0, start, n) * f64::from(sigma)
    }
}

impl StackGanGenerator {
    /// The condition μ (detached) that the Conditioning Augmentation of `scale` (v1: its
    /// stage; v2: the tree's one) makes of sentence embeddings `text`; `None` without text.
    pub fn mu(&self, text: Tensor<2>, scale: usize) -> Option<Tensor<2>> {
        let mu = match self {
            StackGanGenerator::V1(g) => Some(g.mu(text, scale)),
            StackGanGenerator::V2(g) => g.mu(text),
        };
        mu.map(|m| m.detach())
    }

    /// Draws `stages` stages (v1: 1 or 2; v2 always draws every scale) from sentence
    /// embeddings `text` (`[b, text_dim]`, `None` for an unconditional v2).
    pub fn draw(&self, noise: &StackNoise, text: Option<Tensor<2>>, stages: usize) -> Drawing {
        match self {
            StackGanGenerator::V1(g) => {
                let text = text.expect("StackGAN-v1 draws from text");
                let eps = [noise.eps[0].clone(), noise.eps[1].clone()];
                g.forward(noise.z.clone(), text, eps, stages)
            }
            StackGanGenerator::V2(g) => {
                let text = text.map(|t| (t, noise.eps[0].clone()));
                g.forward(noise.z.clone(), text)
            }
        }
    }
}

/// Images of the training set searched for counterparts ([`counterparts`]).
pub const COUNTERPART_POOL: usize = 4096;

/// For each row of `embeddings` (`[n, d]`, one per training image), its counterparts: for
/// each other class among the first `pool` rows (in ascending class order), the row of that
/// class closest to it by cosine (the first of equals); empty where no other class is in the
/// pool. Rows are compared in chunks, so the memory is `chunk × pool` scores.
pub fn counterparts(embeddings: Tensor<2>, classes: &[u32], pool: usize) -> Vec<Vec<u32>> {
    const CHUNK: usize = 1024;
    let [n, _] = embeddings.dims();
    assert_eq!(n, classes.len(), "one class per embedding");
    let norms = embeddings
        .clone()
        .powi_scalar(2)
        .sum_dim(1)
        .sqrt()
        .clamp_min(1e-12);
    let unit = embeddings / norms;
    let pool = pool.min(n);
    let mut in_pool: Vec<u32> = classes[..pool].to_vec();
    in_pool.sort_unstable();
    in_pool.dedup();
    let candidates = unit.clone().narrow(0, 0, pool).transpose();
    let mut out = Vec::with_capacity(n);
    for start in (0..n).step_by(CHUNK) {
        let rows = CHUNK.min(n - start);
        let scores = unit
            .clone()
            .narrow(0, start, rows)
            .matmul(candidates.clone())
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 scores");
        for (r, row) in scores.chunks(pool).enumerate() {
            let own = classes[start + r];
            // The best (row, score) of each class in the pool, by its place in `in_pool`.
            let mut best: Vec<Option<(usize, f32)>> = vec![None; in_pool.len()];
            for (j, &s) in row.iter().enumerate() {
                let k = in_pool.binary_search(&classes[j]).expect("a pool class");
                if best[k].is_none_or(|(_, b)| s > b) {
                    best[k] = Some((j, s));
                }
            }
            out.push(
                in_pool
                    .iter()
                    .zip(best)
                    .filter(|&(&c, _)| c != own)
                    .filter_map(|(_, b)| b.map(|(j, _)| j as u32))
                    .collect(),
            );
        }
    }
    out
}

/// The counterpart of one image that `u` (uniform in `[0, 1)`) picks among its `candidates`
/// (one per other class, from [`counterparts`]), so each batch asks D about a random other
/// class; the image itself where it has none.
pub fn pick_counterpart(candidates: &[u32], image: usize, u: f32) -> usize {
    if candidates.is_empty() {
        return image;
    }
    let k = ((u * candidates.len() as f32) as usize).min(candidates.len() - 1);
    candidates[k] as usize
}

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
fn mu_for(drawing: &Drawing, scale: usize) -> Option<Tensor<2>> {
    let a = drawing.augmented.get(scale).or(drawing.augmented.first())?;
    Some(a.mu.clone().detach())
}

/// The condition D `d` reads for a drawing's own text at `scale`: the drawing's μ (as computed
/// when drawing it), or D's own compression of the embeddings.
fn d_condition(
    d: &ScaleDiscriminator,
    generator: &StackGanGenerator,
    drawing: &Drawing,
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
        let mut coarser = crate::model::pyramid::downsample(finer);
        while coarser.dims()[2] > sides[sides.len() - 1 - out.len()] {
            coarser = crate::model::pyramid::downsample(coarser);
        }
        out.push(coarser);
    }
    out.reverse();
    out
}

/// The three figures of a discriminator step (summed loss; D(x) and D(G(z)) of the finest
/// trained scale's first head), and the drawing the discriminators read.
pub struct StackFigures {
    /// The loss.
    pub loss: Tensor<1>,
    /// Mean σ(logit) on real images.
    pub d_real: Tensor<1>,
    /// Mean σ(logit) on fakes.
    pub d_fake: Tensor<1>,
    /// The fakes, with G's graph (the discriminators read them detached): the generator step
    /// of the same iteration trains on them.
    pub drawing: Drawing,
}

/// For each row of `embeddings` (`[b, d]`, row-major), the row of another class whose embedding
/// is closest to it by cosine; the next row where every row has the same class.
pub fn nearest_other_class(embeddings: &[f32], classes: &[u32]) -> Vec<usize> {
    let b = classes.len();
    let d = embeddings.len() / b.max(1);
    let rows: Vec<&[f32]> = embeddings.chunks(d.max(1)).collect();
    let norms: Vec<f32> = rows
        .iter()
        .map(|r| r.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12))
        .collect();
    (0..b)
        .map(|i| {
            (0..b)
                .filter(|&j| classes[j] != classes[i])
                .map(|j| {
                    let dot: f32 = rows[i].iter().zip(rows[j]).map(|(x, y)| x * y).sum();
                    (j, dot / (norms[i] * norms[j]))
                })
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map_or((i + 1) % b, |(j, _)| j)
        })
        .collect()
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
) -> StackFigures {
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
    StackFigures {
        loss: total.expect("at least one scale trains"),
        d_real: burn::tensor::activation::sigmoid(r).mean(),
        d_fake: burn::tensor::activation::sigmoid(f).mean(),
        drawing,
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
    drawn: Option<Drawing>,
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

/// `[-1, 1]` images to `[0, 1]`.
pub fn to_unit(images: Tensor<4>) -> Tensor<4> {
    (images + 1.0) * 0.5
}

#[cfg(test)]
#[path = "stackgan_tests.rs"]
mod tests;
