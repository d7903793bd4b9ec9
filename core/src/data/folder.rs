//! Image folders: PNG and JPEG files found recursively; when images sit in sub-folders, the
//! first-level sub-folder names the class. Every tenth image (in sorted path order) is held out as
//! the test split.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;

use super::{ImageSet, from_rgb_image};
use crate::error::{Error, Result};

/// Every `HOLD_OUT`-th image goes to the test split.
const HOLD_OUT: usize = 10;

/// Most images a folder may contribute (guards memory against pointing at `/`).
const MAX_IMAGES: usize = 500_000;

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.map(|e| e.path()).map_err(|err| Error::io(dir, err)))
        .collect::<Result<_>>()?;
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(&path, out)?;
        } else if is_image(&path) {
            out.push(path);
            if out.len() > MAX_IMAGES {
                return Err(Error::Dataset(format!(
                    "{}: more than {MAX_IMAGES} images; point at a smaller folder",
                    dir.display()
                )));
            }
        }
    }
    Ok(())
}

/// Resizes so the shorter side is `size` (Lanczos), then crops the centre square.
pub fn resize_centre_crop(img: &image::RgbImage, size: usize) -> image::RgbImage {
    let (w, h) = (img.width() as f64, img.height() as f64);
    let scale = size as f64 / w.min(h);
    let (nw, nh) = (
        ((w * scale).round() as u32).max(size as u32),
        ((h * scale).round() as u32).max(size as u32),
    );
    let resized = if (nw, nh) == (img.width(), img.height()) {
        img.clone()
    } else {
        image::imageops::resize(img, nw, nh, FilterType::Lanczos3)
    };
    let (x, y) = ((nw - size as u32) / 2, (nh - size as u32) / 2);
    image::imageops::crop_imm(&resized, x, y, size as u32, size as u32).to_image()
}

/// Loads a folder at `size` × `size` RGB; returns (train, test).
pub fn load_folder(dir: &Path, size: usize) -> Result<(ImageSet, ImageSet)> {
    if !dir.is_dir() {
        return Err(Error::Dataset(format!("{}: no such folder", dir.display())));
    }
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    if files.is_empty() {
        return Err(Error::Dataset(format!(
            "{}: no PNG or JPEG image found (searched recursively)",
            dir.display()
        )));
    }
    let class_of = |p: &Path| -> Option<String> {
        let rel = p.strip_prefix(dir).ok()?;
        let mut comps = rel.components();
        let first = comps.next()?;
        comps
            .next()
            .map(|_| first.as_os_str().to_string_lossy().into_owned())
    };
    let with_classes = files.iter().any(|p| class_of(p).is_some());
    let mut class_names: Vec<String> = if with_classes {
        files
            .iter()
            .map(|p| class_of(p).unwrap_or_else(|| ".".into()))
            .collect()
    } else {
        Vec::new()
    };
    class_names.sort();
    class_names.dedup();

    let mut sets = [Vec::new(), Vec::new()].map(|px: Vec<u8>| (px, Vec::new()));
    for (i, path) in files.iter().enumerate() {
        let img = image::open(path)
            .map_err(|e| Error::format(path, "a readable PNG or JPEG image", e.to_string()))?
            .to_rgb8();
        let square = resize_centre_crop(&img, size);
        let (pixels, labels) = &mut sets[usize::from(i % HOLD_OUT == HOLD_OUT - 1)];
        pixels.extend(from_rgb_image(&square, 3));
        if with_classes {
            let class = class_of(path).unwrap_or_else(|| ".".into());
            labels.push(class_names.binary_search(&class).unwrap_or(0) as u32);
        }
    }
    let [(train_px, train_lb), (test_px, test_lb)] = sets;
    let make = |pixels, labels: Vec<u32>| ImageSet {
        channels: 3,
        height: size,
        width: size,
        pixels,
        labels: with_classes.then_some(labels),
        captions: None,
        class_names: class_names.clone(),
    };
    Ok((make(train_px, train_lb), make(test_px, test_lb)))
}
