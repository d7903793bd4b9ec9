//! Conditioning Augmentation (Zhang et al. 2017, §3.1) and its KL term.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

use super::layers::glu;
use crate::model::blocks::dcgan_init;

/// Conditioning Augmentation (Zhang et al. 2017, §3.1): a text embedding φ_t → FC → GLU →
/// (μ, log σ²); the condition is `ĉ = μ + σ ⊙ ε`, ε ~ N(0, I). (GLU as StackGAN-v2's `CA_NET`.)
#[derive(Module, Debug)]
pub struct CondAugment {
    fc: Linear,
    width: usize,
}

/// What Conditioning Augmentation gives for a batch.
#[derive(Debug, Clone)]
pub struct Augmented {
    /// The condition ĉ fed to the generator: `[b, width]`.
    pub c: Tensor<2>,
    /// μ: `[b, width]` (what the discriminators read, detached, as in the reference code).
    pub mu: Tensor<2>,
    /// log σ²: `[b, width]`.
    pub logvar: Tensor<2>,
}

impl CondAugment {
    /// From `text` features to a `width`-wide condition.
    pub fn new(text: usize, width: usize, device: &Device) -> Self {
        Self {
            fc: LinearConfig::new(text, 4 * width)
                .with_initializer(dcgan_init())
                .init(device),
            width,
        }
    }

    /// Width of ĉ.
    pub fn width(&self) -> usize {
        self.width
    }

    /// μ alone for `embedding` (`[b, text]`): `[b, width]`.
    pub fn mu(&self, embedding: Tensor<2>) -> Tensor<2> {
        glu(self.fc.forward(embedding)).narrow(1, 0, self.width)
    }

    /// `embedding`: `[b, text]`; `eps`: `[b, width]` standard normals (zeros give ĉ = μ).
    pub fn forward(&self, embedding: Tensor<2>, eps: Tensor<2>) -> Augmented {
        let x = glu(self.fc.forward(embedding));
        let mu = x.clone().narrow(1, 0, self.width);
        let logvar = x.narrow(1, self.width, self.width);
        let c = mu.clone() + (logvar.clone() * 0.5).exp() * eps;
        Augmented { c, mu, logvar }
    }
}

/// KL(N(μ, σ²) ‖ N(0, I)) as both reference codes compute it: the mean over batch and
/// dimensions of `½(μ² + σ² − 1 − log σ²)`.
pub fn kl(mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<1> {
    ((mu.powi_scalar(2) + logvar.clone().exp() - logvar - 1.0) * 0.5).mean()
}
