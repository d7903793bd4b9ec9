//! StackGAN as a [`Gan`]: z and Conditioning Augmentation's ε (plus instance noise in
//! training), every stage or scale of a drawing, and the losses of [`super::training`].

use burn::prelude::*;

use super::layers::upsample_nearest;
use super::{
    StackGanConfig, StackGanDiscriminator, StackGanGenerator, StackNoise, StageDrawing, Version,
    to_unit, training,
};
use crate::error::Result;
use crate::model::Flops;
use crate::model::gan::{Conditions, DiscriminatorStep, Gan, Intermediates, Normals, fixed_steps};
use crate::model::lapgan::DropoutDraw;

impl Gan for StackGanConfig {
    type Generator = StackGanGenerator;
    type Critic = StackGanDiscriminator;
    type Noise = StackNoise;
    /// The drawing at every scale or stage.
    type Fakes = StageDrawing;

    fn init_generator(&self, device: &Device) -> StackGanGenerator {
        StackGanConfig::init_generator(self, device)
    }

    fn init_critic(&self, device: &Device) -> StackGanDiscriminator {
        self.init_discriminator(device)
    }

    fn steps(&self) -> usize {
        self.sides().len()
    }

    fn drawing_steps(&self, asked: Option<usize>) -> Result<usize> {
        fixed_steps(
            asked,
            self.steps(),
            "StackGAN draws through its",
            "stages or scales",
        )
    }

    fn text_dim(&self) -> usize {
        self.text_dim
    }

    fn noise(&self, batch: usize, _steps: usize, normals: Normals, device: &Device) -> StackNoise {
        let mut normal = |width: usize| {
            Tensor::from_data(
                TensorData::new(normals(batch * width), [batch, width]),
                device,
            )
        };
        let z = normal(self.z_dim);
        let augmentations = match (self.version, self.conditional()) {
            (Version::V1, _) => 2,
            (Version::V2, true) => 1,
            (Version::V2, false) => 0,
        };
        let eps = (0..augmentations)
            .map(|_| normal(self.condition_dim))
            .collect();
        StackNoise {
            z,
            eps,
            instance: Vec::new(),
        }
    }

    fn training_noise(&self, batch: usize, normals: Normals, device: &Device) -> StackNoise {
        let mut noise = self.noise(batch, self.steps(), normals, device);
        noise.instance = StackNoise::instance_normals(self, batch, normals, device);
        noise
    }

    fn images(
        &self,
        g: &StackGanGenerator,
        noise: &StackNoise,
        _steps: usize,
        condition: Option<Tensor<2>>,
    ) -> Tensor<4> {
        let drawing = g.draw(noise, condition, usize::MAX);
        to_unit(drawing.images.last().expect("a stage").clone())
    }

    /// Each stage's or scale's image enlarged to the full side, and its change to the picture,
    /// the first against mid-grey.
    fn intermediates(
        &self,
        g: &StackGanGenerator,
        noise: &StackNoise,
        _steps: usize,
        condition: Option<Tensor<2>>,
    ) -> Intermediates {
        let drawing = g.draw(noise, condition, usize::MAX);
        let full = drawing.images.last().expect("a stage").dims()[2];
        let canvases: Vec<Tensor<4>> = drawing
            .images
            .into_iter()
            .map(|mut x| {
                while x.dims()[2] < full {
                    x = upsample_nearest(x);
                }
                to_unit(x)
            })
            .collect();
        let mut deltas = vec![canvases[0].clone() - 0.5];
        deltas.extend(canvases.windows(2).map(|w| w[1].clone() - w[0].clone()));
        Intermediates { canvases, deltas }
    }

    /// The finest discriminator's unconditional head, which judges whole images.
    fn logits(
        &self,
        d: &StackGanDiscriminator,
        images: Tensor<4>,
        _labels: Option<Tensor<2>>,
    ) -> Tensor<2> {
        let finest = d.scales.last().expect("a scale");
        finest
            .uncond_logits(finest.encode(images * 2.0 - 1.0))
            .expect("the finest StackGAN discriminator has an unconditional head")
    }

    fn features(
        &self,
        d: &StackGanDiscriminator,
        images: Tensor<4>,
        _labels: Option<Tensor<2>>,
    ) -> Tensor<2> {
        d.scales
            .last()
            .expect("a scale")
            .features(images * 2.0 - 1.0)
    }

    fn discriminator_loss(
        &self,
        g: &StackGanGenerator,
        d: &StackGanDiscriminator,
        real: Tensor<4>,
        noise: &StackNoise,
        batch: Conditions<'_>,
        _draw: Option<&mut DropoutDraw>,
        step: u64,
    ) -> Result<DiscriminatorStep<StageDrawing>> {
        Ok(training::discriminator_loss(
            self,
            g,
            d,
            real,
            noise,
            batch.condition,
            batch.classes,
            batch.counterparts,
            step,
        ))
    }

    fn generator_loss(
        &self,
        g: &StackGanGenerator,
        d: &StackGanDiscriminator,
        _real: Option<Tensor<4>>,
        noise: &StackNoise,
        condition: Option<Tensor<2>>,
        fakes: Option<StageDrawing>,
        _draw: Option<&mut DropoutDraw>,
        step: u64,
    ) -> Result<(Tensor<1>, Tensor<1>)> {
        let d = d.clone().no_grad();
        Ok(training::generator_loss(
            self, g, &d, noise, condition, fakes, step,
        ))
    }

    fn generator_flops(&self) -> Flops {
        StackGanConfig::generator_flops(self)
    }

    fn discriminator_flops(&self) -> Flops {
        StackGanConfig::discriminator_flops(self)
    }
}
