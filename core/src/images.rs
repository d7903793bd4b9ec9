//! A batch of images as plain `f32` in `[0, 1]`, detached from any device: what samples, canvases
//! and sample grids travel as between the engine, the exporters, the CLI and the studio.

use burn::prelude::*;

use crate::error::{Error, Result};

/// `count` images of `channels` × `height` × `width`, planar, values in `[0, 1]`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImageBatch {
    /// Number of images.
    pub count: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
    /// `count × channels × height × width` values.
    pub pixels: Vec<f32>,
}

impl ImageBatch {
    /// Reads a `[count, channels, height, width]` tensor back from its device.
    pub fn from_tensor(tensor: Tensor<4>) -> Self {
        let [count, channels, height, width] = tensor.dims();
        let pixels = tensor
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("a converted f32 tensor reads back as f32");
        Self {
            count,
            channels,
            height,
            width,
            pixels,
        }
    }

    /// A signed update (ΔC) mapped to `[0, 1]` image by image, by `0.5 + x / (2 · max |x|)`, so 0
    /// is mid-grey and each image uses the full range.
    pub fn from_signed_tensor(tensor: Tensor<4>) -> Self {
        let mut batch = Self::from_tensor(tensor);
        let len = batch.image_len().max(1);
        for image in batch.pixels.chunks_mut(len) {
            let max = image.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
            for v in image {
                *v = 0.5 + *v / (2.0 * max);
            }
        }
        batch
    }

    /// Values per image.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Image `index` as an RGBA8 picture.
    pub fn to_rgba(&self, index: usize) -> image::RgbaImage {
        let plane = self.height * self.width;
        let base = index * self.image_len();
        let px = |c: usize, p: usize| {
            let v = self.pixels[base + c * plane + p];
            (v.clamp(0.0, 1.0) * 255.0).round() as u8
        };
        image::RgbaImage::from_fn(self.width as u32, self.height as u32, |x, y| {
            let p = y as usize * self.width + x as usize;
            if self.channels == 1 {
                let g = px(0, p);
                image::Rgba([g, g, g, 255])
            } else {
                image::Rgba([px(0, p), px(1, p), px(2, p), 255])
            }
        })
    }

    /// All images tiled in a grid of `columns` (rows as needed), `gap` pixels apart on black.
    pub fn to_grid(&self, columns: usize, gap: usize) -> image::RgbaImage {
        let columns = columns.clamp(1, self.count.max(1));
        let rows = self.count.div_ceil(columns).max(1);
        let (w, h) = (self.width + gap, self.height + gap);
        let mut grid = image::RgbaImage::from_pixel(
            (columns * w + gap) as u32,
            (rows * h + gap) as u32,
            image::Rgba([0, 0, 0, 255]),
        );
        for i in 0..self.count {
            let (x, y) = (gap + (i % columns) * w, gap + (i / columns) * h);
            image::imageops::replace(&mut grid, &self.to_rgba(i), x as i64, y as i64);
        }
        grid
    }

    /// Scales every image up by an integer `factor` (nearest neighbour), for viewing small images.
    pub fn upscaled_grid(&self, columns: usize, factor: u32) -> image::RgbaImage {
        let grid = self.to_grid(columns, 1);
        image::imageops::resize(
            &grid,
            grid.width() * factor,
            grid.height() * factor,
            image::imageops::FilterType::Nearest,
        )
    }

    /// A sensible number of grid columns: the ceiling of the square root.
    pub fn square_columns(&self) -> usize {
        (self.count as f64).sqrt().ceil().max(1.0) as usize
    }

    /// Checks the pixel count against the declared shape.
    pub fn check(&self) -> Result<()> {
        if self.pixels.len() != self.count * self.image_len() {
            return Err(Error::Dataset(format!(
                "image batch: expected {} values for {}×{}×{}×{}, found {}",
                self.count * self.image_len(),
                self.count,
                self.channels,
                self.height,
                self.width,
                self.pixels.len()
            )));
        }
        Ok(())
    }

    /// Image `index`'s colour statistics over its pixels: the mean of each channel, and the
    /// channels' covariance (row-major `channels × channels`, divided by the pixel count).
    pub fn colour_moments(&self, index: usize) -> (Vec<f64>, Vec<f64>) {
        let (c, n) = (self.channels, self.height * self.width);
        let image = &self.pixels[index * self.image_len()..(index + 1) * self.image_len()];
        let mean: Vec<f64> = (0..c)
            .map(|k| {
                image[k * n..(k + 1) * n]
                    .iter()
                    .map(|&v| f64::from(v))
                    .sum::<f64>()
                    / n as f64
            })
            .collect();
        let mut cov = vec![0.0; c * c];
        for a in 0..c {
            for b in 0..c {
                let sum: f64 = (0..n)
                    .map(|p| {
                        (f64::from(image[a * n + p]) - mean[a])
                            * (f64::from(image[b * n + p]) - mean[b])
                    })
                    .sum();
                cov[a * c + b] = sum / n as f64;
            }
        }
        (mean, cov)
    }
}

/// StackGAN++'s colour-consistency gap between two drawings of the same images at two scales:
/// the mean over images of ‖μ_a − μ_b‖² and of ‖Σ_a − Σ_b‖²_F (pixel values in [0, 1]).
pub fn colour_gap(a: &ImageBatch, b: &ImageBatch) -> (f64, f64) {
    let count = a.count.min(b.count);
    if count == 0 || a.channels != b.channels {
        return (0.0, 0.0);
    }
    let (mut mean_gap, mut cov_gap) = (0.0, 0.0);
    for i in 0..count {
        let ((ma, ca), (mb, cb)) = (a.colour_moments(i), b.colour_moments(i));
        mean_gap += ma
            .iter()
            .zip(&mb)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f64>();
        cov_gap += ca
            .iter()
            .zip(&cb)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f64>();
    }
    (mean_gap / count as f64, cov_gap / count as f64)
}
