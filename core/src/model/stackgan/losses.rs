//! StackGAN's loss terms, each a function of plain tensors so the
//! tests can check them against hand computations.
//!
//! Logits are D's pre-sigmoid outputs; `bce(x, 1) = softplus(−x)`, `bce(x, 0) = softplus(x)`,
//! each averaged over the batch.

use burn::prelude::*;
use burn::tensor::activation::softplus;

/// `−log σ(x)` averaged: the loss of logits that should say "real".
pub fn bce_real(logits: Tensor<2>) -> Tensor<1> {
    softplus(logits.neg(), 1.0).mean()
}

/// `−log(1 − σ(x))` averaged: the loss of logits that should say "fake".
pub fn bce_fake(logits: Tensor<2>) -> Tensor<1> {
    softplus(logits, 1.0).mean()
}

/// The matching-aware discriminator loss (Reed et al. 2016, StackGAN-v1 §3.2): real images with
/// matching text are real; real images with mismatched text and fakes with matching text are
/// fake: `L = bce_real(real) + (bce_fake(wrong) + bce_fake(fake)) / 2`.
pub fn matching_aware(real: Tensor<2>, wrong: Tensor<2>, fake: Tensor<2>) -> Tensor<1> {
    bce_real(real) + (bce_fake(wrong) + bce_fake(fake)) * 0.5
}

/// The logits one discriminator gives in a D step.
#[derive(Debug, Clone)]
pub struct DLogits {
    /// Conditional head on (real image, its own text).
    pub real: Option<Tensor<2>>,
    /// Conditional head on (real image, another image's text).
    pub wrong: Option<Tensor<2>>,
    /// Conditional head on (fake image, the text it was drawn from).
    pub fake: Option<Tensor<2>>,
    /// Unconditional head on real images.
    pub real_uncond: Option<Tensor<2>>,
    /// Unconditional head on fakes.
    pub fake_uncond: Option<Tensor<2>>,
}

/// StackGAN-v2's joint discriminator loss (StackGAN++ §4.2, eq. 5, with the reference code's
/// mismatched-text term): the conditional terms `bce_real(real) + bce_fake(wrong) +
/// bce_fake(fake)` plus `uncond_weight · (bce_real(real_uncond) + bce_fake(fake_uncond))`. An
/// unconditional model has only the second part (with weight 1).
pub fn joint_d(l: &DLogits, uncond_weight: f32) -> Tensor<1> {
    let cond = match (&l.real, &l.wrong, &l.fake) {
        (Some(r), Some(w), Some(f)) => {
            Some(bce_real(r.clone()) + bce_fake(w.clone()) + bce_fake(f.clone()))
        }
        _ => None,
    };
    let uncond = match (&l.real_uncond, &l.fake_uncond) {
        (Some(r), Some(f)) => Some(bce_real(r.clone()) + bce_fake(f.clone())),
        _ => None,
    };
    match (cond, uncond) {
        (Some(c), Some(u)) => c + u * uncond_weight,
        (Some(c), None) => c,
        (None, Some(u)) => u,
        (None, None) => panic!("a discriminator step with no logits"),
    }
}

/// StackGAN-v1's discriminator losses, as its code: Stage-I (conditional head only) the
/// matching-aware loss; Stage-II, which also has an unconditional head,
/// `(bce_real(real) + bce_real(real_uncond)) / 2 + (bce_fake(fake) + bce_fake(wrong) +
/// bce_fake(fake_uncond)) / 3`.
pub fn stage_d(l: &DLogits) -> Tensor<1> {
    let (real, wrong, fake) = (
        l.real.clone().expect("StackGAN-v1's heads are conditional"),
        l.wrong.clone().expect("mismatched pairs"),
        l.fake.clone().expect("fakes"),
    );
    match (&l.real_uncond, &l.fake_uncond) {
        (Some(ru), Some(fu)) => {
            (bce_real(real) + bce_real(ru.clone())) * 0.5
                + (bce_fake(fake) + bce_fake(wrong) + bce_fake(fu.clone())) / 3.0
        }
        _ => matching_aware(real, wrong, fake),
    }
}

/// A generator's adversarial loss on one discriminator's heads for its fakes:
/// `bce_real(cond) + uncond_weight · bce_real(uncond)` (whichever heads exist).
pub fn generator_adversarial(
    cond: Option<Tensor<2>>,
    uncond: Option<Tensor<2>>,
    uncond_weight: f32,
) -> Tensor<1> {
    match (cond, uncond) {
        (Some(c), Some(u)) => bce_real(c) + bce_real(u) * uncond_weight,
        (Some(c), None) => bce_real(c),
        (None, Some(u)) => bce_real(u),
        (None, None) => panic!("a generator step with no logits"),
    }
}

/// Per-image colour statistics: the mean of each channel over the pixels `[b, c]`, and the
/// channels' covariance over the pixels `[b, c, c]` (divided by the pixel count).
pub fn colour_statistics(images: Tensor<4>) -> (Tensor<2>, Tensor<3>) {
    let [b, c, h, w] = images.dims();
    let pixels = images.reshape([b, c, h * w]);
    let mean = pixels.clone().mean_dim(2); // [b, c, 1]
    let centred = pixels - mean.clone();
    let cov = centred.clone().matmul(centred.swap_dims(1, 2)) / (h * w) as f64;
    (mean.reshape([b, c]), cov)
}

/// StackGAN++'s colour-consistency regulariser (§4.3) between the images of two adjacent scales
/// drawn from the same noise: the batch mean of `λ1‖μ_fine − μ_coarse‖² + λ2‖Σ_fine −
/// Σ_coarse‖²_F` (squared norms summed over channels, as the paper writes it).
pub fn colour_consistency(
    fine: Tensor<4>,
    coarse: Tensor<4>,
    lambda1: f32,
    lambda2: f32,
) -> Tensor<1> {
    let b = fine.dims()[0];
    let (mu_f, cov_f) = colour_statistics(fine);
    let (mu_c, cov_c) = colour_statistics(coarse);
    let mean_term = (mu_f - mu_c).powi_scalar(2).sum() / b as f64;
    let cov_term = (cov_f - cov_c).powi_scalar(2).sum() / b as f64;
    mean_term * lambda1 + cov_term * lambda2
}
