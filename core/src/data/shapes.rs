//! The built-in procedural dataset: coloured shapes on plain backgrounds, each with a class label
//! (the shape) and an English caption ("a small red circle on a blue background"). Needs no file,
//! works at any size from 16 to 64, and is deterministic from its seed: image `i` depends only on
//! (seed, split, i), so a larger count extends a smaller one.

use std::sync::OnceLock;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::ImageSet;
use super::captions::CaptionPool;
use crate::error::{Error, Result};

/// The shapes, in label order.
pub const SHAPES: [&str; 6] = ["circle", "square", "triangle", "diamond", "cross", "ring"];

/// Named colours used for shapes and backgrounds.
pub const COLOURS: [(&str, [u8; 3]); 8] = [
    ("red", [220, 40, 40]),
    ("green", [40, 180, 60]),
    ("blue", [40, 80, 220]),
    ("yellow", [240, 220, 40]),
    ("purple", [150, 60, 190]),
    ("orange", [245, 140, 30]),
    ("white", [245, 245, 245]),
    ("black", [15, 15, 15]),
];

/// Size words and the shape's radius as a fraction of the image side.
pub const SIZES: [(&str, f32); 3] = [("small", 0.17), ("medium", 0.26), ("large", 0.36)];

/// Smallest and largest image side supported.
pub const SIZE_RANGE: (usize, usize) = (16, 64);

/// Default number of training images.
pub fn default_train_count() -> usize {
    10_000
}

/// Default number of test images.
pub fn default_test_count() -> usize {
    1_000
}

/// Which split an image belongs to; each split draws from its own stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The training split.
    Train,
    /// The held-out split.
    Test,
}

/// What one image shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShapeSpec {
    /// Index into [`SHAPES`].
    pub shape: usize,
    /// Index into [`COLOURS`] for the shape.
    pub colour: usize,
    /// Index into [`COLOURS`] for the background (never the shape's colour).
    pub background: usize,
    /// Index into [`SIZES`].
    pub size: usize,
    /// Centre, as fractions of the side.
    pub centre: (f32, f32),
}

impl ShapeSpec {
    /// Draws a random spec.
    pub fn random(rng: &mut impl Rng) -> Self {
        let shape = rng.random_range(0..SHAPES.len());
        let colour = rng.random_range(0..COLOURS.len());
        let background = (colour + rng.random_range(1..COLOURS.len())) % COLOURS.len();
        let size = rng.random_range(0..SIZES.len());
        Self::placed(shape, colour, background, size, rng)
    }

    /// The shape, colours and size given, at a random place where the shape fits: every image a
    /// caption naming all four describes, up to where it sits.
    pub fn placed(
        shape: usize,
        colour: usize,
        background: usize,
        size: usize,
        rng: &mut impl Rng,
    ) -> Self {
        let r = SIZES[size].1;
        let centre = (rng.random_range(r..1.0 - r), rng.random_range(r..1.0 - r));
        Self {
            shape,
            colour,
            background,
            size,
            centre,
        }
    }

    /// The canonical caption: "a small red circle on a blue background".
    pub fn caption(&self) -> String {
        format!(
            "a {} {} {} on a {} background",
            SIZES[self.size].0,
            COLOURS[self.colour].0,
            SHAPES[self.shape],
            COLOURS[self.background].0
        )
    }

    /// Several phrasings of what the image shows; the first is [`ShapeSpec::caption`].
    pub fn captions(&self) -> Vec<String> {
        let (size, colour, shape, background) = (
            SIZES[self.size].0,
            COLOURS[self.colour].0,
            SHAPES[self.shape],
            COLOURS[self.background].0,
        );
        vec![
            self.caption(),
            format!("a {colour} {shape} on {background}"),
            format!("{size} {colour} {shape} against a plain {background} backdrop"),
            format!("a {background} picture with a {size} {colour} {shape} in it"),
            format!("there is a {colour} {shape}, {size}, on a {background} background"),
        ]
    }

