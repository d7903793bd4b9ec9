//! GRAN's recurrent generator: `h_z = tanh(W z + b)`, `h_c,t = g(ΔC_{t-1})`,
//! `ΔC_t = f([h_z, h_c,t])`, `C = sigmoid(Σ_t ΔC_t)`.

use burn::nn::{BatchNorm, Linear};
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, tanh};

use crate::model::blocks::{ConvDecoder, ConvEncoder};
use crate::model::cpu::{self, Activation};

/// Every intermediate of a drawing: the updates ΔC_t and the canvases C_t = sigmoid(Σ_{i≤t} ΔC_i).
#[derive(Debug, Clone)]
pub struct CanvasDrawing {
    /// ΔC_1..ΔC_steps, each `[batch, channels, side, side]` (unbounded).
    pub delta_canvases: Vec<Tensor<4>>,
    /// C_1..C_steps, each `[batch, channels, side, side]` in (0, 1).
    pub canvases: Vec<Tensor<4>>,
}

/// GRAN's generator: the z projection, the decoder f and the encoder g.
#[derive(Module, Debug)]
pub struct GranGenerator {
    pub(super) z_projection: Linear,
    pub(super) decoder: ConvDecoder,
    pub(super) encoder: ConvEncoder,
    /// BatchNorm before h_z's tanh ([`super::GranConfig::latent_norm`]).
    pub(super) hz_norm: Option<BatchNorm>,
    /// BatchNorm before h_c's tanh.
    pub(super) hc_norm: Option<BatchNorm>,
    pub(super) hc_dim: usize,
}

impl GranGenerator {
    /// Draws `steps` steps (any number, also more than the T trained) and keeps every
    /// intermediate.
    ///
    /// # Shapes
    /// - `z`: `[batch, 1, z_dim]` (noise once) or `[batch, ≥ steps, z_dim]` (noise per step; step
    ///   `t` reads `z[:, t]`)
    pub fn generate(&self, z: Tensor<3>, steps: usize) -> CanvasDrawing {
        self.draw(z, steps, true)
    }

    /// The final canvas C after `steps` steps, without keeping the intermediates.
    pub fn forward(&self, z: Tensor<3>, steps: usize) -> Tensor<4> {
        let mut drawing = self.draw(z, steps, false);
        drawing.canvases.pop().expect("draw keeps the final canvas")
    }

    fn draw(&self, z: Tensor<3>, steps: usize, keep_all: bool) -> CanvasDrawing {
        let [batch, z_steps, z_dim] = z.dims();
        let device = z.device();
        let hz_once = (z_steps == 1).then(|| self.project(z.clone().reshape([batch, z_dim])));
        let mut hc = Tensor::<2>::zeros([batch, self.hc_dim], &device); // h_c,1 = 0
        let mut sum: Option<Tensor<4>> = None;
        let mut drawing = CanvasDrawing {
            delta_canvases: Vec::new(),
            canvases: Vec::new(),
        };
        for t in 0..steps {
            let hz = match &hz_once {
                Some(hz) => hz.clone(),
                None => self.project(
                    z.clone()
                        .narrow(1, t.min(z_steps - 1), 1)
                        .reshape([batch, z_dim]),
                ),
            };
            let delta = self.decoder.forward(Tensor::cat(vec![hz, hc.clone()], 1)); // [batch, C, H, W]
            let total = match sum {
                Some(s) => s + delta.clone(),
                None => delta.clone(),
            };
            if keep_all {
                drawing.canvases.push(sigmoid(total.clone()));
                drawing.delta_canvases.push(delta.clone());
            }
            sum = Some(total);
            if t + 1 < steps {
                hc = tanh(normed(&self.hc_norm, self.encoder.forward(delta))); // h_c,t+1 = g(ΔC_t)
            }
        }
        if !keep_all && let Some(total) = sum {
            drawing.canvases.push(sigmoid(total));
        }
        drawing
    }

    /// h_z = tanh(W z + b). `[batch, z_dim] → [batch, hz_dim]`.
    pub(super) fn project(&self, z: Tensor<2>) -> Tensor<2> {
        tanh(normed(&self.hz_norm, self.z_projection.forward(z)))
    }
}

/// `x` through `norm` when there is one.
fn normed(norm: &Option<BatchNorm>, x: Tensor<2>) -> Tensor<2> {
    match norm {
        Some(norm) => cpu::batch_norm_act(norm, x, Activation::Identity),
        None => x,
    }
}
