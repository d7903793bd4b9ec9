//! Turning Easel's images into egui textures: sample grids, single images and signed updates
//! shown with a diverging colour map.

use easel_core::images::ImageBatch;
use egui::{ColorImage, TextureHandle, TextureOptions};

/// Uploads an RGBA picture.
pub fn upload(ctx: &egui::Context, name: &str, img: &image::RgbaImage) -> TextureHandle {
    let size = [img.width() as usize, img.height() as usize];
    ctx.load_texture(
        name,
        ColorImage::from_rgba_unmultiplied(size, img.as_raw()),
        TextureOptions::NEAREST,
    )
}

/// Uploads a batch tiled as a grid of `columns`.
pub fn upload_grid(
    ctx: &egui::Context,
    name: &str,
    batch: &ImageBatch,
    columns: usize,
) -> TextureHandle {
    upload(ctx, name, &batch.to_grid(columns, 1))
}

/// A blue–white–red map of a value in [0, 1] where 0.5 is white (0 update).
pub fn diverging(v: f32) -> [u8; 3] {
    let x = (v.clamp(0.0, 1.0) - 0.5) * 2.0; // -1..1
    let t = x.abs();
    let (r, g, b) = if x < 0.0 {
        (1.0 - 0.8 * t, 1.0 - 0.6 * t, 1.0)
    } else {
        (1.0, 1.0 - 0.7 * t, 1.0 - 0.8 * t)
    };
    [(r * 255.0) as u8, (g * 255.0) as u8, (b * 255.0) as u8]
}

/// A signed-update batch (0.5 = no change) coloured channel-averaged with [`diverging`].
pub fn heatmap(batch: &ImageBatch) -> ImageBatch {
    let plane = batch.height * batch.width;
    let mut pixels = Vec::with_capacity(batch.count * 3 * plane);
    for i in 0..batch.count {
        let base = i * batch.image_len();
        let mut rgb = vec![0f32; 3 * plane];
        for p in 0..plane {
            let v = (0..batch.channels)
                .map(|c| batch.pixels[base + c * plane + p])
                .sum::<f32>()
                / batch.channels as f32;
            let [r, g, b] = diverging(v);
            rgb[p] = f32::from(r) / 255.0;
            rgb[plane + p] = f32::from(g) / 255.0;
            rgb[2 * plane + p] = f32::from(b) / 255.0;
        }
        pixels.extend(rgb);
    }
    ImageBatch {
        count: batch.count,
        channels: 3,
        height: batch.height,
        width: batch.width,
        pixels,
    }
}