    fn inside(&self, x: f32, y: f32) -> bool {
        let r = SIZES[self.size].1;
        let (dx, dy) = ((x - self.centre.0) / r, (y - self.centre.1) / r);
        match self.shape {
            0 => dx * dx + dy * dy <= 1.0,
            1 => dx.abs() <= 0.85 && dy.abs() <= 0.85,
            2 => {
                // Equilateral, pointing up: apex (0, -1), base at y = 0.5.
                dy <= 0.5 && dx.abs() <= (dy + 1.0) / 1.5 * 0.866
            }
            3 => dx.abs() + dy.abs() <= 1.0,
            4 => (dx.abs() <= 0.33 && dy.abs() <= 1.0) || (dy.abs() <= 0.33 && dx.abs() <= 1.0),
            _ => {
                let d2 = dx * dx + dy * dy;
                (0.3..=1.0).contains(&d2)
            }
        }
    }

    /// Renders the spec at `side` × `side` as planar RGB, anti-aliased by 4×4 supersampling.
    pub fn render(&self, side: usize) -> Vec<u8> {
        const SS: usize = 4;
        let plane = side * side;
        let mut out = vec![0u8; 3 * plane];
        let (fg, bg) = (COLOURS[self.colour].1, COLOURS[self.background].1);
        for py in 0..side {
            for px in 0..side {
                let mut hits = 0;
                for sy in 0..SS {
                    for sx in 0..SS {
                        let x = (px as f32 + (sx as f32 + 0.5) / SS as f32) / side as f32;
                        let y = (py as f32 + (sy as f32 + 0.5) / SS as f32) / side as f32;
                        hits += usize::from(self.inside(x, y));
                    }
                }
                let a = hits as f32 / (SS * SS) as f32;
                for c in 0..3 {
                    let v = a * f32::from(fg[c]) + (1.0 - a) * f32::from(bg[c]);
                    out[c * plane + py * side + px] = v.round() as u8;
                }
            }
        }
        out
    }
}

/// The spec of image `index` of `split` under `seed`.
pub fn spec(seed: u64, split: Split, index: usize) -> ShapeSpec {
    let stream = match split {
        Split::Train => 0x5EED_0001u64,
        Split::Test => 0x5EED_0002u64,
    };
    let key = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(stream.wrapping_mul(0xD1B5_4A32_D192_ED03))
        .wrapping_add(index as u64);
    ShapeSpec::random(&mut ChaCha8Rng::seed_from_u64(key))
}

/// Generates `count` RGB images of `side` × `side`.
pub fn generate(side: usize, count: usize, seed: u64, split: Split) -> Result<ImageSet> {
    if !(SIZE_RANGE.0..=SIZE_RANGE.1).contains(&side) {
        return Err(Error::config(
            "model.image_size",
            format!(
                "the built-in shapes render at {}–{} pixels, found {side}",
                SIZE_RANGE.0, SIZE_RANGE.1
            ),
        ));
    }
    let mut pixels = Vec::with_capacity(count * 3 * side * side);
    let mut labels = Vec::with_capacity(count);
    let mut captions = CaptionPool::default();
    for i in 0..count {
        let s = spec(seed, split, i);
        pixels.extend(s.render(side));
        labels.push(s.shape as u32);
        captions.push_image(s.captions());
    }
    Ok(ImageSet {
        channels: 3,
        height: side,
        width: side,
        pixels,
        labels: Some(labels),
        captions: Some(captions.finish()),
        class_names: SHAPES.iter().map(|s| s.to_string()).collect(),
    })
}

/// What a sentence asks of a shapes image, as far as it names it: the shape, the shape's colour
/// (the colour word just before the shape word, as every shapes caption puts it), the
/// background (another colour word) and the size (a size word).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asked {
    /// Index into [`SHAPES`].
    pub shape: usize,
    /// Index into [`COLOURS`], when named.
    pub colour: Option<usize>,
    /// Index into [`COLOURS`], when named.
    pub background: Option<usize>,
    /// Index into [`SIZES`], when named.
    pub size: Option<usize>,
}

impl Asked {
    /// An image the sentence describes, at a random place: `None` unless it names both colours
    /// and the size.
    pub fn placed(&self, rng: &mut impl Rng) -> Option<ShapeSpec> {
        let (colour, background, size) = (self.colour?, self.background?, self.size?);
        Some(ShapeSpec::placed(self.shape, colour, background, size, rng))
    }
}

