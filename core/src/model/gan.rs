//! One face over the GANs Easel trains — GRAN (and DCGAN, its T = 1), LAPGAN and StackGAN — so
//! that the trainer, sampling, GAM and the studio handle any of them alike.
//!
//! [`Gan`] is what a model is: its two networks, the noise a batch reads, the drawing with every
//! intermediate, the D and G losses of a training step (non-saturating BCE: D on real and fake,
//! then G on the same fakes), and what D makes of whole images. Each model implements it on its
//! config (`gran/gan.rs`, `lapgan/gan.rs`, `stackgan/gan.rs`), with its own generator,
//! critic, noise and drawing types, so networks, noise and drawings of different models cannot
//! meet: the compiler refuses it.
//!
//! One enum is left, at the edge where a run's config or checkpoint says which model it is:
//! [`Networks`], a [`Pair`] of one model's networks. Code that does not care which model it
//! holds calls its methods; code that does is written once, generic over `M: Gan`, and reached
//! through [`each_model!`]. Checkpoints hold each network's own record (not the enum's), so runs
//! written before LAPGAN existed still load.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softplus};

use super::ModelConfig;
use super::gran::GranConfig;
use super::gran::NoiseMode;
use super::lapgan::{DropoutDraw, LapganConfig};
use super::stackgan::StackGanConfig;
use super::{Flops, parameters};
use crate::error::{Error, Result};

/// A source of standard normals: `count` of them per call, in the caller's stream order.
pub type Normals<'a> = &'a mut dyn FnMut(usize) -> Vec<f32>;

/// What a batch's discriminator step reads beside its real images.
#[derive(Debug, Clone, Default)]
pub struct Conditions<'a> {
    /// Class one-hots (class-conditional LAPGAN) or sentence embeddings (StackGAN):
    /// `[batch, width]`.
    pub condition: Option<Tensor<2>>,
    /// The images' labels, when known (StackGAN's hard mismatched pairs read them).
    pub classes: Option<&'a [u32]>,
    /// Embeddings of the images' counterparts' captions
    /// ([`super::stackgan::Mismatch::Counterpart`]).
    pub counterparts: Option<Tensor<2>>,
}

/// The three figures of a discriminator step, as tensors (read back together by the caller),
/// and what it drew, which the generator step of the same iteration trains on.
///
/// Every model draws once per iteration, as PyTorch's DCGAN example and both StackGAN reference
/// codes do (`train()` in hanzhanggit/StackGAN-v2 and StackGAN-Pytorch): the discriminators read
/// the drawing detached, then G's loss reads the same drawing, graph kept, through the updated
/// discriminators. G's forward pass, the largest part of a step, runs once instead of twice.
pub struct DiscriminatorStep<F> {
    /// The loss.
    pub loss: Tensor<1>,
    /// Mean D(x) on real images (LAPGAN: the finest level's).
    pub d_real: Tensor<1>,
    /// Mean D(G(z)) (LAPGAN: the finest level's).
    pub d_fake: Tensor<1>,
    /// The fakes the discriminators read, their graph kept for G's gradient.
    pub fakes: F,
}

/// Every step of a drawing at the full side: GRAN's canvases, LAPGAN's levels expanded, or
/// StackGAN's stages enlarged.
#[derive(Debug, Clone)]
pub struct Intermediates {
    /// C_1..C_steps in `[0, 1]`.
    pub canvases: Vec<Tensor<4>>,
    /// ΔC_1..ΔC_steps, signed: what each step added.
    pub deltas: Vec<Tensor<4>>,
}

/// A GAN: its networks, noise, drawing and losses. Implemented by each model's config.
pub trait Gan: Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static {
    /// The generator.
    type Generator: Module;
    /// The discriminator (LAPGAN: every level's; StackGAN: every stage's or scale's).
    type Critic: Module;
    /// The noise of a batch, laid out as the generator reads it.
    type Noise: Clone + Send;
    /// What a discriminator step drew, for the generator step of the same iteration.
    type Fakes;

    /// Builds the generator (validate the config first).
    fn init_generator(&self, device: &Device) -> Self::Generator;

