//! CIFAR-10 binary batches: records of one label byte then 3 × 32 × 32 planar RGB bytes.

use std::path::Path;

use super::{ImageSet, read_file};
use crate::error::{Error, Result};

const SIDE: usize = 32;
const RECORD: usize = 1 + 3 * SIDE * SIDE;

/// CIFAR-10's class names, in label order.
pub const CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Parses one batch file's bytes, appending to `pixels` and `labels`.
pub fn parse_batch(
    path: &Path,
    bytes: &[u8],
    pixels: &mut Vec<u8>,
    labels: &mut Vec<u32>,
) -> Result<()> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(Error::format(
            path,
            format!("a whole number of {RECORD}-byte records (1 label + 3×32×32 pixels)"),
            format!("{} bytes", bytes.len()),
        ));
    }
    for (i, record) in bytes.chunks_exact(RECORD).enumerate() {
        let label = record[0];
        if label > 9 {
            return Err(Error::format(
                path,
                format!("a label 0–9 in record {i}"),
                label.to_string(),
            ));
        }
        labels.push(u32::from(label));
        pixels.extend_from_slice(&record[1..]);
    }
    Ok(())
}

fn load_files(dir: &Path, names: &[String]) -> Result<ImageSet> {
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for name in names {
        let path = dir.join(name);
        parse_batch(&path, &read_file(&path)?, &mut pixels, &mut labels)?;
    }
    Ok(ImageSet {
        channels: 3,
        height: SIDE,
        width: SIDE,
        pixels,
        labels: Some(labels),
        captions: None,
        class_names: CLASSES.iter().map(|s| s.to_string()).collect(),
    })
}

/// Loads `data_batch_1..5.bin` (those present, at least one) and `test_batch.bin`.
pub fn load_folder(dir: &Path) -> Result<(ImageSet, ImageSet)> {
    let train: Vec<String> = (1..=5)
        .map(|i| format!("data_batch_{i}.bin"))
        .filter(|n| dir.join(n).is_file())
        .collect();
    if train.is_empty() {
        return Err(Error::Dataset(format!(
            "{}: no data_batch_*.bin (expected the CIFAR-10 binary version)",
            dir.display()
        )));
    }
    if !dir.join("test_batch.bin").is_file() {
        return Err(Error::Dataset(format!(
            "{}: no test_batch.bin",
            dir.display()
        )));
    }
    Ok((
        load_files(dir, &train)?,
        load_files(dir, &["test_batch.bin".to_string()])?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records_and_rejects_partial_ones() {
        let mut bytes = vec![0u8; 2 * RECORD];
        bytes[0] = 3;
        bytes[RECORD] = 9;
        bytes[RECORD + 1] = 200;
        let (mut px, mut lb) = (Vec::new(), Vec::new());
        parse_batch(Path::new("b"), &bytes, &mut px, &mut lb).unwrap();
        assert_eq!(lb, vec![3, 9]);
        assert_eq!(px.len(), 2 * 3072);
        assert_eq!(px[3072], 200);
        let e = parse_batch(Path::new("b.bin"), &bytes[..100], &mut px, &mut lb).unwrap_err();
        assert!(e.to_string().contains("b.bin") && e.to_string().contains("100 bytes"));
        bytes[0] = 10;
        assert!(parse_batch(Path::new("b"), &bytes, &mut px, &mut lb).is_err());
    }
}
