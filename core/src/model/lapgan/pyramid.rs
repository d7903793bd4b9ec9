//! The Laplacian pyramid of LAPGAN (Denton et al. 2015, "Deep generative image models using a
//! Laplacian pyramid of adversarial networks", §3.1).
//!
//! `d(·)` blurs with the 5-tap binomial kernel `[1, 4, 6, 4, 1] / 16` in each direction and keeps
//! every other pixel (a side `n` becomes `⌈n / 2⌉`); `u(·)` is its smoothing expansion back to a
//! given side. With `I_0` the image and `I_{k+1} = d(I_k)`, the band-pass coefficients are
//! `h_k = I_k − u(I_{k+1})` and the coarsest level keeps the low-pass image `I_K`; reconstruction
//! runs the recurrence `I_k = u(I_{k+1}) + h_k` from coarse to fine and is exact by construction
//! (to float rounding).
//!
//! Both operators are separable linear maps, applied as two small matrix products per image
//! (rows then columns). At the borders the taps that fall outside the image are dropped and the
//! rest renormalised, so a constant image stays constant under both `d` and `u` at any side,
//! odd sides included (7 → 4, and 4 → 7 back). Everything is a tensor operation on the model's
//! device, differentiable, with no learned parameters.

use burn::prelude::*;

use crate::error::{Error, Result};

/// The binomial blur kernel, `[1, 4, 6, 4, 1] / 16`, centred on index 2.
const BINOMIAL: [f32; 5] = [1.0, 4.0, 6.0, 4.0, 1.0];

/// The sides of a pyramid's levels, finest first: `sides[0]` is the image's side and each next
/// one is `⌈side / 2⌉`. `levels` counts them all (the finest image is level 0).
pub fn level_sides(side: usize, levels: usize) -> Result<Vec<usize>> {
    if levels == 0 {
        return Err(Error::config(
            "model.levels",
            "a pyramid needs at least one level",
        ));
    }
    let mut sides = vec![side];
    while sides.len() < levels {
        let last = *sides.last().expect("starts with one side");
        if last < 4 {
            return Err(Error::config(
                "model.levels",
                format!(
                    "{levels} levels of a {side}-pixel image would go below 2 pixels \
                     (sides so far {sides:?})"
                ),
            ));
        }
        sides.push(last.div_ceil(2));
    }
    Ok(sides)
}

/// The `[⌈n/2⌉, n]` matrix of `d` along one axis: row `i` blurs around pixel `2i`.
fn reduce_matrix(n: usize) -> Vec<f32> {
    let m = n.div_ceil(2);
    let mut a = vec![0.0; m * n];
    for i in 0..m {
        let row = &mut a[i * n..(i + 1) * n];
        for (tap, &w) in BINOMIAL.iter().enumerate() {
            if let Some(j) = (2 * i + tap).checked_sub(2).filter(|&j| j < n) {
                row[j] = w;
            }
        }
        normalise(row);
    }
    a
}

/// The `[n, m]` matrix of `u` along one axis, from `m` coarse pixels to `n` fine ones: fine pixel
/// `j` blends the coarse pixels whose centres `2i` lie within two of it, with the binomial weights.
fn expand_matrix(n: usize, m: usize) -> Vec<f32> {
    let mut e = vec![0.0; n * m];
    for j in 0..n {
        let row = &mut e[j * m..(j + 1) * m];
        for (i, cell) in row.iter_mut().enumerate() {
            let offset = j as isize - 2 * i as isize;
            if offset.abs() <= 2 {
                *cell = BINOMIAL[(offset + 2) as usize];
            }
        }
        normalise(row);
    }
    e
}

fn normalise(row: &mut [f32]) {
    let sum: f32 = row.iter().sum();
    if sum > 0.0 {
        row.iter_mut().for_each(|w| *w /= sum);
    }
}

/// Applies `rows` (`[h_out, h]`) along the height and `cols` (`[w_out, w]`) along the width.
///
/// # Shapes
/// - `x`: `[batch, channels, h, w]`; output `[batch, channels, h_out, w_out]`
fn separable(x: Tensor<4>, rows: (&[f32], usize), cols: (&[f32], usize)) -> Tensor<4> {
    let [batch, channels, h, w] = x.dims();
    let (h_out, w_out) = (rows.1, cols.1);
    let device = x.device();
    let matrix = |values: &[f32], out: usize, len: usize| {
        // Transposed, so that `x · Mᵀ` applies M along the last axis.
        Tensor::<2>::from_data(TensorData::new(values.to_vec(), [out, len]), &device).transpose()
    };
    let x = x
        .reshape([batch * channels * h, w])
        .matmul(matrix(cols.0, w_out, w)) // [b·c·h, w_out]
        .reshape([batch, channels, h, w_out])
        .swap_dims(2, 3) // [b, c, w_out, h]
        .reshape([batch * channels * w_out, h])
        .matmul(matrix(rows.0, h_out, h)) // [b·c·w_out, h_out]
        .reshape([batch, channels, w_out, h_out]);
    x.swap_dims(2, 3) // [b, c, h_out, w_out]
}

