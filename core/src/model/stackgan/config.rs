//! StackGAN's configuration: which version, its scales, widths and loss weights, and the checks
//! that make every combination buildable.

use serde::{Deserialize, Serialize};

use super::layers::halvings;
use crate::error::{Error, Result};

/// Which sentence encoder a text-to-image run uses, as written in its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EncoderChoice {
    /// MiniLM when installed, else the built-in encoder; a run records which it got.
    #[default]
    Auto,
    /// all-MiniLM-L6-v2 (384 wide).
    #[serde(rename = "minilm")]
    MiniLm,
    /// The built-in encoder, trained on the run's captions.
    Builtin,
}

/// StackGAN-v1 (two stages, trained one after the other) or StackGAN-v2 (a tree of generators
/// trained jointly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Version {
    /// Zhang et al. 2017: Stage-I draws a low-resolution image from text; Stage-II redraws it at
    /// high resolution, reading the Stage-I image and the text again.
    V1,
    /// Zhang et al. 2018 (StackGAN++): generators at several scales share hidden features, each
    /// scale with its own discriminator.
    V2,
}

/// Which conditions the matching-aware discriminators pair real images with as mismatched text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mismatch {
    /// Each real image with the next image's condition in the batch (both reference codes).
    /// Two random captions usually differ in what is easiest to see, so a discriminator can
    /// tell them apart by that alone (on the shapes, by the colours).
    #[default]
    Next,
    /// Those pairs and, for each real image, the condition closest to its own (cosine of the
    /// sentence embeddings) among the batch's images of another class: a hard negative, so
    /// telling matching from mismatched text needs the class too (on the shapes, the shape).
    /// Needs labelled images.
    NearestOtherClass,
    /// Those pairs and each real image with a counterpart's caption: of a randomly chosen
    /// other class (drawn afresh each step), the training image whose first caption is closest
    /// to its own (cosine of the sentence embeddings) over the training set's first 4096
    /// images, in the same phrasing where both have as many captions. On the shapes a
    /// counterpart has the same colours and size and another shape, so D must read the shape
    /// to reject the pair, and every other shape is asked about, not one neighbour. Needs
    /// labelled images.
    Counterpart,
}

/// What the conditional discriminators read of the text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiscriminatorText {
    /// The generator's Conditioning Augmentation mean μ, detached (both reference codes). μ
    /// is trained by G alone, under the KL term's pull to 0, so it keeps what G already draws
    /// and shrinks the rest: on the shapes it moved 7 times less for another shape word than
    /// for another background colour.
    #[default]
    Mu,
    /// The sentence embedding, compressed by each discriminator's own fully connected layer
    /// (to `condition_dim`, then LeakyReLU 0.2) as both papers describe, trained with D: D
    /// can read whatever tells matching text from mismatched.
    Embedding,
}

