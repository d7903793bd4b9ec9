//! The Fréchet distance between two Gaussians fitted to feature vectors (Heusel et al. 2017's FID,
//! here on the features of Easel's own classifier rather than Inception's):
//! `d² = ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½)`. Plain f64 arithmetic; the matrix square
//! roots come from a Jacobi eigen-decomposition, exact for the symmetric matrices involved.

/// Mean and covariance of a set of feature vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct Moments {
    /// Vectors the moments were taken over.
    pub count: usize,
    /// The mean vector, `dim` long.
    pub mean: Vec<f64>,
    /// The covariance (unbiased, divided by count − 1), `dim × dim`, row-major.
    pub covariance: Vec<f64>,
}

impl Moments {
    /// The moments of `rows` vectors of `dim` values each, laid end to end in `features`.
    ///
    /// # Panics
    /// When `features.len()` is not a multiple of `dim`.
    pub fn of(features: &[f32], dim: usize) -> Self {
        assert!(
            dim > 0 && features.len().is_multiple_of(dim),
            "features: {} values are not rows of {dim}",
            features.len()
        );
        let count = features.len() / dim;
        let mut mean = vec![0f64; dim];
        for row in features.chunks(dim) {
            for (m, &x) in mean.iter_mut().zip(row) {
                *m += x as f64;
            }
        }
        for m in &mut mean {
            *m /= count.max(1) as f64;
        }
        let mut covariance = vec![0f64; dim * dim];
        let mut centred = vec![0f64; dim];
        for row in features.chunks(dim) {
            for ((c, &x), m) in centred.iter_mut().zip(row).zip(&mean) {
                *c = x as f64 - m;
            }
            for i in 0..dim {
                let ci = centred[i];
                let out = &mut covariance[i * dim..(i + 1) * dim];
                for (o, &cj) in out.iter_mut().zip(&centred) {
                    *o += ci * cj;
                }
            }
        }
        let denominator = count.saturating_sub(1).max(1) as f64;
        for c in &mut covariance {
            *c /= denominator;
        }
        Self {
            count,
            mean,
            covariance,
        }
    }

    /// Length of the vectors.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }
}

/// The Fréchet distance (squared, as FID reports it) between the Gaussians of `a` and `b`.
///
/// # Panics
/// When the two have different dimensions.
pub fn frechet_distance(a: &Moments, b: &Moments) -> f64 {
    assert_eq!(a.dim(), b.dim(), "Fréchet distance: dimensions differ");
    let n = a.dim();
    let mean_term: f64 = a
        .mean
        .iter()
        .zip(&b.mean)
        .map(|(x, y)| (x - y).powi(2))
        .sum();
    let trace = |m: &[f64]| (0..n).map(|i| m[i * n + i]).sum::<f64>();
    let root_a = psd_sqrt(&a.covariance, n);
    let inner = matmul(&matmul(&root_a, &b.covariance, n), &root_a, n);
    let cross = trace(&psd_sqrt(&inner, n));
    (mean_term + trace(&a.covariance) + trace(&b.covariance) - 2.0 * cross).max(0.0)
}

fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0f64; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            if aik == 0.0 {
                continue;
            }
            let row = &b[k * n..(k + 1) * n];
            for (o, &bkj) in out[i * n..(i + 1) * n].iter_mut().zip(row) {
                *o += aik * bkj;
            }
        }
    }
    out
}

/// The square root of a symmetric positive semi-definite matrix (negative eigenvalues from
/// rounding are clamped to 0).
fn psd_sqrt(m: &[f64], n: usize) -> Vec<f64> {
    let (values, vectors) = symmetric_eigen(m, n);
    let mut out = vec![0f64; n * n];
    for (k, &value) in values.iter().enumerate() {
        let root = value.max(0.0).sqrt();
        if root == 0.0 {
            continue;
        }
        for i in 0..n {
            let vik = vectors[i * n + k] * root;
            for j in 0..n {
                out[i * n + j] += vik * vectors[j * n + k];
            }
        }
    }
    out
}

/// Eigenvalues and eigenvectors (columns of the returned row-major matrix) of a symmetric matrix,
/// by cyclic Jacobi rotations until the off-diagonal mass is negligible.
fn symmetric_eigen(m: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = m.to_vec();
    // Symmetrise what rounding left uneven.
    for i in 0..n {
        for j in i + 1..n {
            let mean = 0.5 * (a[i * n + j] + a[j * n + i]);
            a[i * n + j] = mean;
            a[j * n + i] = mean;
        }
    }
    let mut v = vec![0f64; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let scale: f64 = a
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum::<f64>()
            .sqrt();
        if off <= 1e-14 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaussian_like(count: usize, dim: usize, seed: u64, shift: f32, scale: f32) -> Vec<f32> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..count * dim)
            .map(|_| {
                // Sum of uniforms: close enough to normal for moments.
                let u: f32 = (0..12).map(|_| rng.random::<f32>()).sum::<f32>() - 6.0;
                u * scale + shift
            })
            .collect()
    }

    #[test]
    fn identical_sets_are_at_distance_zero() {
        let x = gaussian_like(500, 6, 1, 0.0, 1.0);
        let m = Moments::of(&x, 6);
        assert!(
            frechet_distance(&m, &m) < 1e-9,
            "{}",
            frechet_distance(&m, &m)
        );
    }

    #[test]
    fn matches_the_closed_form_for_diagonal_covariances() {
        // d² = Σ (μa−μb)² + Σ (σa − σb)² when both covariances are diagonal.
        let a = Moments {
            count: 10,
            mean: vec![0.0, 1.0, 2.0],
            covariance: vec![4.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 9.0],
        };
        let b = Moments {
            count: 10,
            mean: vec![1.0, 1.0, 0.0],
            covariance: vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 4.0],
        };
        let expected = (1.0 + 0.0 + 4.0) + (1.0 + 0.0 + 1.0);
        assert!((frechet_distance(&a, &b) - expected).abs() < 1e-9);
        assert!(
            (frechet_distance(&b, &a) - expected).abs() < 1e-9,
            "symmetric"
        );
    }

    #[test]
    fn a_rotated_covariance_is_handled_exactly() {
        // Σa = R diag(4, 1) Rᵀ with R a 30° rotation, Σb = I: d² = (2−1)² + (1−1)² = 1.
        let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
        let sa = [
            4.0 * c * c + s * s,
            (4.0 - 1.0) * c * s,
            (4.0 - 1.0) * c * s,
            4.0 * s * s + c * c,
        ];
        let a = Moments {
            count: 2,
            mean: vec![0.0; 2],
            covariance: sa.to_vec(),
        };
        let b = Moments {
            count: 2,
            mean: vec![0.0; 2],
            covariance: vec![1.0, 0.0, 0.0, 1.0],
        };
        assert!((frechet_distance(&a, &b) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn moments_and_distance_grow_with_a_shift() {
        let x = gaussian_like(2000, 4, 2, 0.0, 1.0);
        let y = gaussian_like(2000, 4, 3, 0.5, 1.0);
        let (mx, my) = (Moments::of(&x, 4), Moments::of(&y, 4));
        assert!((mx.covariance[0] - 1.0).abs() < 0.1, "{}", mx.covariance[0]);
        let d = frechet_distance(&mx, &my);
        assert!((d - 4.0 * 0.25).abs() < 0.15, "shift of 0.5 on 4 axes: {d}");
    }
}
