//! IDX files (MNIST, Fashion-MNIST): a big-endian header of magic, dimension sizes, then `u8`
//! data; gzipped or raw, detected by the gzip magic.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{ImageSet, read_file};
use crate::error::{Error, Result};

/// Largest decompressed IDX file accepted (Fashion-MNIST's training images are 47 MB).
const MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;

/// Magic of an IDX file of `u8` with three dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic of an IDX file of `u8` with one dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Reads `path`, gunzipping it when it starts with the gzip magic.
pub fn read_maybe_gzipped(path: &Path) -> Result<Vec<u8>> {
    let raw = read_file(path)?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .take(MAX_DECOMPRESSED_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| Error::format(path, "a complete gzip stream", e.to_string()))?;
        if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
            return Err(Error::format(
                path,
                format!("at most {MAX_DECOMPRESSED_BYTES} bytes once decompressed"),
                "more",
            ));
        }
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Parses IDX image bytes into (count, rows, cols, pixels).
pub fn parse_images(path: &Path, bytes: &[u8]) -> Result<(usize, usize, usize, Vec<u8>)> {
    if bytes.len() < 16 {
        return Err(Error::format(
            path,
            "a 16-byte IDX image header",
            format!("{} bytes", bytes.len()),
        ));
    }
    let magic = be_u32(bytes, 0);
    if magic != IMAGES_MAGIC {
        return Err(Error::format(
            path,
            format!("magic {IMAGES_MAGIC:#x} (u8 images, 3 dimensions)"),
            format!("{magic:#x}"),
        ));
    }
    let (n, rows, cols) = (
        be_u32(bytes, 4) as usize,
        be_u32(bytes, 8) as usize,
        be_u32(bytes, 12) as usize,
    );
    let expected = n
        .checked_mul(rows)
        .and_then(|v| v.checked_mul(cols))
        .and_then(|v| v.checked_add(16));
    if expected != Some(bytes.len()) {
        return Err(Error::format(
            path,
            format!("16 + {n}×{rows}×{cols} bytes as its header declares"),
            format!("{} bytes (truncated or padded?)", bytes.len()),
        ));
    }
    if n == 0 || rows == 0 || cols == 0 {
        return Err(Error::format(
            path,
            "at least one non-empty image",
            format!("{n}×{rows}×{cols}"),
        ));
    }
    Ok((n, rows, cols, bytes[16..].to_vec()))
}

/// Parses IDX label bytes.
pub fn parse_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u32>> {
    if bytes.len() < 8 {
        return Err(Error::format(
            path,
            "an 8-byte IDX label header",
            format!("{} bytes", bytes.len()),
        ));
    }
    let magic = be_u32(bytes, 0);
    if magic != LABELS_MAGIC {
        return Err(Error::format(
            path,
            format!("magic {LABELS_MAGIC:#x} (u8 labels, 1 dimension)"),
            format!("{magic:#x}"),
        ));
    }
    let n = be_u32(bytes, 4) as usize;
    if n.checked_add(8) != Some(bytes.len()) {
        return Err(Error::format(
            path,
            format!("8 + {n} bytes as its header declares"),
            format!("{} bytes (truncated or padded?)", bytes.len()),
        ));
    }
    Ok(bytes[8..].iter().map(|&b| u32::from(b)).collect())
}

/// Finds `stem` in `dir`, raw or gzipped, under MNIST's dashed or dotted names.
pub fn find_file(dir: &Path, stem: &str) -> Option<PathBuf> {
    let dotted = stem.replacen("-idx", ".idx", 1);
    [stem.to_string(), dotted]
        .iter()
        .flat_map(|s| [s.clone(), format!("{s}.gz")])
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
}

/// Loads images and labels for one split (`train` or `t10k`).
pub fn load_split(dir: &Path, prefix: &str) -> Result<ImageSet> {
    let find = |stem: String| {
        find_file(dir, &stem).ok_or_else(|| {
            Error::Dataset(format!(
                "{}: no {stem} or {stem}.gz (expected an MNIST-layout IDX folder)",
                dir.display()
            ))
        })
    };
    let images_path = find(format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = find(format!("{prefix}-labels-idx1-ubyte"))?;
    let (n, rows, cols, pixels) = parse_images(&images_path, &read_maybe_gzipped(&images_path)?)?;
    let labels = parse_labels(&labels_path, &read_maybe_gzipped(&labels_path)?)?;
    if labels.len() != n {
        return Err(Error::format(
            &labels_path,
            format!("{n} labels, one per image in {}", images_path.display()),
            format!("{} labels", labels.len()),
        ));
    }
    let classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
    Ok(ImageSet {
        channels: 1,
        height: rows,
        width: cols,
        pixels,
        labels: Some(labels),
        captions: None,
        class_names: (0..classes).map(|c| c.to_string()).collect(),
    })
}

/// Loads the train and test (`t10k`) splits of an IDX folder.
pub fn load_folder(dir: &Path) -> Result<(ImageSet, ImageSet)> {
    if !dir.is_dir() {
        return Err(Error::Dataset(format!("{}: no such folder", dir.display())));
    }
    Ok((load_split(dir, "train")?, load_split(dir, "t10k")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(n: u32, rows: u32, cols: u32) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [IMAGES_MAGIC, n, rows, cols] {
            b.extend(v.to_be_bytes());
        }
        b.extend((0..n * rows * cols).map(|i| i as u8));
        b
    }

    #[test]
    fn parses_a_well_formed_header() {
        let (n, r, c, px) = parse_images(Path::new("x"), &images(2, 3, 4)).unwrap();
        assert_eq!((n, r, c, px.len()), (2, 3, 4, 24));
        assert_eq!(px[5], 5);
    }

    #[test]
    fn rejects_truncated_and_wrong_magic() {
        let mut b = images(2, 3, 4);
        b.pop();
        let e = parse_images(Path::new("imgs"), &b).unwrap_err().to_string();
        assert!(e.contains("imgs") && e.contains("39 bytes"), "{e}");
        let mut b = images(2, 3, 4);
        b[3] = 0x01;
        let e = parse_images(Path::new("imgs"), &b).unwrap_err().to_string();
        assert!(
            e.contains("magic 0x803") && e.contains("found 0x801"),
            "{e}"
        );
        assert!(parse_images(Path::new("e"), &[]).is_err());
    }

    #[test]
    fn huge_declared_counts_do_not_allocate() {
        let mut b = Vec::new();
        for v in [IMAGES_MAGIC, u32::MAX, u32::MAX, u32::MAX] {
            b.extend(v.to_be_bytes());
        }
        assert!(parse_images(Path::new("h"), &b).is_err());
        let mut l = Vec::new();
        l.extend(LABELS_MAGIC.to_be_bytes());
        l.extend(u32::MAX.to_be_bytes());
        assert!(parse_labels(Path::new("l"), &l).is_err());
    }
}