    /// Builds the discriminator (validate the config first).
    fn init_critic(&self, device: &Device) -> Self::Critic;

    /// The drawing steps the model takes by default: GRAN's T, LAPGAN's levels, StackGAN's
    /// stages or scales.
    fn steps(&self) -> usize;

    /// The steps a drawing takes when `asked` for some (default: [`Self::steps`]); refused where
    /// the model draws a fixed number. GRAN draws any number, also more than it was trained for.
    fn drawing_steps(&self, asked: Option<usize>) -> Result<usize>;

    /// Classes the model is conditioned on (0: unconditional).
    fn classes(&self) -> usize {
        0
    }

    /// Width of the sentence embeddings the model draws from (0: it reads no text).
    fn text_dim(&self) -> usize {
        0
    }

    /// Whether the generator step reads a real batch when it draws afresh (LAPGAN's levels
    /// train on the real pyramid's low-pass images; GRAN's generator reads only noise).
    fn generator_reads_real(&self) -> bool {
        false
    }

    /// Whether D judges whole images (GAM, the arena) with each batch's own BatchNorm
    /// statistics, as it saw them in training (GAM).
    fn judges_with_batch_statistics(&self) -> bool {
        true
    }

    /// The model drawing with its noise drawn `mode` (GRAN's studio toggle; other models draw
    /// as they were trained).
    fn with_noise_mode(&self, _mode: NoiseMode) -> Self {
        self.clone()
    }

    /// Noise for `batch` images from `normals`. GRAN reads one z per image, or one per step
    /// (`steps` of them) when it draws with noise per step.
    fn noise(&self, batch: usize, steps: usize, normals: Normals, device: &Device) -> Self::Noise;

    /// Rows `rows` of a batch's noise, moved to `device`: one device's share of a data-parallel
    /// iteration. `None` for a model whose batches are not split (StackGAN: its losses pair
    /// images within a batch).
    fn noise_rows(
        &self,
        _noise: &Self::Noise,
        _rows: std::ops::Range<usize>,
        _device: &Device,
    ) -> Option<Self::Noise> {
        None
    }

    /// A training batch's noise: [`Self::noise`] for [`Self::steps`], then whatever else only
    /// training draws (StackGAN's instance noise), so sampling reads the same stream whatever
    /// the training settings.
    fn training_noise(&self, batch: usize, normals: Normals, device: &Device) -> Self::Noise {
        self.noise(batch, self.steps(), normals, device)
    }

    /// Finished images in `[0, 1]`, `[batch, channels, side, side]`, drawn in `steps` steps
    /// (GRAN; the others always draw every level or stage). `condition`: class one-hots or
    /// sentence embeddings.
    fn images(
        &self,
        g: &Self::Generator,
        noise: &Self::Noise,
        steps: usize,
        condition: Option<Tensor<2>>,
    ) -> Tensor<4>;

    /// Every step's canvas and update at the full side (see [`Intermediates`]).
    fn intermediates(
        &self,
        g: &Self::Generator,
        noise: &Self::Noise,
        steps: usize,
        condition: Option<Tensor<2>>,
    ) -> Intermediates;

    /// D's logit of "real" for whole images in `[0, 1]`: `[batch, 1]`. A class-conditional
    /// discriminator given no labels (GAM's test images and other models' samples carry none)
    /// reads the uniform mixture of the classes.
    fn logits(&self, d: &Self::Critic, images: Tensor<4>, labels: Option<Tensor<2>>) -> Tensor<2>;

    /// The features the logit reads (the memorisation check's space): `[batch, features]`.
    fn features(&self, d: &Self::Critic, images: Tensor<4>, labels: Option<Tensor<2>>)
    -> Tensor<2>;

    /// The discriminator step's loss at training step `step` on `real` images (`[0, 1]`) and
    /// the generator's fakes from `noise` (detached: only D trains). `draw` gives dropout its
    /// masks (LAPGAN).
    #[allow(clippy::too_many_arguments)]
    fn discriminator_loss(
        &self,
        g: &Self::Generator,
        d: &Self::Critic,
        real: Tensor<4>,
        noise: &Self::Noise,
        batch: Conditions<'_>,
        draw: Option<&mut DropoutDraw>,
        step: u64,
    ) -> Result<DiscriminatorStep<Self::Fakes>>;

