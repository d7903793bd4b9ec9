//! StackGAN's discriminators, one per stage (v1) or scale (v2), each with a conditional head,
//! an unconditional one, or both.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;

use super::StackGanGenerator;
use super::config::{DiscriminatorText, StackGanConfig, Version};
use super::layers::{ImageEncoder, Logits};
use crate::model::maps::Maps;

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
