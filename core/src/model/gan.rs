//! One face over the GANs Easel trains — GRAN (and DCGAN, its T = 1), LAPGAN and StackGAN — so that the
//! trainer, sampling, GAM and the studio handle any of them alike: a [`Generator`] and a
//! [`Critic`] built from a [`ModelSpec`], the [`Noise`] a batch reads, and the two losses of a
//! training step (non-saturating BCE: D on real and fake, then G on fake).
//!
//! Checkpoints hold each network's own record (not this enum's), so runs written before LAPGAN
//! existed still load.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softplus};

use super::gran::{Discriminator, GranConfig, GranGenerator, NoiseMode};
use super::lapgan::{
    DropoutDraw, LapganConfig, LapganDiscriminator, LapganGenerator, LapganNoise, RealPyramid,
};
use super::stackgan::{
    self, StackGanConfig, StackGanDiscriminator, StackGanGenerator, StackNoise, Version,
};
use crate::error::Result;

/// Which model, with its configuration.
#[derive(Debug, Clone, Copy)]
pub enum ModelSpec<'a> {
    /// GRAN with its config.
    Gran(&'a GranConfig),
    /// LAPGAN with its config.
    Lapgan(&'a LapganConfig),
    /// StackGAN-v1 or v2 with its config.
    StackGan(&'a StackGanConfig),
}

/// A generator of any model. (Unboxed: burn's derive and optimisers move modules by value, and
/// there is one of each per trainer or loaded model.)
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Generator {
    /// GRAN's recurrent generator.
    Gran(GranGenerator),
    /// LAPGAN's generators, one per level.
    Lapgan(LapganGenerator),
    /// StackGAN's stages (v1) or tree (v2).
    StackGan(StackGanGenerator),
}

/// A discriminator of any model; for LAPGAN, every level's, of which the finest judges whole
/// images (see [`super::lapgan`]).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Critic {
    /// GRAN's DCGAN discriminator.
    Gran(Discriminator),
    /// LAPGAN's discriminators, one per level.
    Lapgan(LapganDiscriminator),
    /// StackGAN's discriminators, one per stage or scale; the finest one's unconditional head
    /// judges whole images.
    StackGan(StackGanDiscriminator),
}

/// The noise of a batch, laid out as its model reads it.
#[derive(Debug, Clone)]
pub enum Noise {
    /// GRAN's z: `[batch, 1 or steps, z_dim]`.
    Gran(Tensor<3>),
    /// LAPGAN's z_K and noise planes.
    Lapgan(LapganNoise),
    /// StackGAN's z and Conditioning Augmentation's ε.
    StackGan(StackNoise),
}

/// The three figures of a discriminator step, as tensors (read back together by the caller),
/// and what it drew, where the generator step reuses it.
pub struct Figures {
    /// The loss.
    pub loss: Tensor<1>,
    /// Mean D(x) on real images (LAPGAN: the finest level's).
    pub d_real: Tensor<1>,
    /// Mean D(G(z)) (LAPGAN: the finest level's).
    pub d_fake: Tensor<1>,
    /// The fakes the discriminators read (their graph kept, for G's gradient), where the model
    /// trains G on the same drawing in the same iteration.
    pub fakes: Option<Fakes>,
}

/// Fakes a discriminator step drew, for the generator step of the same iteration.
///
/// Every model draws once per iteration, as PyTorch's DCGAN example and both StackGAN reference
/// codes do (`train()` in hanzhanggit/StackGAN-v2 and StackGAN-Pytorch): the discriminators read
/// the drawing detached, then G's loss reads the same drawing, graph kept, through the updated
/// discriminators. G's forward pass, the largest part of a step, runs once instead of twice.
pub enum Fakes {
    /// GRAN's final canvases, `[batch, C, H, W]` in `(0, 1)`.
    Gran(Tensor<4>),
    /// LAPGAN's fakes at every level given the real pyramid they were drawn on: the coarsest
    /// level's image and every finer level's band.
    Lapgan {
        /// `G_K(z_K)`.
        coarse: Tensor<4>,
        /// `h̃_k = G_k(z_k, l_k)`, finest first.
        bands: Vec<Tensor<4>>,
        /// The real batch's pyramid whose low-pass images the bands were drawn on (boxed: the
        /// pyramid's tensors would make every variant this large).
        pyramid: Box<RealPyramid>,
    },
    /// A StackGAN's drawing at every scale or stage.
    StackGan(Box<stackgan::Drawing>),
}

impl ModelSpec<'_> {
    /// Builds the generator.
    pub fn init_generator(self, device: &Device) -> Generator {
        match self {
            ModelSpec::Gran(c) => Generator::Gran(c.init_generator(device)),
            ModelSpec::Lapgan(c) => Generator::Lapgan(c.init_generator(device)),
            ModelSpec::StackGan(c) => Generator::StackGan(c.init_generator(device)),
        }
    }

    /// Builds the discriminator.
    pub fn init_critic(self, device: &Device) -> Critic {
        match self {
            ModelSpec::Gran(c) => Critic::Gran(c.init_discriminator(device)),
            ModelSpec::Lapgan(c) => Critic::Lapgan(c.init_discriminator(device)),
            ModelSpec::StackGan(c) => Critic::StackGan(c.init_discriminator(device)),
        }
    }

    /// Noise for `batch` images from `normals` (a source of standard normals). GRAN reads one z
    /// per image, or one per step (`steps` of them) when trained with noise per step.
    pub fn noise(
        self,
        batch: usize,
        steps: usize,
        normals: &mut dyn FnMut(usize) -> Vec<f32>,
        device: &Device,
    ) -> Noise {
        match self {
            ModelSpec::Gran(c) => {
                let z_steps = if c.noise == NoiseMode::PerStep {
                    steps
                } else {
                    1
                };
                let values = normals(batch * z_steps * c.z_dim);
                Noise::Gran(Tensor::from_data(
                    TensorData::new(values, [batch, z_steps, c.z_dim]),
                    device,
                ))
            }
            ModelSpec::Lapgan(c) => {
                let sides = c.sides().expect("validated");
                let coarse = normals(batch * c.z_dim);
                let planes = sides[..c.levels - 1]
                    .iter()
                    .map(|s| normals(batch * s * s))
                    .collect();
                Noise::Lapgan(LapganNoise::from_values(
                    batch, c.z_dim, &sides, coarse, planes, device,
                ))
            }
            ModelSpec::StackGan(c) => {
                let mut normal = |width: usize| {
                    Tensor::from_data(
                        TensorData::new(normals(batch * width), [batch, width]),
                        device,
                    )
                };
                let z = normal(c.z_dim);
                let augmentations = match (c.version, c.conditional()) {
                    (Version::V1, _) => 2,
                    (Version::V2, true) => 1,
                    (Version::V2, false) => 0,
                };
                let eps = (0..augmentations)
                    .map(|_| normal(c.condition_dim))
                    .collect();
                Noise::StackGan(StackNoise {
                    z,
                    eps,
                    instance: Vec::new(),
                })
            }
        }
    }

    /// The drawing steps a model takes by default: GRAN's T, LAPGAN's levels, StackGAN's
    /// stages or scales.
    pub fn steps(self) -> usize {
        match self {
            ModelSpec::Gran(c) => c.steps,
            ModelSpec::Lapgan(c) => c.levels,
            ModelSpec::StackGan(c) => c.sides().len(),
        }
    }

    /// Classes the model is conditioned on (0: unconditional).
    pub fn classes(self) -> usize {
        match self {
            ModelSpec::Gran(_) | ModelSpec::StackGan(_) => 0,
            ModelSpec::Lapgan(c) => c.classes,
        }
    }

    /// Width of the sentence embeddings the model draws from (0: it reads no text).
    pub fn text_dim(self) -> usize {
        match self {
            ModelSpec::StackGan(c) => c.text_dim,
            _ => 0,
        }
    }

    /// One-hot labels for images `start..start + count` cycling through the classes (image i
    /// gets class i mod classes), or `None` for an unconditional model: the fixed grid's and
    /// sampling's labels.
    pub fn cycled_labels(self, start: usize, count: usize, device: &Device) -> Option<Tensor<2>> {
        let classes = self.classes();
        (classes > 0).then(|| {
            let labels: Vec<u32> = (start..start + count)
                .map(|i| (i % classes) as u32)
                .collect();
            one_hot(&labels, classes, device)
        })
    }

    /// Whether the generator step reads a real batch (LAPGAN's levels train on the real
    /// pyramid's low-pass images; GRAN's generator reads only noise).
    pub fn generator_reads_real(self) -> bool {
        matches!(self, ModelSpec::Lapgan(_))
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

impl Generator {
    /// Finished images in `[0, 1]`, `[batch, channels, side, side]`, drawn in GRAN's `steps`
    /// steps (ignored by LAPGAN and StackGAN, which always run every level or stage).
    /// `condition`: class one-hots (class-conditional LAPGAN) or sentence embeddings (StackGAN).
    pub fn images(&self, noise: &Noise, steps: usize, condition: Option<Tensor<2>>) -> Tensor<4> {
        match (self, noise) {
            (Generator::Gran(g), Noise::Gran(z)) => g.forward(z.clone(), steps),
            (Generator::Lapgan(g), Noise::Lapgan(n)) => g.forward(n, condition),
            (Generator::StackGan(g), Noise::StackGan(n)) => {
                let drawing = g.draw(n, condition, usize::MAX);
                stackgan::to_unit(drawing.images.last().expect("a stage").clone())
            }
            _ => panic!("noise of one model fed to another"),
        }
    }
}

impl Critic {
    /// The logit of "real" for whole images in `[0, 1]`: `[batch, 1]`. A class-conditional
    /// discriminator given no labels (GAM's test images and other models' samples carry none)
    /// reads the uniform mixture of the classes, `1 / classes` in every one-hot slot.
    pub fn forward(&self, images: Tensor<4>, labels: Option<Tensor<2>>) -> Tensor<2> {
        match self {
            Critic::Gran(d) => d.forward(images),
            Critic::Lapgan(d) => {
                let labels = labels.or_else(|| uniform_labels(&images, d.classes()));
                d.forward(images, labels)
            }
            Critic::StackGan(d) => {
                let finest = d.scales.last().expect("a scale");
                finest
                    .uncond_logits(finest.encode(images * 2.0 - 1.0))
                    .expect("the finest StackGAN discriminator has an unconditional head")
            }
        }
    }

    /// The features the logit reads (the memorisation check's space): `[batch, features]`.
    pub fn features(&self, images: Tensor<4>, labels: Option<Tensor<2>>) -> Tensor<2> {
        match self {
            Critic::Gran(d) => d.features(images),
            Critic::Lapgan(d) => {
                let labels = labels.or_else(|| uniform_labels(&images, d.classes()));
                d.features(images, labels)
            }
            Critic::StackGan(d) => d
                .scales
                .last()
                .expect("a scale")
                .features(images * 2.0 - 1.0),
        }
    }
}

/// `[batch, classes]` filled with `1 / classes`, when the model is conditional.
fn uniform_labels(images: &Tensor<4>, classes: usize) -> Option<Tensor<2>> {
    (classes > 0).then(|| {
        Tensor::full(
            [images.dims()[0], classes],
            1.0 / classes as f32,
            &images.device(),
        )
    })
}

/// The discriminator step's loss at training step `step` on `real` images (`[0, 1]`) and the
/// generator's fakes from `noise` (detached: only D trains), with `labels` the batch's
/// condition (class one-hots or sentence embeddings) and `classes` its images' labels when
/// known (StackGAN's hard mismatched pairs read them), `counterparts` the embeddings of their
/// counterparts' captions (StackGAN's [`stackgan::Mismatch::Counterpart`]). LAPGAN sums its
/// levels' losses — each level's D reads only its own level, so the sum trains every level as
/// if alone; StackGAN sums the scales it trains at `step`.
#[allow(clippy::too_many_arguments)]
pub fn discriminator_loss(
    spec: ModelSpec,
    generator: &Generator,
    critic: &Critic,
    real: Tensor<4>,
    noise: &Noise,
    labels: Option<Tensor<2>>,
    classes: Option<&[u32]>,
    counterparts: Option<Tensor<2>>,
    draw: Option<&mut DropoutDraw>,
    step: u64,
) -> Result<Figures> {
    match (generator, critic, noise) {
        (Generator::StackGan(g), Critic::StackGan(d), Noise::StackGan(n)) => {
            let ModelSpec::StackGan(config) = spec else {
                panic!("StackGAN's networks with another model's spec")
            };
            let f = stackgan::discriminator_loss(
                config,
                g,
                d,
                real,
                n,
                labels,
                classes,
                counterparts,
                step,
            );
            Ok(Figures {
                loss: f.loss,
                d_real: f.d_real,
                d_fake: f.d_fake,
                fakes: Some(Fakes::StackGan(Box::new(f.drawing))),
            })
        }
        (Generator::Gran(g), Critic::Gran(d), Noise::Gran(z)) => {
            let fake = g.forward(z.clone(), spec.steps());
            let figures = bce_d(d.forward(real), d.forward(fake.clone().detach()));
            Ok(Figures {
                fakes: Some(Fakes::Gran(fake)),
                ..figures
            })
        }
        (Generator::Lapgan(g), Critic::Lapgan(d), Noise::Lapgan(n)) => {
            let levels = spec.steps();
            let pyramid = RealPyramid::of(real, levels)?;
            let (coarse, bands) = g.training_fakes(n, &pyramid, labels.clone());
            let detached: Vec<_> = bands.iter().map(|b| b.clone().detach()).collect();
            let mut draw = draw;
            let real_logits = d.level_logits(
                pyramid.coarse.clone(),
                &pyramid.bands,
                &pyramid.lows,
                labels.clone(),
                draw.as_deref_mut(),
            );
            let fake_logits = d.level_logits(
                coarse.clone().detach(),
                &detached,
                &pyramid.lows,
                labels,
                draw,
            );
            // The losses summed; D(x) and D(G(z)) reported from the finest level.
            let mut levels = real_logits
                .into_iter()
                .zip(fake_logits)
                .map(|(r, f)| bce_d(r, f));
            let mut figures = levels.next().expect("at least one level");
            for level in levels {
                figures.loss = figures.loss + level.loss;
            }
            figures.fakes = Some(Fakes::Lapgan {
                coarse,
                bands,
                pyramid: Box::new(pyramid),
            });
            Ok(figures)
        }
        _ => panic!("networks of different models in one step"),
    }
}

/// The generator step's loss: −log D(G(z)), and mean D(G(z)). `fakes`, from this iteration's
/// discriminator step on the same `noise` and `labels`, is read instead of drawing again (the
/// step users write); without it G draws afresh, and LAPGAN's levels then train on the low-pass
/// images of `real` (the paper trains each level on the real pyramid). The discriminators read
/// the drawing with their weights frozen: G's backward pass computes no D weight gradient.
#[allow(clippy::too_many_arguments)]
pub fn generator_loss(
    spec: ModelSpec,
    generator: &Generator,
    critic: &Critic,
    real: Option<Tensor<4>>,
    noise: &Noise,
    labels: Option<Tensor<2>>,
    fakes: Option<Fakes>,
    draw: Option<&mut DropoutDraw>,
    step: u64,
) -> Result<(Tensor<1>, Tensor<1>)> {
    match (generator, critic, noise) {
        (Generator::StackGan(g), Critic::StackGan(d), Noise::StackGan(n)) => {
            let ModelSpec::StackGan(config) = spec else {
                panic!("StackGAN's networks with another model's spec")
            };
            let drawn = fakes.and_then(|f| match f {
                Fakes::StackGan(drawing) => Some(*drawing),
                _ => None,
            });
            let d = d.clone().no_grad();
            Ok(stackgan::generator_loss(
                config, g, &d, n, labels, drawn, step,
            ))
        }
        (Generator::Gran(g), Critic::Gran(d), Noise::Gran(z)) => {
            let fake = match fakes {
                Some(Fakes::Gran(fake)) => fake,
                _ => g.forward(z.clone(), spec.steps()),
            };
            Ok(bce_g(d.clone().no_grad().forward(fake)))
        }
        (Generator::Lapgan(g), Critic::Lapgan(d), Noise::Lapgan(n)) => {
            let (coarse, bands, pyramid) = match fakes {
                Some(Fakes::Lapgan {
                    coarse,
                    bands,
                    pyramid,
                }) => (coarse, bands, *pyramid),
                _ => {
                    let real = real.expect("LAPGAN's generator step reads a real batch's pyramid");
                    let pyramid = RealPyramid::of(real, spec.steps())?;
                    let (coarse, bands) = g.training_fakes(n, &pyramid, labels.clone());
                    (coarse, bands, pyramid)
                }
            };
            let d = d.clone().no_grad();
            let logits = d.level_logits(coarse, &bands, &pyramid.lows, labels, draw);
            let mut levels = logits.into_iter().map(bce_g);
            let (mut loss, d_fake) = levels.next().expect("at least one level");
            for (l, _) in levels {
                loss = loss + l;
            }
            Ok((loss, d_fake))
        }
        _ => panic!("networks of different models in one step"),
    }
}

/// D's loss −log D(x) − log(1 − D(G(z))) with mean D(x) and D(G(z)).
fn bce_d(real_logits: Tensor<2>, fake_logits: Tensor<2>) -> Figures {
    Figures {
        d_real: sigmoid(real_logits.clone()).mean(),
        d_fake: sigmoid(fake_logits.clone()).mean(),
        loss: softplus(real_logits.neg(), 1.0).mean() + softplus(fake_logits, 1.0).mean(),
        fakes: None,
    }
}

/// G's non-saturating loss −log D(G(z)) and mean D(G(z)).
fn bce_g(fake_logits: Tensor<2>) -> (Tensor<1>, Tensor<1>) {
    (
        softplus(fake_logits.clone().neg(), 1.0).mean(),
        sigmoid(fake_logits).mean(),
    )
}

#[cfg(test)]
mod tests {
    use burn::module::{ModuleVisitor, Param};
    use burn::optim::GradientsParams;
    use burn::tensor::Distribution;
    use burn::tensor::Gradients;

    use super::*;
    use crate::train::noise::NoiseStream;

    fn gran(steps: usize) -> GranConfig {
        GranConfig {
            image_size: 16,
            channels: 1,
            steps,
            z_dim: 4,
            hz_dim: 6,
            hc_dim: 5,
            decoder_widths: vec![8, 4, 1],
            discriminator_widths: vec![4, 8],
            kernel_size: 4,
            ..GranConfig::default()
        }
    }

    fn lapgan() -> LapganConfig {
        LapganConfig {
            image_size: 28,
            channels: 1,
            levels: 3,
            z_dim: 8,
            coarse_hidden: 16,
            generator_widths: vec![4, 6],
            discriminator_widths: vec![4, 6],
            generator_kernel: 3,
            classes: 0,
            dropout: 0.5,
            uniform_noise: true,
        }
    }

    fn scalar(x: Tensor<1>) -> f32 {
        x.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()[0]
    }

    /// Counts the module's parameters that `grads` holds a gradient for.
    fn with_gradients<M: Module>(module: &M, grads: &Gradients) -> usize {
        struct Count<'a>(&'a Gradients, usize);
        impl ModuleVisitor for Count<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                self.1 += usize::from(param.val().grad(self.0).is_some());
            }
        }
        let mut count = Count(grads, 0);
        module.visit(&mut count);
        count.1
    }

    /// The G step handed the D step's drawing gives the loss of G drawing afresh from the D
    /// step's noise (not from the noise handed with it); its gradient reaches G's weights and
    /// none of D's.
    fn reuses_the_drawing(spec: ModelSpec, side: usize) {
        let device = Device::flex().autodiff();
        let g = spec.init_generator(&device);
        let critic = spec.init_critic(&device);
        let mut stream = NoiseStream::new(3, 0);
        let mut noise = || spec.noise(4, spec.steps(), &mut |c| stream.normals(c), &device);
        let (first, second) = (noise(), noise());
        let real = Tensor::<4>::random([4, 1, side, side], Distribution::Default, &device);
        let figures = discriminator_loss(
            spec,
            &g,
            &critic,
            real.clone(),
            &first,
            None,
            None,
            None,
            None,
            0,
        )
        .unwrap();
        let fakes = figures.fakes.expect("every model hands its drawing on");
        let g_loss = |n: &Noise, fakes: Option<Fakes>| {
            generator_loss(
                spec,
                &g,
                &critic,
                Some(real.clone()),
                n,
                None,
                fakes,
                None,
                0,
            )
            .unwrap()
            .0
        };
        let reused = g_loss(&second, Some(fakes));
        let fresh = g_loss(&first, None);
        let other = g_loss(&second, None);
        let (a, b) = (scalar(reused.clone()), scalar(fresh.clone()));
        assert!((a - b).abs() < 1e-5, "reused {a} vs fresh {b}");
        assert!((scalar(other) - b).abs() > 1e-5, "two draws differ");
        let grads = reused.backward();
        assert!(with_gradients(&g, &grads) > 0, "G's weights get gradients");
        assert_eq!(with_gradients(&critic, &grads), 0, "D's weights get none");
        let from_fresh = GradientsParams::from_grads(fresh.backward(), &g).len();
        assert_eq!(GradientsParams::from_grads(grads, &g).len(), from_fresh);
    }

    #[test]
    fn gran_and_dcgan_train_g_on_the_d_steps_drawing() {
        for steps in [1, 3] {
            reuses_the_drawing(ModelSpec::Gran(&gran(steps)), 16);
        }
    }

    #[test]
    fn lapgan_trains_g_on_the_d_steps_drawing() {
        reuses_the_drawing(ModelSpec::Lapgan(&lapgan()), 28);
    }
}
