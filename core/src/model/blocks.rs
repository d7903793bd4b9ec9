//! Convolutional stacks shared by the models: a DCGAN-style decoder (FC then fractionally-strided
//! convolutions, each doubling the side) and its mirror, an encoder of strided convolutions that
//! halve the side, ending in a dense layer.

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu};

use super::{Flops, conv, conv_flops, deconv_flops, linear_flops};

/// DCGAN's weight initialisation: N(0, 0.02) (Radford et al. 2016, §4).
pub fn dcgan_init() -> Initializer {
    Initializer::Normal {
        mean: 0.0,
        std: 0.02,
    }
}

/// Padding and output padding that make a stride-2 transposed convolution exactly double the side.
fn deconv_padding(kernel: usize) -> (usize, usize) {
    if kernel % 2 == 1 {
        ((kernel - 1) / 2, 1)
    } else {
        (kernel / 2 - 1, 0)
    }
}

/// Padding that makes a stride-2 convolution exactly halve an even side.
fn conv_padding(kernel: usize) -> usize {
    if kernel % 2 == 1 {
        (kernel - 1) / 2
    } else {
        kernel / 2 - 1
    }
}

/// A decoder: `input → FC → [widths[0], base, base] → (×2 transposed conv)* → [widths.last(), ...]`.
/// Hidden layers use BatchNorm (when enabled) and ReLU; the last layer is linear.
#[derive(Module, Debug)]
pub struct Decoder {
    fc: Linear,
    deconvs: Vec<ConvTranspose2d>,
    norms: Vec<BatchNorm>,
    widths: Vec<usize>,
    base_side: usize,
}

impl Decoder {
    /// A decoder from `inputs` features to `widths.last()` channels at `base_side · 2^(len-1)`.
    pub fn new(
        inputs: usize,
        widths: &[usize],
        base_side: usize,
        kernel: usize,
        batch_norm: bool,
        device: &Device,
    ) -> Self {
        let (padding, padding_out) = deconv_padding(kernel);
        let fc = LinearConfig::new(inputs, widths[0] * base_side * base_side)
            .with_initializer(dcgan_init())
            .init(device);
        let deconvs = widths
            .windows(2)
            .map(|w| {
                ConvTranspose2dConfig::new([w[0], w[1]], [kernel, kernel])
                    .with_stride([2, 2])
                    .with_padding([padding, padding])
                    .with_padding_out([padding_out, padding_out])
                    .with_initializer(dcgan_init())
                    .init(device)
            })
            .collect();
        let norms = if batch_norm {
            widths[..widths.len() - 1]
                .iter()
                .map(|&w| BatchNormConfig::new(w).init(device))
                .collect()
        } else {
            Vec::new()
        };
        Self {
            fc,
            deconvs,
            norms,
            widths: widths.to_vec(),
            base_side,
        }
    }

    /// # Shapes
    /// - `input`: `[batch, inputs]`
    /// - output: `[batch, widths.last(), base · 2^(len-1), base · 2^(len-1)]`
    pub fn forward(&self, input: Tensor<2>) -> Tensor<4> {
        let [batch, _] = input.dims();
        let mut x =
            self.fc
                .forward(input)
                .reshape([batch, self.widths[0], self.base_side, self.base_side]); // [batch, w0, base, base]
        for (i, deconv) in self.deconvs.iter().enumerate() {
            if let Some(norm) = self.norms.get(i) {
                x = norm.forward(x);
            }
            x = conv::conv_transpose2d(deconv, relu(x)); // [batch, w_{i+1}, side·2, side·2]
        }
        x
    }

    /// FLOPs of one forward pass of one input.
    pub fn flops(inputs: usize, widths: &[usize], base_side: usize, kernel: usize) -> Flops {
        let mut total = linear_flops(inputs, widths[0] * base_side * base_side);
        let mut side = base_side;
        for w in widths.windows(2) {
            total += deconv_flops(w[0], w[1], kernel, side);
            side *= 2;
        }
        total
    }
}

/// An encoder: `[channels, side, side] → (×½ strided conv)* → FC → outputs`. Convolutions after
/// the first use BatchNorm (when enabled); `leaky` picks LeakyReLU(0.2) (discriminators) over ReLU.
#[derive(Module, Debug)]
pub struct Encoder {
    convs: Vec<Conv2d>,
    norms: Vec<BatchNorm>,
    fc: Linear,
    leaky: bool,
}

impl Encoder {
    /// An encoder over `widths` (input channels first) from `side` to `side / 2^(len-1)`, then FC
    /// to `outputs`.
    pub fn new(
        widths: &[usize],
        side: usize,
        kernel: usize,
        outputs: usize,
        batch_norm: bool,
        leaky: bool,
        device: &Device,
    ) -> Self {
        let padding = conv_padding(kernel);
        let convs = widths
            .windows(2)
            .map(|w| {
                Conv2dConfig::new([w[0], w[1]], [kernel, kernel])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(
                        padding, padding, padding, padding,
                    ))
                    .with_initializer(dcgan_init())
                    .init(device)
            })
            .collect();
        let norms = if batch_norm {
            widths[2..]
                .iter()
                .map(|&w| BatchNormConfig::new(w).init(device))
                .collect()
        } else {
            Vec::new()
        };
        let last_side = side >> (widths.len() - 1);
        let fc = LinearConfig::new(widths[widths.len() - 1] * last_side * last_side, outputs)
            .with_initializer(dcgan_init())
            .init(device);
        Self {
            convs,
            norms,
            fc,
            leaky,
        }
    }

    /// # Shapes
    /// - `input`: `[batch, widths[0], side, side]`
    /// - output: `[batch, outputs]` (no activation)
    pub fn forward(&self, input: Tensor<4>) -> Tensor<2> {
        self.fc.forward(self.features(input)) // [batch, outputs]
    }

    /// The last convolution's activations, flattened: what the final dense layer reads.
    ///
    /// # Shapes
    /// - `input`: `[batch, widths[0], side, side]`
    /// - output: `[batch, widths.last() · (side / 2^(len-1))²]`
    pub fn features(&self, input: Tensor<4>) -> Tensor<2> {
        let mut x = input;
        for (i, layer) in self.convs.iter().enumerate() {
            x = conv::conv2d(layer, x); // [batch, w_{i+1}, side/2, side/2]
            if i > 0
                && let Some(norm) = self.norms.get(i - 1)
            {
                x = norm.forward(x);
            }
            x = if self.leaky {
                leaky_relu(x, 0.2)
            } else {
                relu(x)
            };
        }
        x.flatten(1, 3)
    }

    /// FLOPs of one forward pass of one image.
    pub fn flops(widths: &[usize], side: usize, kernel: usize, outputs: usize) -> Flops {
        let mut total = 0;
        let mut s = side;
        for w in widths.windows(2) {
            s /= 2;
            total += conv_flops(w[0], w[1], kernel, s);
        }
        total + linear_flops(widths[widths.len() - 1] * s * s, outputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_and_encoder_shapes_mirror() {
        let device = Device::flex();
        for kernel in [3, 4, 5] {
            let dec = Decoder::new(10, &[8, 4, 1], 7, kernel, true, &device);
            let img = dec.forward(Tensor::zeros([2, 10], &device));
            assert_eq!(img.dims(), [2, 1, 28, 28], "kernel {kernel}");
            let enc = Encoder::new(&[1, 4, 8], 28, kernel, 5, true, true, &device);
            assert_eq!(enc.forward(img).dims(), [2, 5], "kernel {kernel}");
        }
    }
}