/// Reads a sentence as [`Asked`]; `None` when it names no shape.
pub fn read_caption(text: &str) -> Option<Asked> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .collect();
    let colour_of = |w: &str| COLOURS.iter().position(|(name, _)| *name == w);
    let at = words.iter().position(|w| SHAPES.contains(w))?;
    let shape = SHAPES.iter().position(|s| *s == words[at])?;
    let colour = at.checked_sub(1).and_then(|i| colour_of(words[i]));
    let background = words
        .iter()
        .enumerate()
        .filter(|&(i, _)| colour.is_none() || i + 1 != at)
        .find_map(|(_, w)| colour_of(w));
    let size = words
        .iter()
        .find_map(|w| SIZES.iter().position(|(name, _)| name == w));
    Some(Asked {
        shape,
        colour,
        background,
        size,
    })
}

/// The named colour nearest to `rgb` (0–255 per channel).
fn nearest_colour(rgb: [f32; 3]) -> usize {
    let d = |c: &[u8; 3]| (0..3).map(|k| (rgb[k] - c[k] as f32).powi(2)).sum::<f32>();
    (0..COLOURS.len())
        .min_by(|&a, &b| d(&COLOURS[a].1).total_cmp(&d(&COLOURS[b].1)))
        .unwrap_or(0)
}

fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// What the pixels of a shapes image show, read without a model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seen {
    /// The shape's colour (index into [`COLOURS`]); `None` when under 2% of the pixels differ
    /// from the background.
    pub colour: Option<usize>,
    /// The background's colour (index into [`COLOURS`]).
    pub background: usize,
    /// Fraction of the pixels that differ from the background: the shape's area.
    pub area: f32,
}

/// Reads an RGB image (planar, `3 × side × side` values in `[0, 1]`). The background is the
/// per-channel median of the one-pixel border; the shape is the pixels at least 80 (of 255) away
/// from it, and its colour their median.
pub fn read_image(image: &[f32], side: usize) -> Seen {
    let plane = side * side;
    let pixel = |i: usize| [0, 1, 2].map(|k| image[k * plane + i] * 255.0);
    let border: Vec<usize> = (0..plane)
        .filter(|i| {
            let (x, y) = (i % side, i / side);
            x == 0 || y == 0 || x + 1 == side || y + 1 == side
        })
        .collect();
    let median_of =
        |pixels: &[usize]| [0, 1, 2].map(|k| median(pixels.iter().map(|&i| pixel(i)[k]).collect()));
    let back = median_of(&border);
    let far: Vec<usize> = (0..plane)
        .filter(|&i| {
            let p = pixel(i);
            (0..3).map(|k| (p[k] - back[k]).powi(2)).sum::<f32>() >= 80.0 * 80.0
        })
        .collect();
    Seen {
        colour: (far.len() * 50 >= plane).then(|| nearest_colour(median_of(&far))),
        background: nearest_colour(back),
        area: far.len() as f32 / plane as f32,
    }
}

/// The fraction of the image that `shape` (index into [`SHAPES`]) covers at size `size`
/// (index into [`SIZES`]), measured once per shape and size on a 256 × 256 grid.
pub fn area_of(shape: usize, size: usize) -> f32 {
    static AREAS: OnceLock<[[f32; SIZES.len()]; SHAPES.len()]> = OnceLock::new();
    AREAS.get_or_init(|| std::array::from_fn(|s| std::array::from_fn(|k| measure_area(s, k))))
        [shape][size]
}

fn measure_area(shape: usize, size: usize) -> f32 {
    const N: usize = 256;
    let spec = ShapeSpec {
        shape,
        colour: 0,
        background: 1,
        size,
        centre: (0.5, 0.5),
    };
    let inside = (0..N * N)
        .filter(|i| {
            let (x, y) = ((i % N) as f32 + 0.5, (i / N) as f32 + 0.5);
            spec.inside(x / N as f32, y / N as f32)
        })
        .count();
    inside as f32 / (N * N) as f32
}