    /// The generator step's loss −log D(G(z)), and mean D(G(z)). `fakes`, from this iteration's
    /// discriminator step on the same `noise` and `condition`, is read instead of drawing
    /// again; without it G draws afresh (LAPGAN's levels then train on the low-pass images of
    /// `real`). The discriminators read the drawing with their weights frozen: G's backward
    /// pass computes no D weight gradient.
    #[allow(clippy::too_many_arguments)]
    fn generator_loss(
        &self,
        g: &Self::Generator,
        d: &Self::Critic,
        real: Option<Tensor<4>>,
        noise: &Self::Noise,
        condition: Option<Tensor<2>>,
        fakes: Option<Self::Fakes>,
        draw: Option<&mut DropoutDraw>,
        step: u64,
    ) -> Result<(Tensor<1>, Tensor<1>)>;

    /// FLOPs of drawing one image (GRAN: in its T steps).
    fn generator_flops(&self) -> Flops;

    /// FLOPs of the discriminator's verdict on one image (LAPGAN and StackGAN: every level's or
    /// scale's).
    fn discriminator_flops(&self) -> Flops;

    /// FLOPs of one training step per image ([`super::train_step_flops`]).
    fn train_step_flops(&self) -> Flops {
        super::train_step_flops(self.generator_flops(), self.discriminator_flops())
    }

    /// The parameters of (G, D), counted on networks built on the CPU (validate first).
    fn parameter_counts(&self) -> (usize, usize) {
        let device = Device::flex();
        (
            self.init_generator(&device).num_params(),
            self.init_critic(&device).num_params(),
        )
    }

    /// About how many bytes training takes at `batch` images (weights, Adam's moments and the
    /// activations kept for backward), where the model counts its activations.
    fn training_memory_bytes(&self, _batch: usize) -> Option<u64> {
        None
    }

    /// One-hot labels for images `start..start + count` cycling through the classes (image i
    /// gets class i mod classes), or `None` for a model without classes: the fixed grid's and
    /// sampling's labels.
    fn cycled_labels(&self, start: usize, count: usize, device: &Device) -> Option<Tensor<2>> {
        let classes = self.classes();
        (classes > 0).then(|| {
            let labels: Vec<u32> = (start..start + count)
                .map(|i| (i % classes) as u32)
                .collect();
            one_hot(&labels, classes, device)
        })
    }
}

/// The refusal of a drawing of `asked` steps by a model that always draws `fixed` `units`
/// (`what`: "LAPGAN draws through its").
pub(crate) fn fixed_steps(
    asked: Option<usize>,
    fixed: usize,
    what: &str,
    units: &str,
) -> Result<usize> {
    match asked {
        Some(s) if s != fixed => Err(Error::config(
            "steps",
            format!("{what} {fixed} {units}; found {s} steps"),
        )),
        _ => Ok(fixed),
    }
}

/// One model's config with its generator and critic, typed together.
#[derive(Debug, Clone)]
pub struct Pair<M: Gan> {
    /// The model's config.
    pub model: M,
    /// Its generator.
    pub generator: M::Generator,
    /// Its discriminator.
    pub critic: M::Critic,
}

impl<M: Gan> Pair<M> {
    /// Both networks built from `model` on `device`.
    pub fn init(model: &M, device: &Device) -> Self {
        Self {
            model: model.clone(),
            generator: model.init_generator(device),
            critic: model.init_critic(device),
        }
    }

    /// Both networks moved to `device`.
    pub fn to_device(self, device: &Device) -> Self {
        Self {
            model: self.model,
            generator: self.generator.to_device(device),
            critic: self.critic.to_device(device),
        }
    }

    /// Both networks in inference mode (no autodiff).
    pub fn valid(&self) -> Self {
        Self {
            model: self.model.clone(),
            generator: self.generator.valid(),
            critic: self.critic.valid(),
        }
    }
}

