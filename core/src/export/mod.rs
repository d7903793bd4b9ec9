//! Writing images out: PNG grids, one PNG per sample, and looping GIFs of GRAN's drawing.

pub mod bundle;

use std::path::{Path, PathBuf};

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame};

use crate::error::{Error, Result};
use crate::images::ImageBatch;

/// Creates `dir` and its parents.
pub fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// Saves an RGBA picture as PNG.
pub fn save_png(img: &image::RgbaImage, path: &Path) -> Result<()> {
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| Error::Image {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// Saves a batch as one grid PNG.
/// Written atomically: a run's follower (another process, perhaps over NFS) sees the old set of
/// grids or the new one whole, never half a PNG.
pub fn save_grid(batch: &ImageBatch, columns: usize, path: &Path) -> Result<()> {
    let mut bytes = Vec::new();
    batch
        .to_grid(columns, 2)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| Error::Image {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    crate::sealed::write_atomically(path, &bytes)
}

/// Saves each image of a batch as `prefix-00000.png` in `dir`; returns the paths.
pub fn save_each(
    batch: &ImageBatch,
    dir: &Path,
    prefix: &str,
    first_index: usize,
) -> Result<Vec<PathBuf>> {
    create_dir(dir)?;
    (0..batch.count)
        .map(|i| {
            let path = dir.join(format!("{prefix}-{:05}.png", first_index + i));
            save_png(&batch.to_rgba(i), &path).map(|_| path)
        })
        .collect()
}

/// Saves frames (e.g. the canvases C_1..C_T, each tiled as a grid) as an infinitely looping GIF,
/// `frame_ms` per frame, with the last frame held three times as long.
pub fn save_gif(frames: &[image::RgbaImage], frame_ms: u32, path: &Path) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut encoder = GifEncoder::new_with_speed(std::io::BufWriter::new(file), 10);
    let image_err = |e: image::ImageError| Error::Image {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    encoder.set_repeat(Repeat::Infinite).map_err(image_err)?;
    for (i, frame) in frames.iter().enumerate() {
        let ms = if i + 1 == frames.len() {
            3 * frame_ms
        } else {
            frame_ms
        };
        encoder
            .encode_frame(Frame::from_parts(
                frame.clone(),
                0,
                0,
                Delay::from_numer_denom_ms(ms, 1),
            ))
            .map_err(image_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_and_gif_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let batch = ImageBatch {
            count: 3,
            channels: 1,
            height: 4,
            width: 4,
            pixels: (0..48).map(|i| i as f32 / 47.0).collect(),
        };
        let grid = dir.path().join("g.png");
        save_grid(&batch, 2, &grid).unwrap();
        let back = image::open(&grid).unwrap();
        assert_eq!((back.width(), back.height()), (2 * 6 + 2, 2 * 6 + 2));
        let each = save_each(&batch, dir.path(), "s", 0).unwrap();
        assert_eq!(each.len(), 3);
        let first = image::open(&each[0]).unwrap().to_luma8();
        assert_eq!(first.get_pixel(0, 0).0[0], 0);
        let gif = dir.path().join("a.gif");
        save_gif(&[batch.to_grid(3, 1), batch.to_grid(3, 1)], 100, &gif).unwrap();
        let decoder = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(
            std::fs::File::open(&gif).unwrap(),
        ))
        .unwrap();
        use image::AnimationDecoder;
        assert_eq!(decoder.into_frames().count(), 2);
    }
}
