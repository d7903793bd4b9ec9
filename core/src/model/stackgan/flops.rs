//! Floating-point operations of StackGAN's networks per image, counted layer by layer from the
//! config as the networks are built (2 per multiply-add; BatchNorm and activations not counted).

use super::config::{StackGanConfig, Version};
use super::layers::halvings;
use crate::model::{Flops, conv_flops, linear_flops};

impl StackGanConfig {
    /// Conditioning Augmentation's FC.
    fn ca_flops(&self) -> Flops {
        linear_flops(self.text_dim, 4 * self.condition_dim)
    }

    /// Width factor of a generator convolution: GLU (v2) makes twice the channels it keeps.
    fn widen(&self) -> usize {
        match self.version {
            Version::V1 => 1,
            Version::V2 => 2,
        }
    }

    /// One forward pass of the generator drawing every scale or stage.
    pub fn generator_flops(&self) -> Flops {
        let k = self.widen();
        let cond = if self.conditional() {
            self.condition_dim
        } else {
            0
        };
        let (base, ups) = self.base();
        let mut f = if self.conditional() {
            self.ca_flops()
        } else {
            0
        };
        let mut w = self.generator_width;
        f += linear_flops(self.z_dim + cond, k * w * base * base);
        let mut side = base;
        for _ in 0..ups {
            side *= 2;
            f += conv_flops(w, k * (w / 2), 3, side);
            w /= 2;
        }
        f += conv_flops(w, self.channels, 3, side);
        match self.version {
            Version::V2 => {
                for _ in 1..self.scales {
                    f += conv_flops(w + cond, k * w, 3, side);
                    f += self.residual_blocks as Flops
                        * (conv_flops(w, k * w, 3, side) + conv_flops(w, w, 3, side));
                    side *= 2;
                    f += conv_flops(w, k * (w / 2), 3, side);
                    w /= 2;
                    f += conv_flops(w, self.channels, 3, side);
                }
            }
            Version::V1 => {
                f += self.ca_flops();
                let gf = (self.generator_width / 8).max(1);
                let downs = self.stage2_downs();
                let mut s = side;
                f += conv_flops(self.channels, gf, 3, s);
                for i in 0..downs {
                    s /= 2;
                    f += conv_flops(gf << i, gf << (i + 1), 4, s);
                }
                let mut w = gf << downs;
                f += conv_flops(w + cond, w, 3, s);
                f += self.residual_blocks as Flops
                    * (conv_flops(w, w, 3, s) + conv_flops(w, w, 3, s));
                for _ in 0..downs + self.stage_ratio.trailing_zeros() as usize {
                    s *= 2;
                    f += conv_flops(w, (w / 2).max(1), 3, s);
                    w = (w / 2).max(1);
                }
                f += conv_flops(w, self.channels, 3, s);
            }
        }
        f
    }

    /// One forward pass of every scale's discriminator with both of its heads.
    pub fn discriminator_flops(&self) -> Flops {
        let cond = if self.conditional() {
            self.condition_dim
        } else {
            0
        };
        self.sides()
            .iter()
            .map(|&side| {
                let n = halvings(side);
                let width = self.discriminator_width;
                let mut f = 0;
                let (mut s, mut w) = (side, width);
                if n == 0 {
                    f += conv_flops(self.channels, width, 3, s);
                }
                for i in 0..n {
                    s /= 2;
                    let inputs = if i == 0 { self.channels } else { w };
                    w = width << i;
                    f += conv_flops(inputs, w, 4, s);
                }
                while w > 8 * width {
                    f += conv_flops(w, w / 2, 3, s);
                    w /= 2;
                }
                if cond > 0 {
                    f += conv_flops(w + cond, w, 3, s) + conv_flops(w, 1, s, 1);
                }
                f + conv_flops(w, 1, s, 1)
            })
            .sum()
    }
}
