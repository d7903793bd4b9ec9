//! GRAN as a [`Gan`]: z once or per step, the canvases of every step, and DCGAN's losses.

use burn::prelude::*;

use super::{GranConfig, GranDiscriminator, GranGenerator, NoiseMode};
use crate::error::Result;
use crate::model::Flops;
use crate::model::gan::{Conditions, DiscriminatorStep, Gan, Intermediates, Normals, bce_d, bce_g};
use crate::model::lapgan::DropoutDraw;

impl Gan for GranConfig {
    type Generator = GranGenerator;
    type Critic = GranDiscriminator;
    /// z: `[batch, 1 or steps, z_dim]`.
    type Noise = Tensor<3>;
    /// The final canvases, `[batch, C, H, W]` in `(0, 1)`.
    type Fakes = Tensor<4>;

    fn init_generator(&self, device: &Device) -> GranGenerator {
        GranConfig::init_generator(self, device)
    }

    fn init_critic(&self, device: &Device) -> GranDiscriminator {
        self.init_discriminator(device)
    }

    fn steps(&self) -> usize {
        self.steps
    }

    fn drawing_steps(&self, asked: Option<usize>) -> Result<usize> {
        Ok(asked.unwrap_or(self.steps))
    }

    fn with_noise_mode(&self, mode: NoiseMode) -> Self {
        Self {
            noise: mode,
            ..self.clone()
        }
    }

    fn noise(&self, batch: usize, steps: usize, normals: Normals, device: &Device) -> Tensor<3> {
        let z_steps = if self.noise == NoiseMode::PerStep {
            steps
        } else {
            1
        };
        let values = normals(batch * z_steps * self.z_dim);
        Tensor::from_data(
            TensorData::new(values, [batch, z_steps, self.z_dim]),
            device,
        )
    }

    fn noise_rows(
        &self,
        z: &Tensor<3>,
        rows: std::ops::Range<usize>,
        device: &Device,
    ) -> Option<Tensor<3>> {
        Some(
            z.clone()
                .narrow(0, rows.start, rows.len())
                .to_device(device),
        )
    }

    fn images(
        &self,
        g: &GranGenerator,
        z: &Tensor<3>,
        steps: usize,
        _condition: Option<Tensor<2>>,
    ) -> Tensor<4> {
        g.forward(z.clone(), steps)
    }

    fn intermediates(
        &self,
        g: &GranGenerator,
        z: &Tensor<3>,
        steps: usize,
        _condition: Option<Tensor<2>>,
    ) -> Intermediates {
        let drawing = g.generate(z.clone(), steps);
        Intermediates {
            canvases: drawing.canvases,
            deltas: drawing.delta_canvases,
        }
    }

    fn logits(
        &self,
        d: &GranDiscriminator,
        images: Tensor<4>,
        _labels: Option<Tensor<2>>,
    ) -> Tensor<2> {
        d.forward(images)
    }

    fn features(
        &self,
        d: &GranDiscriminator,
        images: Tensor<4>,
        _labels: Option<Tensor<2>>,
    ) -> Tensor<2> {
        d.features(images)
    }

    fn discriminator_loss(
        &self,
        g: &GranGenerator,
        d: &GranDiscriminator,
        real: Tensor<4>,
        z: &Tensor<3>,
        _batch: Conditions<'_>,
        _draw: Option<&mut DropoutDraw>,
        _step: u64,
    ) -> Result<DiscriminatorStep<Tensor<4>>> {
        let fake = g.forward(z.clone(), self.steps);
        let figures = bce_d(d.forward(real), d.forward(fake.clone().detach()));
        Ok(DiscriminatorStep {
            loss: figures.loss,
            d_real: figures.d_real,
            d_fake: figures.d_fake,
            fakes: fake,
        })
    }

    fn generator_loss(
        &self,
        g: &GranGenerator,
        d: &GranDiscriminator,
        _real: Option<Tensor<4>>,
        z: &Tensor<3>,
        _condition: Option<Tensor<2>>,
        fakes: Option<Tensor<4>>,
        _draw: Option<&mut DropoutDraw>,
        _step: u64,
    ) -> Result<(Tensor<1>, Tensor<1>)> {
        let fake = fakes.unwrap_or_else(|| g.forward(z.clone(), self.steps));
        Ok(bce_g(d.clone().no_grad().forward(fake)))
    }

    fn generator_flops(&self) -> Flops {
        GranConfig::generator_flops(self)
    }

    fn discriminator_flops(&self) -> Flops {
        GranConfig::discriminator_flops(self)
    }

    fn training_memory_bytes(&self, batch: usize) -> Option<u64> {
        Some(GranConfig::training_memory_bytes(self, batch))
    }
}
