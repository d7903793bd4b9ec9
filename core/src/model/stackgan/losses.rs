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

/// The terms against hand computations on fixed values: KL, matching-aware and joint losses,
/// colour consistency, and Conditioning Augmentation at ε = 0.
#[cfg(test)]
mod tests {
    use burn::tensor::{Distribution, TensorData};

    use super::super::conditioning::*;
    use super::*;
    use crate::model::testing::{close, scalar, t2};

    fn device() -> Device {
        Device::flex()
    }

    #[test]
    fn kl_is_half_of_mu2_plus_var_minus_one_minus_logvar_averaged() {
        let d = device();
        let mu = t2(&[1.0, 0.0], 1, &d);
        let logvar = t2(&[0.0, 2f32.ln()], 1, &d);
        // ½(1 + 1 − 1 − 0) = 0.5 and ½(0 + 2 − 1 − ln 2) = 0.153426; their mean.
        close(
            scalar(kl(mu, logvar)),
            (0.5 + 0.5 * (1.0 - 2f32.ln())) / 2.0,
        );
        let zero = t2(&[0.0; 6], 2, &d);
        close(scalar(kl(zero.clone(), zero)), 0.0);
    }

    #[test]
    fn matching_aware_and_joint_losses_on_fixed_logits() {
        let d = device();
        let one = |v: f32| t2(&[v], 1, &d);
        let sp = |x: f32| (1.0 + x.exp()).ln();
        // Real pair 2, mismatched pair −1, fake 3.
        let l = matching_aware(one(2.0), one(-1.0), one(3.0));
        close(scalar(l), sp(-2.0) + 0.5 * (sp(-1.0) + sp(3.0)));
        let logits = DLogits {
            real: Some(one(2.0)),
            wrong: Some(one(-1.0)),
            fake: Some(one(3.0)),
            real_uncond: Some(one(1.0)),
            fake_uncond: Some(one(-2.0)),
        };
        let cond = sp(-2.0) + sp(-1.0) + sp(3.0);
        let uncond = sp(-1.0) + sp(-2.0);
        close(scalar(joint_d(&logits, 0.5)), cond + 0.5 * uncond);
        close(
            scalar(stage_d(&logits)),
            (sp(-2.0) + sp(-1.0)) / 2.0 + (sp(3.0) + sp(-1.0) + sp(-2.0)) / 3.0,
        );
        let unconditional = DLogits {
            real: None,
            wrong: None,
            fake: None,
            ..logits.clone()
        };
        close(scalar(joint_d(&unconditional, 0.5)), uncond);
        close(
            scalar(generator_adversarial(Some(one(1.0)), Some(one(-1.0)), 2.0)),
            sp(-1.0) + 2.0 * sp(1.0),
        );
    }

    #[test]
    fn colour_consistency_matches_a_hand_computation() {
        let d = device();
        // Image 0, fine (2 channels, 2 pixels): ch0 [0, 1], ch1 [1, 1] → μ = (0.5, 1),
        // Σ = [[0.25, 0], [0, 0]]. Coarse (1 pixel): ch0 0.5, ch1 0 → μ = (0.5, 0), Σ = 0.
        // λ1‖Δμ‖² + λ2‖ΔΣ‖² = 1·1 + 5·0.0625 = 1.3125. Image 1 is equal at both scales: 0.
        let fine = Tensor::<4>::from_data(
            TensorData::new(vec![0.0, 1.0, 1.0, 1.0, 0.3, 0.3, 0.2, 0.2], [2, 2, 1, 2]),
            &d,
        );
        let coarse =
            Tensor::<4>::from_data(TensorData::new(vec![0.5, 0.0, 0.3, 0.2], [2, 2, 1, 1]), &d);
        let (mu, cov) = colour_statistics(fine.clone());
        assert_eq!(
            mu.into_data().try_to_vec::<f32>().unwrap(),
            [0.5, 1.0, 0.3, 0.2]
        );
        assert_eq!(
            cov.into_data().try_to_vec::<f32>().unwrap()[..4],
            [0.25, 0.0, 0.0, 0.0]
        );
        close(
            scalar(colour_consistency(fine, coarse, 1.0, 5.0)),
            1.3125 / 2.0,
        );
    }

    #[test]
    fn conditioning_augmentation_gives_mu_when_eps_is_zero() {
        let d = device();
        let ca = CondAugment::new(6, 4, &d);
        let text = Tensor::<2>::random([3, 6], Distribution::Normal(0.0, 1.0), &d);
        let a = ca.forward(text.clone(), Tensor::zeros([3, 4], &d));
        a.c.into_data()
            .assert_approx_eq::<f32>(&a.mu.clone().into_data(), Default::default());
        let b = ca.forward(text, Tensor::ones([3, 4], &d));
        let expected = a.mu + (a.logvar * 0.5).exp();
        b.c.into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Default::default());
    }
}
