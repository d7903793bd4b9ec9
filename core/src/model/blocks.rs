//! Convolutional stacks shared by the models: a DCGAN-style decoder (FC then fractionally-strided
//! convolutions, each doubling the side) and its mirror, an encoder of strided convolutions that
//! halve the side, ending in a dense layer.

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu};

use super::cpu::{self, Activation, Rows};
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
pub struct ConvDecoder {
    fc: Linear,
    deconvs: Vec<ConvTranspose2d>,
    norms: Vec<BatchNorm>,
    widths: Vec<usize>,
    base_side: usize,
}

impl ConvDecoder {
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
        if cpu::uses_rows(&input.device()) {
            self.forward_rows(input).into_nchw()
        } else {
            self.forward_nchw(input)
        }
    }

    /// [`Self::forward`] with burn's layout and layers (other devices; the reference the CPU
    /// path is tested against).
    pub(crate) fn forward_nchw(&self, input: Tensor<2>) -> Tensor<4> {
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

    /// [`Self::forward`] on the CPU: channels-last from the dense layer's output on, BatchNorm
    /// and ReLU fused ([`cpu`]).
    fn forward_rows(&self, input: Tensor<2>) -> Rows {
        let side = [self.base_side, self.base_side];
        let mut x = Rows::from_flat_nchw(self.fc.forward(input), self.widths[0], side); // [batch·base², w0]
        for (i, deconv) in self.deconvs.iter().enumerate() {
            x = match self.norms.get(i) {
                Some(norm) => x.norm_act(norm, Activation::Relu),
                None => x.act(Activation::Relu),
            };
            x = cpu::conv_transpose2d(deconv, x); // [batch·(side·2)², w_{i+1}]
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
pub struct ConvEncoder {
    convs: Vec<Conv2d>,
    norms: Vec<BatchNorm>,
    fc: Linear,
    leaky: bool,
}

impl ConvEncoder {
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
        if cpu::uses_rows(&input.device()) {
            self.features_rows(input).into_flat_nchw()
        } else {
            self.features_nchw(input)
        }
    }

    /// [`Self::features`] with burn's layout and layers (other devices; the reference the CPU
    /// path is tested against).
    pub(crate) fn features_nchw(&self, input: Tensor<4>) -> Tensor<2> {
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

    /// [`Self::features`] on the CPU before the flattening: channels-last throughout,
    /// BatchNorm and the activation fused ([`cpu`]).
    fn features_rows(&self, input: Tensor<4>) -> Rows {
        let act = if self.leaky {
            Activation::LeakyRelu
        } else {
            Activation::Relu
        };
        let mut x = Rows::from_nchw(input);
        for (i, layer) in self.convs.iter().enumerate() {
            x = cpu::conv2d(layer, x); // [batch·(side/2)², w_{i+1}]
            x = match i.checked_sub(1).and_then(|j| self.norms.get(j)) {
                Some(norm) => x.norm_act(norm, act),
                None => x.act(act),
            };
        }
        x
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
            let dec = ConvDecoder::new(10, &[8, 4, 1], 7, kernel, true, &device);
            let img = dec.forward(Tensor::zeros([2, 10], &device));
            assert_eq!(img.dims(), [2, 1, 28, 28], "kernel {kernel}");
            let enc = ConvEncoder::new(&[1, 4, 8], 28, kernel, 5, true, true, &device);
            assert_eq!(enc.forward(img).dims(), [2, 5], "kernel {kernel}");
        }
    }

    /// Every parameter's gradient in `grads`, in visiting order.
    fn gradients<M: Module>(module: &M, grads: &burn::tensor::Gradients) -> Vec<Vec<f32>> {
        use burn::module::{ModuleVisitor, Param};
        struct Collect<'a>(&'a burn::tensor::Gradients, Vec<Vec<f32>>);
        impl ModuleVisitor for Collect<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                if let Some(g) = param.val().grad(self.0) {
                    self.1.push(g.into_data().try_to_vec::<f32>().unwrap());
                }
            }
        }
        let mut c = Collect(grads, Vec::new());
        module.visit(&mut c);
        c.1
    }

    fn close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: length");
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
            .fold(0f32, f32::max);
        assert!(worst < 5e-4, "{what}: differs by {worst}");
    }

    /// Gradients through ReLU: where a pre-activation lies within rounding of zero, the two
    /// paths' roundings can put it on different sides of the kink (about one run in fifty here),
    /// which changes the gradient near that one value (one channel's γ or β, one unit's weights).
    /// So: all but 1% of the entries (or one, for a vector of a few channels) close,
    /// which a wrong layout, border or transpose (every image, every window) would fail.
    fn mostly_close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: length");
        let off = a
            .iter()
            .zip(b)
            .filter(|(x, y)| (*x - *y).abs() / (1.0 + y.abs()) >= 5e-4)
            .count();
        assert!(
            off <= (a.len() / 100).max(1),
            "{what}: {off} of {} entries differ",
            a.len()
        );
    }

    /// The CPU's channels-last stacks compute what burn's layout and layers compute: the
    /// decoder's images and the encoder's outputs, and every parameter's gradient.
    #[test]
    fn channels_last_stacks_match_burns_layers_with_every_gradient() {
        use burn::tensor::Distribution;
        let device = Device::flex().autodiff();
        for (kernel, batch_norm, leaky) in [(5, true, true), (4, true, false), (5, false, true)] {
            let dec = ConvDecoder::new(10, &[8, 6, 3], 7, kernel, batch_norm, &device);
            let enc = ConvEncoder::new(&[3, 6, 8], 28, kernel, 5, batch_norm, leaky, &device);
            let input = Tensor::<2>::random([4, 10], Distribution::Normal(0.0, 1.0), &device);
            let (fast, slow) = (
                dec.forward_rows(input.clone()).into_nchw(),
                dec.forward_nchw(input.clone()),
            );
            let what = format!("k{kernel} norm {batch_norm} leaky {leaky}");
            let values = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
            let (out_fast, out_slow) = (
                enc.fc
                    .forward(enc.features_rows(fast.clone()).into_flat_nchw()),
                enc.fc.forward(enc.features_nchw(slow.clone())),
            );
            close(
                &values(fast.clone().flatten(1, 3)),
                &values(slow.clone().flatten(1, 3)),
                &format!("{what} decoder"),
            );
            close(
                &values(out_fast.clone()),
                &values(out_slow.clone()),
                &format!("{what} encoder"),
            );
            let target = Tensor::<2>::random([4, 5], Distribution::Default, &device);
            let g_fast = (out_fast * target.clone()).sum().backward();
            let g_slow = (out_slow * target).sum().backward();
            for (module, name) in [
                (&gradients(&dec, &g_fast), "decoder"),
                (&gradients(&enc, &g_fast), "encoder"),
            ] {
                let reference = if name == "decoder" {
                    gradients(&dec, &g_slow)
                } else {
                    gradients(&enc, &g_slow)
                };
                assert_eq!(module.len(), reference.len(), "{what} {name}: gradients");
                assert!(!module.is_empty());
                for (i, (a, b)) in module.iter().zip(&reference).enumerate() {
                    mostly_close(a, b, &format!("{what} {name} parameter {i}"));
                }
            }
        }
    }
}
