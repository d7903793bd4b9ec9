//! Image folders: PNG and JPEG files found recursively; when images sit in sub-folders, the
//! first-level sub-folder names the class. Every tenth image (in sorted path order) is held out as
//! the test split.
//!
//! Captions, when the folder has them, in either layout:
//! - as the StackGAN repositories lay out CUB-200 and Oxford-102: `images/<class>/x.jpg` with a
//!   parallel `text/<class>/x.txt` (or `text_c10/`), one caption per line;
//! - `x.png` beside `x.txt`.
//!
//! A folder with captions must pair every image with a caption file and every caption file with
//! an image; the error names the first file without its partner.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;

use super::captions::{CaptionPool, Captions, read_caption_file};
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

fn is_text(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("txt"))
}

/// The image and caption files below `dir`, each list in sorted path order.
#[derive(Default)]
struct Found {
    images: Vec<PathBuf>,
    texts: Vec<PathBuf>,
}

fn walk(dir: &Path, out: &mut Found) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.map(|e| e.path()).map_err(|err| Error::io(dir, err)))
        .collect::<Result<_>>()?;
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(&path, out)?;
        } else if is_text(&path) {
            out.texts.push(path);
            if out.texts.len() > MAX_IMAGES {
                return Err(Error::Dataset(format!(
                    "{}: more than {MAX_IMAGES} caption files; point at a smaller folder",
                    dir.display()
                )));
            }
        } else if is_image(&path) {
            out.images.push(path);
            if out.images.len() > MAX_IMAGES {
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

/// Where a folder's images and captions are.
struct Layout {
    /// The folder the images (and their class sub-folders) are under.
    images: PathBuf,
    /// The parallel caption tree (`text/`), when the folder is laid out as CUB-200.
    texts: Option<PathBuf>,
}

impl Layout {
    fn of(dir: &Path) -> Layout {
        let images = dir.join("images");
        let texts = ["text", "text_c10"]
            .map(|t| dir.join(t))
            .into_iter()
            .find(|t| t.is_dir());
        match texts {
            Some(texts) if images.is_dir() => Layout {
                images,
                texts: Some(texts),
            },
            _ => Layout {
                images: dir.to_path_buf(),
                texts: None,
            },
        }
    }

    /// Where the caption file of `image` would be.
    fn caption_of(&self, image: &Path) -> PathBuf {
        match &self.texts {
            Some(texts) => texts
                .join(image.strip_prefix(&self.images).unwrap_or(image))
                .with_extension("txt"),
            None => image.with_extension("txt"),
        }
    }
}

/// The caption file of each image (`None` when the folder has no captions), checking that images
/// and caption files pair up.
fn pair_captions(layout: &Layout, found: &Found) -> Result<Option<Vec<PathBuf>>> {
    let paired: Vec<PathBuf> = found.images.iter().map(|i| layout.caption_of(i)).collect();
    let texts: std::collections::HashSet<&PathBuf> = found.texts.iter().collect();
    let has = paired.iter().filter(|p| texts.contains(p)).count();
    if has == 0 && layout.texts.is_none() {
        return Ok(None);
    }
    if let Some((image, text)) = found
        .images
        .iter()
        .zip(&paired)
        .find(|(_, t)| !texts.contains(t))
    {
        return Err(Error::Dataset(format!(
            "{}: this folder has captions, but this image has none (expected {})",
            image.display(),
            text.display()
        )));
    }
    let wanted: std::collections::HashSet<&PathBuf> = paired.iter().collect();
    if let Some(orphan) = found.texts.iter().find(|t| !wanted.contains(t)) {
        return Err(Error::Dataset(format!(
            "{}: a caption file with no image of the same name",
            orphan.display()
        )));
    }
    Ok(Some(paired))
}

/// What a folder holds, before any image is decoded: its image files in sorted order, each one's
/// caption file (when the folder has captions) and class (when images sit in sub-folders).
struct Scan {
    files: Vec<PathBuf>,
    caption_files: Option<Vec<PathBuf>>,
    /// The class of each file, indexing `class_names`; empty without classes.
    labels: Vec<u32>,
    class_names: Vec<String>,
}

impl Scan {
    fn of(dir: &Path) -> Result<Scan> {
        if !dir.is_dir() {
            return Err(Error::Dataset(format!("{}: no such folder", dir.display())));
        }
        let layout = Layout::of(dir);
        let mut found = Found::default();
        walk(&layout.images, &mut found)?;
        if let Some(texts) = &layout.texts {
            walk(texts, &mut found)?;
        }
        if found.images.is_empty() {
            return Err(Error::Dataset(format!(
                "{}: no PNG or JPEG image found (searched recursively)",
                layout.images.display()
            )));
        }
        let caption_files = pair_captions(&layout, &found)?;
        let root = layout.images.as_path();
        let class_of = |p: &Path| -> Option<String> {
            let rel = p.strip_prefix(root).ok()?;
            let mut comps = rel.components();
            let first = comps.next()?;
            comps
                .next()
                .map(|_| first.as_os_str().to_string_lossy().into_owned())
        };
        let classes: Vec<Option<String>> = found.images.iter().map(|p| class_of(p)).collect();
        let (labels, class_names) = if classes.iter().any(Option::is_some) {
            let named: Vec<String> = classes
                .into_iter()
                .map(|c| c.unwrap_or_else(|| ".".into()))
                .collect();
            let mut names = named.clone();
            names.sort();
            names.dedup();
            let labels = named
                .iter()
                .map(|c| names.binary_search(c).unwrap_or(0) as u32)
                .collect();
            (labels, names)
        } else {
            (Vec::new(), Vec::new())
        };
        Ok(Scan {
            files: found.images,
            caption_files,
            labels,
            class_names,
        })
    }

    /// Whether file `i` is held out.
    fn held_out(i: usize) -> bool {
        i % HOLD_OUT == HOLD_OUT - 1
    }
}

/// Loads a folder at `size` × `size` RGB, with its captions when it has them; returns
/// (train, test).
pub fn load_folder(dir: &Path, size: usize) -> Result<(ImageSet, ImageSet)> {
    let scan = Scan::of(dir)?;
    let with_classes = !scan.labels.is_empty();
    let mut sets: [Split; 2] = Default::default();
    for (i, path) in scan.files.iter().enumerate() {
        let img = image::open(path)
            .map_err(|e| Error::format(path, "a readable PNG or JPEG image", e.to_string()))?
            .to_rgb8();
        let square = resize_centre_crop(&img, size);
        let split = &mut sets[usize::from(Scan::held_out(i))];
        split.pixels.extend(from_rgb_image(&square, 3));
        if with_classes {
            split.labels.push(scan.labels[i]);
        }
        if let Some(caption_files) = &scan.caption_files {
            split
                .captions
                .push_image(read_caption_file(&caption_files[i])?);
        }
    }
    let captioned = scan.caption_files.is_some();
    let make = |split: Split| ImageSet {
        channels: 3,
        height: size,
        width: size,
        pixels: split.pixels,
        labels: with_classes.then_some(split.labels),
        captions: captioned.then(|| split.captions.finish()),
        class_names: scan.class_names.clone(),
    };
    let [train, test] = sets;
    Ok((make(train), make(test)))
}

/// The first `limit` PNG and JPEG files below `dir` in sorted path order; none is an error.
pub fn image_paths(dir: &Path, limit: usize) -> Result<Vec<PathBuf>> {
    let mut found = Found::default();
    walk(dir, &mut found)?;
    if found.images.is_empty() {
        return Err(Error::Dataset(format!(
            "{}: no PNG or JPEG image in it or below it",
            dir.display()
        )));
    }
    found.images.truncate(limit);
    Ok(found.images)
}

/// The image `files` at `size` × `size` (shorter side resized, centre cropped) with `channels`
/// channels (1: grey by luma, 3: RGB), with no labels or captions: another program's samples,
/// for scoring.
pub fn load_image_files(files: &[PathBuf], size: usize, channels: usize) -> Result<ImageSet> {
    let mut pixels = Vec::with_capacity(files.len() * channels * size * size);
    for path in files {
        let img = image::open(path)
            .map_err(|e| Error::format(path, "a readable PNG or JPEG image", e.to_string()))?
            .to_rgb8();
        pixels.extend(from_rgb_image(&resize_centre_crop(&img, size), channels));
    }
    Ok(ImageSet {
        channels,
        height: size,
        width: size,
        pixels,
        labels: None,
        captions: None,
        class_names: Vec::new(),
    })
}

/// The captions (and classes, when the folder has them) of the first `limit` held-out images,
/// without decoding any image: what a text model's default prompts read.
pub fn held_out_captions(dir: &Path, limit: usize) -> Result<(Captions, Option<Vec<u32>>)> {
    let scan = Scan::of(dir)?;
    let caption_files = scan
        .caption_files
        .as_ref()
        .ok_or_else(|| Error::Dataset(format!("{}: this folder has no captions", dir.display())))?;
    let held: Vec<usize> = (0..scan.files.len())
        .filter(|&i| Scan::held_out(i))
        .take(limit)
        .collect();
    let mut pool = CaptionPool::default();
    for &i in &held {
        pool.push_image(read_caption_file(&caption_files[i])?);
    }
    let labels = (!scan.labels.is_empty()).then(|| held.iter().map(|&i| scan.labels[i]).collect());
    Ok((pool.finish(), labels))
}

/// One split's images as they are read.
#[derive(Default)]
struct Split {
    pixels: Vec<u8>,
    labels: Vec<u32>,
    captions: CaptionPool,
}