/// The size (index into [`SIZES`]) whose area for `shape` is nearest to `area` in ratio;
/// `None` for an empty area.
pub fn size_of(shape: usize, area: f32) -> Option<usize> {
    (area > 0.0).then(|| {
        let off = |k: usize| (area / area_of(shape, k)).ln().abs();
        (0..SIZES.len())
            .min_by(|&a, &b| off(a).total_cmp(&off(b)))
            .unwrap_or(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phrasing_reads_back_and_every_image_shows_its_colours_and_size() {
        for i in 0..300 {
            let s = spec(3, Split::Test, i);
            for caption in s.captions() {
                let asked = read_caption(&caption).unwrap();
                assert_eq!(
                    asked,
                    Asked {
                        shape: s.shape,
                        colour: Some(s.colour),
                        background: Some(s.background),
                        size: caption.contains(SIZES[s.size].0).then_some(s.size),
                    },
                    "{caption}"
                );
            }
            // The canonical caption names everything but the place.
            let mut rng = ChaCha8Rng::seed_from_u64(i as u64);
            let other = read_caption(&s.caption())
                .unwrap()
                .placed(&mut rng)
                .unwrap();
            assert_eq!(
                other,
                ShapeSpec {
                    centre: other.centre,
                    ..s
                }
            );
            let r = SIZES[s.size].1;
            assert!(
                [other.centre.0, other.centre.1]
                    .iter()
                    .all(|c| (r..=1.0 - r).contains(c))
            );
            assert_eq!(
                read_caption(&s.captions()[1]).unwrap().placed(&mut rng),
                None,
                "no size"
            );
            let pixels: Vec<f32> = s.render(32).iter().map(|&v| v as f32 / 255.0).collect();
            let seen = read_image(&pixels, 32);
            assert_eq!(
                (seen.colour, seen.background),
                (Some(s.colour), s.background),
                "{s:?}"
            );
            assert_eq!(size_of(s.shape, seen.area), Some(s.size), "{s:?}: {seen:?}");
        }
        assert_eq!(read_caption("a photo of a dog"), None);
        let plain = read_caption("a ring").unwrap();
        assert_eq!(
            (plain.shape, plain.colour, plain.background, plain.size),
            (5, None, None, None)
        );
        assert_eq!(read_caption("a LARGE cross, red").unwrap().size, Some(2));
        // A circle of radius 0.17 covers π · 0.17² of the image.
        let circle = area_of(0, 0);
        assert!(
            (circle - std::f32::consts::PI * 0.17 * 0.17).abs() < 1e-3,
            "{circle}"
        );
        assert_eq!(size_of(0, 0.0), None);
        assert_eq!(
            size_of(0, 1.0),
            Some(2),
            "the whole image: the largest size"
        );
        let flat = vec![0.5f32; 3 * 16 * 16];
        assert_eq!(
            read_image(&flat, 16).colour,
            None,
            "nothing drawn, no shape colour"
        );
    }

    #[test]
    fn deterministic_and_prefix_stable() {
        let a = generate(16, 5, 7, Split::Train).unwrap();
        let b = generate(16, 8, 7, Split::Train).unwrap();
        assert_eq!(a.pixels[..], b.pixels[..a.pixels.len()]);
        let t = generate(16, 5, 7, Split::Test).unwrap();
        assert_ne!(a.pixels, t.pixels, "train and test must differ");
    }

    #[test]
    fn caption_matches_pixels() {
        let s = spec(3, Split::Train, 0);
        let img = s.render(32);
        let (cx, cy) = ((s.centre.0 * 32.0) as usize, (s.centre.1 * 32.0) as usize);
        let corner = [img[0], img[1024], img[2048]];
        assert_eq!(
            corner, COLOURS[s.background].1,
            "corner shows the background"
        );
        if s.shape != 5 {
            let centre = [
                img[cy * 32 + cx],
                img[1024 + cy * 32 + cx],
                img[2048 + cy * 32 + cx],
            ];
            assert_eq!(
                centre,
                COLOURS[s.colour].1,
                "centre shows the shape: {}",
                s.caption()
            );
        }
        assert!(s.caption().starts_with("a "));
        assert!(s.caption().contains(SHAPES[s.shape]));
    }

    #[test]
    fn refuses_sizes_out_of_range() {
        assert!(generate(8, 1, 0, Split::Train).is_err());
        assert!(generate(65, 1, 0, Split::Train).is_err());
    }
}
