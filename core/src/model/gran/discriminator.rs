//! GRAN's discriminator, DCGAN's.

use burn::prelude::*;

use crate::model::blocks::ConvEncoder;

/// A DCGAN discriminator: strided convolutions with LeakyReLU(0.2), BatchNorm except on the first
/// layer, then one logit.
#[derive(Module, Debug)]
pub struct GranDiscriminator {
    pub(super) encoder: ConvEncoder,
}

impl GranDiscriminator {
    /// The logit of "real" for each image.
    ///
    /// # Shapes
    /// - `images`: `[batch, channels, side, side]` in `[0, 1]`
    /// - output: `[batch, 1]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.encoder.forward(images.mul_scalar(2.0).sub_scalar(1.0)) // centred to [-1, 1]
    }

    /// The activations D's last layer reads (its last convolution's, flattened): the feature
    /// space of the nearest-neighbour memorisation check.
    ///
    /// # Shapes
    /// - `images`: `[batch, channels, side, side]` in `[0, 1]`
    /// - output: `[batch, features]`
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        self.encoder
            .features(images.mul_scalar(2.0).sub_scalar(1.0))
    }
}
