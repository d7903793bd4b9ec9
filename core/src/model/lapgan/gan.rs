//! LAPGAN as a [`Gan`]: z_K and a noise plane per finer level, every level drawn coarse to
//! fine, and the levels' losses summed — each level's D reads only its own level, so the sum
//! trains every level as if alone.

use burn::prelude::*;

use super::pyramid::upsample;
use super::{
    DropoutDraw, LapganConfig, LapganDiscriminator, LapganGenerator, LapganNoise, RealPyramid,
    to_unit,
};
use crate::error::Result;
use crate::model::Flops;
use crate::model::gan::{
    Conditions, DiscriminatorStep, Gan, Intermediates, Normals, bce_d, bce_g, fixed_steps,
    uniform_labels,
};

/// LAPGAN's fakes at every level, with the real pyramid they were drawn on.
pub struct LapganFakes {
    /// `G_K(z_K)`.
    coarse: Tensor<4>,
    /// `h̃_k = G_k(z_k, l_k)`, finest first.
    bands: Vec<Tensor<4>>,
    /// The real batch's pyramid whose low-pass images the bands were drawn on.
    pyramid: RealPyramid,
}

impl Gan for LapganConfig {
    type Generator = LapganGenerator;
    type Critic = LapganDiscriminator;
    type Noise = LapganNoise;
    type Fakes = LapganFakes;

    fn init_generator(&self, device: &Device) -> LapganGenerator {
        LapganConfig::init_generator(self, device)
    }

    fn init_critic(&self, device: &Device) -> LapganDiscriminator {
        self.init_discriminator(device)
    }

    fn steps(&self) -> usize {
        self.levels
    }

    fn drawing_steps(&self, asked: Option<usize>) -> Result<usize> {
        fixed_steps(
            asked,
            self.levels,
            "LAPGAN draws through its",
            "pyramid levels",
        )
    }

    fn classes(&self) -> usize {
        self.classes
    }

    fn generator_reads_real(&self) -> bool {
        true
    }

    /// LAPGAN's discriminators have no BatchNorm: read as they are (dropout off).
    fn judges_with_batch_statistics(&self) -> bool {
        false
    }

    fn noise(&self, batch: usize, _steps: usize, normals: Normals, device: &Device) -> LapganNoise {
        let sides = self.sides().expect("validated");
        let coarse = normals(batch * self.z_dim);
        let planes = sides[..self.levels - 1]
            .iter()
            .map(|s| normals(batch * s * s))
            .collect();
        LapganNoise::from_values(batch, self.z_dim, &sides, coarse, planes, device)
    }

    fn noise_rows(
        &self,
        noise: &LapganNoise,
        rows: std::ops::Range<usize>,
        device: &Device,
    ) -> Option<LapganNoise> {
        let (start, len) = (rows.start, rows.len());
        Some(LapganNoise {
            coarse: noise.coarse.clone().narrow(0, start, len).to_device(device),
            planes: noise
                .planes
                .iter()
                .map(|p| p.clone().narrow(0, start, len).to_device(device))
                .collect(),
        })
    }

    fn images(
        &self,
        g: &LapganGenerator,
        noise: &LapganNoise,
        _steps: usize,
        condition: Option<Tensor<2>>,
    ) -> Tensor<4> {
        g.forward(noise, condition)
    }

    /// C_t is level t's image expanded to the full side through the pyramid's own u(·), ΔC_t
    /// what that level added: the coarsest image itself, then each band-pass residual.
    fn intermediates(
        &self,
        g: &LapganGenerator,
        noise: &LapganNoise,
        _steps: usize,
        condition: Option<Tensor<2>>,
    ) -> Intermediates {
        let drawing = g.generate(noise, condition);
        let sides = g.sides();
        let expand = |mut x: Tensor<4>, level: usize| {
            for k in (0..level).rev() {
                x = upsample(x, sides[k]);
            }
            x
        };
        let levels = sides.len();
        let canvases = (0..levels)
            .rev()
            .map(|k| to_unit(expand(drawing.images[k].clone(), k)))
            .collect();
        let mut deltas = vec![expand(drawing.images[levels - 1].clone(), levels - 1)];
        deltas.extend(
            (0..levels - 1)
                .rev()
                .map(|k| expand(drawing.residuals[k].clone(), k)),
        );
        Intermediates { canvases, deltas }
    }

    fn logits(
        &self,
        d: &LapganDiscriminator,
        images: Tensor<4>,
        labels: Option<Tensor<2>>,
    ) -> Tensor<2> {
        let labels = labels.or_else(|| uniform_labels(&images, d.classes()));
        d.forward(images, labels)
    }

    fn features(
        &self,
        d: &LapganDiscriminator,
        images: Tensor<4>,
        labels: Option<Tensor<2>>,
    ) -> Tensor<2> {
        let labels = labels.or_else(|| uniform_labels(&images, d.classes()));
        d.features(images, labels)
    }

    fn discriminator_loss(
        &self,
        g: &LapganGenerator,
        d: &LapganDiscriminator,
        real: Tensor<4>,
        noise: &LapganNoise,
        batch: Conditions<'_>,
        mut draw: Option<&mut DropoutDraw>,
        _step: u64,
    ) -> Result<DiscriminatorStep<LapganFakes>> {
        let labels = batch.condition;
        let pyramid = RealPyramid::of(real, self.levels)?;
        let (coarse, bands) = g.training_fakes(noise, &pyramid, labels.clone());
        let detached: Vec<_> = bands.iter().map(|b| b.clone().detach()).collect();
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
        Ok(DiscriminatorStep {
            loss: figures.loss,
            d_real: figures.d_real,
            d_fake: figures.d_fake,
            fakes: LapganFakes {
                coarse,
                bands,
                pyramid,
            },
        })
    }

    fn generator_loss(
        &self,
        g: &LapganGenerator,
        d: &LapganDiscriminator,
        real: Option<Tensor<4>>,
        noise: &LapganNoise,
        labels: Option<Tensor<2>>,
        fakes: Option<LapganFakes>,
        draw: Option<&mut DropoutDraw>,
        _step: u64,
    ) -> Result<(Tensor<1>, Tensor<1>)> {
        let LapganFakes {
            coarse,
            bands,
            pyramid,
        } = match fakes {
            Some(fakes) => fakes,
            None => {
                let real = real.expect("LAPGAN's generator step reads a real batch's pyramid");
                let pyramid = RealPyramid::of(real, self.levels)?;
                let (coarse, bands) = g.training_fakes(noise, &pyramid, labels.clone());
                LapganFakes {
                    coarse,
                    bands,
                    pyramid,
                }
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

    fn generator_flops(&self) -> Flops {
        self.flops().0
    }

    fn discriminator_flops(&self) -> Flops {
        self.flops().1
    }
}