/// A StackGAN's shape and training weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackGanConfig {
    /// v1 or v2.
    pub version: Version,
    /// Side of the finest images.
    pub image_size: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// v2: the number of scales (branches), each half the side of the next.
    #[serde(default = "default_scales")]
    pub scales: usize,
    /// v1: Stage-II's side over Stage-I's (the paper's 4: 64 → 256).
    #[serde(default = "default_ratio")]
    pub stage_ratio: usize,
    /// Width of z.
    pub z_dim: usize,
    /// Width of the augmented condition ĉ (the papers' 128).
    pub condition_dim: usize,
    /// Width of a sentence embedding; 0 for an unconditional v2 (no text).
    pub text_dim: usize,
    /// Which sentence encoder makes the embeddings.
    #[serde(default)]
    pub encoder: EncoderChoice,
    /// Channels of the generator's first (smallest) feature map; halved by every up-sampling.
    pub generator_width: usize,
    /// Channels of every discriminator's first convolution; doubled by every halving.
    pub discriminator_width: usize,
    /// Residual blocks in each stage above the first (v1's code: 4; v2's: 2).
    pub residual_blocks: usize,
    /// Weight of the KL term of Conditioning Augmentation (the papers' λ = 1).
    #[serde(default = "one")]
    pub kl_weight: f32,
    /// Weight of the unconditional terms beside the conditional ones (v2's code: 1).
    #[serde(default = "one")]
    pub uncond_weight: f32,
    /// λ1 of colour consistency, on the colour means (StackGAN++'s paper: 1).
    #[serde(default = "one")]
    pub colour_mean_weight: f32,
    /// λ2 of colour consistency, on the colour covariances (StackGAN++'s paper: 5).
    #[serde(default = "five")]
    pub colour_cov_weight: f32,
    /// v1: training steps of Stage-I before Stage-II takes over (the paper's two phases).
    #[serde(default)]
    pub stage1_steps: u64,
    /// The mismatched text of the matching-aware discriminators.
    #[serde(default)]
    pub mismatch: Mismatch,
    /// What the conditional discriminators read of the text.
    #[serde(default)]
    pub discriminator_text: DiscriminatorText,
    /// Instance noise (Sønderby et al. 2016; not in either StackGAN): the standard deviation of
    /// Gaussian noise added to every image a discriminator reads, real or fake, in `[-1, 1]`
    /// units; 0 (the default, as the papers) adds none. It hides pixel-level differences
    /// (exact palette colours, faint speckle) that let D reject fakes without looking at their
    /// shapes, so D's verdict, and G's gradient, must come from coarser structure.
    #[serde(default)]
    pub instance_noise: f32,
    /// Steps over which the instance noise falls linearly to 0; 0 keeps it constant.
    #[serde(default)]
    pub instance_noise_steps: u64,
    /// Weight of a mode-seeking term in G's loss (Mao et al. 2019, "Mode seeking generative
    /// adversarial networks"; not in either StackGAN): 1 / (mean |G(c, z₁) − G(c, z₂)| /
    /// mean |z₁ − z₂| + 10⁻⁵) over pairs of drawings of one caption, on the finest scale
    /// trained. Against a generator that draws a caption the same whatever z. Above 0, each
    /// training batch holds half a batch of images, each twice with the same caption, so the
    /// drawing's rows i and i + b/2 are such a pair (an epoch takes twice the steps). 0 (the
    /// default, as the papers) adds nothing.
    #[serde(default)]
    pub mode_seeking: f32,
}

fn default_scales() -> usize {
    3
}

fn default_ratio() -> usize {
    4
}

fn one() -> f32 {
    1.0
}

fn five() -> f32 {
    5.0
}

impl Default for StackGanConfig {
    /// StackGAN-v2 at 16 → 32 → 64 on the built-in shapes' captions, CPU-sized.
    fn default() -> Self {
        Self {
            version: Version::V2,
            image_size: 64,
            channels: 3,
            scales: 3,
            stage_ratio: 4,
            z_dim: 100,
            condition_dim: 128,
            text_dim: 384,
            encoder: EncoderChoice::Auto,
            generator_width: 256,
            discriminator_width: 16,
            residual_blocks: 2,
            kl_weight: 1.0,
            uncond_weight: 1.0,
            colour_mean_weight: 1.0,
            colour_cov_weight: 5.0,
            stage1_steps: 0,
            mismatch: Mismatch::Next,
            discriminator_text: DiscriminatorText::Mu,
            instance_noise: 0.0,
            instance_noise_steps: 0,
            mode_seeking: 0.0,
        }
    }
}

impl StackGanConfig {
    /// Whether the model reads text.
    pub fn conditional(&self) -> bool {
        self.text_dim > 0
    }

    /// The instance noise's standard deviation at `step` (0 once it has fallen off).
    pub fn instance_sigma(&self, step: u64) -> f32 {
        if self.instance_noise_steps == 0 {
            return self.instance_noise;
        }
        let left = 1.0 - step as f64 / self.instance_noise_steps as f64;
        (f64::from(self.instance_noise) * left.max(0.0)) as f32
    }