/// The networks of whichever model a run trains: the one enum over models, at the edge where a
/// config or checkpoint decides. (Unboxed: there is one per trainer or loaded model, and burn's
/// optimisers move networks by value.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Networks {
    /// GRAN's (and DCGAN's).
    Gran(Pair<GranConfig>),
    /// LAPGAN's, every level's.
    Lapgan(Pair<LapganConfig>),
    /// StackGAN-v1's or v2's.
    StackGan(Pair<StackGanConfig>),
}

macro_rules! networks_from_pair {
    ($($variant:ident($config:ty)),*) => {$(
        impl From<Pair<$config>> for Networks {
            fn from(pair: Pair<$config>) -> Self {
                Networks::$variant(pair)
            }
        }
    )*};
}
networks_from_pair!(
    Gran(GranConfig),
    Lapgan(LapganConfig),
    StackGan(StackGanConfig)
);

/// Evaluates `$body` with `$n` bound to the content of whichever variant `$value` (a
/// [`Networks`] or a [`ModelConfig`], or a reference to one) holds: the one place
/// code generic over [`Gan`] meets the enum.
macro_rules! each_model {
    ($value:expr, $kind:ident, $n:ident => $body:expr) => {
        match $value {
            $kind::Gran($n) => $body,
            $kind::Lapgan($n) => $body,
            $kind::StackGan($n) => $body,
        }
    };
}
pub(crate) use each_model;

impl Networks {
    /// Both networks built from `config` on `device`, with weights drawn from the device's
    /// generator.
    pub fn init(config: &ModelConfig, device: &Device) -> Self {
        each_model!(config, ModelConfig, c => Networks::from(Pair::init(c, device)))
    }

    /// Both networks built from `config` on `device` (the generator first) with weights that
    /// depend only on `seed`, seeded through `seed_device` (see [`super::seeded`]).
    pub fn seeded(config: &ModelConfig, seed_device: &Device, device: &Device, seed: u64) -> Self {
        each_model!(config, ModelConfig, c => {
            let (generator, critic) = super::seeded(seed_device, seed, || {
                (Gan::init_generator(c, device), c.init_critic(device))
            });
            Networks::from(Pair {
                model: c.clone(),
                generator,
                critic,
            })
        })
    }

    /// Both networks in inference mode (no autodiff).
    pub fn valid(&self) -> Self {
        each_model!(self, Networks, p => Networks::from(p.valid()))
    }

    /// Both networks moved to `device`.
    pub fn to_device(self, device: &Device) -> Self {
        each_model!(self, Networks, p => Networks::from(p.to_device(device)))
    }

    /// Every floating-point tensor of the generator, by dotted path (see [`parameters`]).
    pub fn generator_parameters(&self) -> BTreeMap<String, Vec<f32>> {
        each_model!(self, Networks, p => parameters(&p.generator))
    }

    /// Every floating-point tensor of the discriminator, by dotted path.
    pub fn critic_parameters(&self) -> BTreeMap<String, Vec<f32>> {
        each_model!(self, Networks, p => parameters(&p.critic))
    }

    /// The default drawing steps (see [`Gan::steps`]).
    pub fn steps(&self) -> usize {
        each_model!(self, Networks, p => p.model.steps())
    }

    /// Classes the model is conditioned on (0: unconditional).
    pub fn classes(&self) -> usize {
        each_model!(self, Networks, p => p.model.classes())
    }

    /// Width of the sentence embeddings the model draws from (0: none).
    pub fn text_dim(&self) -> usize {
        each_model!(self, Networks, p => p.model.text_dim())
    }

    /// See [`Gan::cycled_labels`].
    pub fn cycled_labels(&self, start: usize, count: usize, device: &Device) -> Option<Tensor<2>> {
        each_model!(self, Networks, p => p.model.cycled_labels(start, count, device))
    }