/// `d(·)`: blur and halve. `[b, c, h, w] → [b, c, ⌈h/2⌉, ⌈w/2⌉]`.
pub fn downsample(x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let (rows, cols) = (reduce_matrix(h), reduce_matrix(w));
    separable(x, (&rows, h.div_ceil(2)), (&cols, w.div_ceil(2)))
}

/// `u(·)`: expand and smooth to `side × side`, the inverse direction of [`downsample`]
/// (`⌈side / 2⌉` must be the input's side). `[b, c, ⌈side/2⌉, ⌈side/2⌉] → [b, c, side, side]`.
pub fn upsample(x: Tensor<4>, side: usize) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    assert!(
        h == side.div_ceil(2) && w == side.div_ceil(2),
        "upsample to {side} needs a {0}×{0} input, found {h}×{w}",
        side.div_ceil(2)
    );
    let e = expand_matrix(side, h);
    separable(x, (&e, side), (&e, side))
}

/// A Laplacian pyramid: the band-pass images, finest first, and the coarsest low-pass image.
#[derive(Debug, Clone)]
pub struct Laplacian {
    /// `h_0 … h_{K−1}`: `h_k = I_k − u(I_{k+1})`, each at level k's side.
    pub bands: Vec<Tensor<4>>,
    /// `I_K`, the low-pass image at the coarsest side.
    pub low: Tensor<4>,
}

impl Laplacian {
    /// Decomposes `images` into `levels` levels (`levels − 1` band-pass images and the low-pass
    /// one); `levels = 1` keeps the image itself as the low-pass level.
    ///
    /// # Shapes
    /// - `images`: `[batch, channels, side, side]`
    pub fn decompose(images: Tensor<4>, levels: usize) -> Result<Self> {
        let [_, _, h, w] = images.dims();
        if h != w {
            return Err(Error::config(
                "model.image_size",
                format!("the pyramid needs square images, found {h}×{w}"),
            ));
        }
        let sides = level_sides(h, levels)?;
        let mut bands = Vec::with_capacity(levels - 1);
        let mut current = images;
        for &side in &sides[..levels - 1] {
            let coarser = downsample(current.clone());
            bands.push(current - upsample(coarser.clone(), side)); // h_k = I_k − u(I_{k+1})
            current = coarser;
        }
        Ok(Self {
            bands,
            low: current,
        })
    }

    /// The Gaussian levels `I_0 … I_K`, finest first, rebuilt coarse to fine.
    pub fn images(&self) -> Vec<Tensor<4>> {
        let mut images = vec![self.low.clone()];
        for band in self.bands.iter().rev() {
            let side = band.dims()[2];
            let coarser = images
                .last()
                .expect("starts with the low-pass image")
                .clone();
            images.push(upsample(coarser, side) + band.clone()); // I_k = u(I_{k+1}) + h_k
        }
        images.reverse();
        images
    }