    /// The side of every scale (v2) or stage (v1), coarse to fine.
    pub fn sides(&self) -> Vec<usize> {
        match self.version {
            Version::V2 => (0..self.scales)
                .map(|i| self.image_size >> (self.scales - 1 - i))
                .collect(),
            Version::V1 => vec![self.image_size / self.stage_ratio.max(1), self.image_size],
        }
    }

    /// The side of the generator's first feature map and the up-samplings to the first scale.
    pub fn base(&self) -> (usize, usize) {
        let first = self.sides()[0];
        let ups = halvings(first);
        (first >> ups, ups)
    }

    /// v1: halvings of the Stage-I image in Stage-II's encoder (the paper's 2: 64 → 16).
    pub fn stage2_downs(&self) -> usize {
        halvings(self.sides()[0]).min(2)
    }

    /// Checks that the networks can be built; errors name the field.
    pub fn validate(&self) -> Result<()> {
        let field = |f: &str| format!("model.{f}");
        if self.channels != 1 && self.channels != 3 {
            return Err(Error::config(field("channels"), "expected 1 or 3"));
        }
        for (name, v) in [
            ("z_dim", self.z_dim),
            ("condition_dim", self.condition_dim),
            ("generator_width", self.generator_width),
            ("discriminator_width", self.discriminator_width),
        ] {
            if v == 0 {
                return Err(Error::config(field(name), "must be at least 1"));
            }
        }
        match self.version {
            Version::V2 => {
                if !(1..=4).contains(&self.scales) {
                    return Err(Error::config(field("scales"), "1 to 4 scales"));
                }
                let step = 1usize << (self.scales - 1);
                if !self.image_size.is_multiple_of(step) || self.image_size / step < 4 {
                    return Err(Error::config(
                        field("image_size"),
                        format!(
                            "{} does not halve {} times to a side of at least 4",
                            self.image_size,
                            self.scales - 1
                        ),
                    ));
                }
            }
            Version::V1 => {
                if self.stage_ratio != 2 && self.stage_ratio != 4 {
                    return Err(Error::config(field("stage_ratio"), "2 or 4"));
                }
                if !self.conditional() {
                    return Err(Error::config(
                        field("text_dim"),
                        "StackGAN-v1 draws from text: text_dim must be above 0",
                    ));
                }
                if !self.image_size.is_multiple_of(self.stage_ratio)
                    || self.image_size / self.stage_ratio < 4
                {
                    return Err(Error::config(
                        field("image_size"),
                        format!(
                            "{} over stage_ratio {} is not a side of at least 4",
                            self.image_size, self.stage_ratio
                        ),
                    ));
                }
            }
        }
        if !(0.0..=2.0).contains(&self.instance_noise) {
            return Err(Error::config(
                field("instance_noise"),
                format!(
                    "a standard deviation from 0 to 2 (images span -1 to 1), found {}",
                    self.instance_noise
                ),
            ));
        }
        if !(self.mode_seeking.is_finite() && self.mode_seeking >= 0.0) {
            return Err(Error::config(
                field("mode_seeking"),
                format!("a weight of 0 or more, found {}", self.mode_seeking),
            ));
        }
        if self.mismatch != Mismatch::Next && !self.conditional() {
            return Err(Error::config(
                field("mismatch"),
                "mismatched pairs pair images with text: text_dim must be above 0",
            ));
        }
        let (_, ups) = self.base();
        let halved = ups
            + match self.version {
                Version::V2 => self.scales - 1,
                Version::V1 => 0,
            };
        if self.generator_width >> halved < 2 {
            return Err(Error::config(
                field("generator_width"),
                format!(
                    "{} halves {halved} times on the way to the finest scale: at least {} needed",
                    self.generator_width,
                    2usize << halved
                ),
            ));
        }
        if self.version == Version::V1 {
            let ups2 = self.stage2_downs() + self.stage_ratio.trailing_zeros() as usize;
            let gf = (self.generator_width / 8).max(1);
            if (gf << self.stage2_downs()) >> ups2 < 1 {
                return Err(Error::config(
                    field("generator_width"),
                    "too narrow for Stage-II's up-sampling",
                ));
            }
        }
        Ok(())
    }
}