    /// Images in `[0, 1]` drawn in `steps` steps from noise for `batch` images read from
    /// `normals`, with the model's noise drawn `mode` (see [`Gan::with_noise_mode`]).
    pub fn images(
        &self,
        batch: usize,
        steps: usize,
        mode: Option<NoiseMode>,
        normals: Normals,
        condition: Option<Tensor<2>>,
        device: &Device,
    ) -> Tensor<4> {
        each_model!(self, Networks, p => {
            let model = mode.map_or_else(|| p.model.clone(), |m| p.model.with_noise_mode(m));
            let noise = model.noise(batch, steps, normals, device);
            model.images(&p.generator, &noise, steps, condition)
        })
    }

    /// As [`Self::images`], keeping every step (see [`Intermediates`]).
    pub fn intermediates(
        &self,
        batch: usize,
        steps: usize,
        mode: Option<NoiseMode>,
        normals: Normals,
        condition: Option<Tensor<2>>,
        device: &Device,
    ) -> Intermediates {
        each_model!(self, Networks, p => {
            let model = mode.map_or_else(|| p.model.clone(), |m| p.model.with_noise_mode(m));
            let noise = model.noise(batch, steps, normals, device);
            model.intermediates(&p.generator, &noise, steps, condition)
        })
    }

    /// See [`Gan::drawing_steps`].
    pub fn drawing_steps(&self, asked: Option<usize>) -> Result<usize> {
        each_model!(self, Networks, p => p.model.drawing_steps(asked))
    }

    /// D's logit of "real" for whole images in `[0, 1]` (see [`Gan::logits`]).
    pub fn logits(&self, images: Tensor<4>, labels: Option<Tensor<2>>) -> Tensor<2> {
        each_model!(self, Networks, p => p.model.logits(&p.critic, images, labels))
    }

    /// The features D's logit reads (see [`Gan::features`]).
    pub fn features(&self, images: Tensor<4>, labels: Option<Tensor<2>>) -> Tensor<2> {
        each_model!(self, Networks, p => p.model.features(&p.critic, images, labels))
    }

    /// See [`Gan::judges_with_batch_statistics`].
    pub fn judges_with_batch_statistics(&self) -> bool {
        each_model!(self, Networks, p => p.model.judges_with_batch_statistics())
    }

    /// The critic in training mode (BatchNorm on each batch's statistics), on `device`'s
    /// autodiff twin: how GAM judges.
    pub fn critic_in_training_mode(&self) -> Self {
        each_model!(self, Networks, p => Networks::from(Pair {
            critic: p.critic.clone().train(),
            ..p.clone()
        }))
    }
}

/// One-hot rows for `labels` (`[labels.len(), classes]`).
pub fn one_hot(labels: &[u32], classes: usize, device: &Device) -> Tensor<2> {
    let mut values = vec![0.0f32; labels.len() * classes];
    for (row, &label) in labels.iter().enumerate() {
        values[row * classes + label as usize % classes] = 1.0;
    }
    Tensor::from_data(TensorData::new(values, [labels.len(), classes]), device)
}

/// `[batch, classes]` filled with `1 / classes`, when the model is conditional.
pub(crate) fn uniform_labels(images: &Tensor<4>, classes: usize) -> Option<Tensor<2>> {
    (classes > 0).then(|| {
        Tensor::full(
            [images.dims()[0], classes],
            1.0 / classes as f32,
            &images.device(),
        )
    })
}

/// D's loss −log D(x) − log(1 − D(G(z))) with mean D(x) and D(G(z)).
pub(crate) fn bce_d(real_logits: Tensor<2>, fake_logits: Tensor<2>) -> DiscriminatorStep<()> {
    DiscriminatorStep {
        d_real: sigmoid(real_logits.clone()).mean(),
        d_fake: sigmoid(fake_logits.clone()).mean(),
        loss: softplus(real_logits.neg(), 1.0).mean() + softplus(fake_logits, 1.0).mean(),
        fakes: (),
    }
}

/// G's non-saturating loss −log D(G(z)) and mean D(G(z)).
pub(crate) fn bce_g(fake_logits: Tensor<2>) -> (Tensor<1>, Tensor<1>) {
    (
        softplus(fake_logits.clone().neg(), 1.0).mean(),
        sigmoid(fake_logits).mean(),
    )
}

#[cfg(test)]
mod tests;