    /// The image, reconstructed: `I_0`.
    pub fn reconstruct(&self) -> Tensor<4> {
        self.images().swap_remove(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn values(x: Tensor<4>) -> Vec<f32> {
        x.into_data().try_to_vec::<f32>().unwrap()
    }

    fn max_difference(a: Tensor<4>, b: Tensor<4>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    #[test]
    fn sides_halve_rounding_up_and_refuse_to_vanish() {
        assert_eq!(level_sides(28, 3).unwrap(), vec![28, 14, 7]);
        assert_eq!(level_sides(32, 3).unwrap(), vec![32, 16, 8]);
        assert_eq!(level_sides(28, 4).unwrap(), vec![28, 14, 7, 4]);
        assert_eq!(level_sides(28, 1).unwrap(), vec![28]);
        let err = level_sides(8, 5).unwrap_err().to_string();
        assert!(err.contains("model.levels"), "{err}");
        assert!(level_sides(28, 0).is_err());
    }

    #[test]
    fn reconstruction_is_exact_for_grey_colour_and_odd_sides() {
        let device = Device::flex();
        for (channels, side, levels) in [(1, 28, 3), (3, 32, 3), (3, 28, 4), (1, 13, 3), (1, 9, 1)]
        {
            let images = Tensor::<4>::random(
                [4, channels, side, side],
                Distribution::Uniform(-1.0, 1.0),
                &device,
            );
            let pyramid = Laplacian::decompose(images.clone(), levels).unwrap();
            assert_eq!(pyramid.bands.len(), levels - 1);
            let sides = level_sides(side, levels).unwrap();
            for (band, &s) in pyramid.bands.iter().zip(&sides) {
                assert_eq!(band.dims(), [4, channels, s, s]);
            }
            assert_eq!(
                pyramid.low.dims(),
                [4, channels, sides[levels - 1], sides[levels - 1]]
            );
            let error = max_difference(pyramid.reconstruct(), images);
            assert!(
                error < 1e-5,
                "{channels}×{side}², {levels} levels: reconstruction off by {error}"
            );
        }
    }

    #[test]
    fn constants_stay_constant_and_the_blur_keeps_the_mean() {
        let device = Device::flex();
        for side in [7, 8, 14, 13] {
            let flat = Tensor::<4>::full([1, 2, side, side], 0.375, &device);
            let down = downsample(flat.clone());
            assert!(
                values(down.clone())
                    .iter()
                    .all(|v| (v - 0.375).abs() < 1e-6)
            );
            let up = upsample(down, side);
            assert!(values(up).iter().all(|v| (v - 0.375).abs() < 1e-6));
        }
        // A flat image has no band-pass content at all.
        let flat = Tensor::<4>::full([1, 1, 28, 28], -0.5, &device);
        let pyramid = Laplacian::decompose(flat, 3).unwrap();
        for band in pyramid.bands {
            assert!(band.abs().max().into_scalar::<f32>() < 1e-6);
        }
    }

    #[test]
    fn downsampling_blurs_with_the_binomial_kernel() {
        // One bright pixel at (8, 8) of a 16 × 16 image lands on coarse pixel (4, 4) with weight
        // (6/16)², and on its neighbour (4, 5) — fine column 10, two taps away — with (6/16)(1/16);
        // in all, each axis passes (6 + 1 + 1)/16 of it on.
        let device = Device::flex();
        let mut pixels = vec![0.0f32; 256];
        pixels[8 * 16 + 8] = 1.0;
        let x = Tensor::<4>::from_data(TensorData::new(pixels, [1, 1, 16, 16]), &device);
        let d = values(downsample(x));
        assert!(
            (d[4 * 8 + 4] - 36.0 / 256.0).abs() < 1e-6,
            "{}",
            d[4 * 8 + 4]
        );
        assert!(
            (d[4 * 8 + 5] - 6.0 / 256.0).abs() < 1e-6,
            "{}",
            d[4 * 8 + 5]
        );
        assert!((d.iter().sum::<f32>() - 64.0 / 256.0).abs() < 1e-6);
        // At the border the missing taps are dropped and the rest renormalised: coarse column 0
        // reads fine columns 0, 1, 2 with weights 6, 4, 1 (of 11).
        let row: Vec<f32> = (0..16).map(|j| if j == 1 { 1.0 } else { 0.0 }).collect();
        let x = Tensor::<4>::from_data(TensorData::new(row.repeat(16), [1, 1, 16, 16]), &device);
        let d = values(downsample(x));
        assert!((d[0] - 4.0 / 11.0).abs() < 1e-6, "{}", d[0]);
    }

    #[test]
    fn band_pass_of_a_smooth_ramp_is_small_and_of_an_edge_is_not() {
        let device = Device::flex();
        let ramp: Vec<f32> = (0..28 * 28).map(|i| (i % 28) as f32 / 27.0).collect();
        let ramp = Tensor::<4>::from_data(TensorData::new(ramp, [1, 1, 28, 28]), &device);
        let edge: Vec<f32> = (0..28 * 28).map(|i| f32::from(i % 28 >= 14)).collect();
        let edge = Tensor::<4>::from_data(TensorData::new(edge, [1, 1, 28, 28]), &device);
        // Away from the borders (where the truncated kernel is lopsided) both operators
        // reproduce a linear ramp exactly, so its band-pass image is zero there.
        let interior = |x: Tensor<4>| {
            let p = Laplacian::decompose(x, 2).unwrap();
            p.bands[0]
                .clone()
                .slice([0..1, 0..1, 4..24, 4..24])
                .abs()
                .max()
                .into_scalar::<f32>()
        };
        let (smooth, sharp) = (interior(ramp), interior(edge));
        assert!(smooth < 1e-5 && sharp > 0.2, "ramp {smooth}, edge {sharp}");
    }
}
