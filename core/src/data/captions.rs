//! Captions: several English sentences per image, pooled so each distinct sentence is stored (and
//! later encoded) once.
//!
//! Sources: the built-in shapes describe what they draw; Fashion-MNIST's captions are made from
//! its real labels ([`fashion_mnist`]); image folders carry their own caption files
//! ([`read_caption_file`]), laid out as the StackGAN repositories lay out CUB-200 and Oxford-102
//! (`images/…` with a parallel `text/…`) or as `x.png` beside `x.txt`.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};

/// Every caption of an image set: distinct sentences, and for each image the ones that describe it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Captions {
    /// Each distinct sentence once.
    pub texts: Vec<String>,
    /// For each image, indices into `texts` (at least one).
    pub of_image: Vec<Vec<u32>>,
}

impl Captions {
    /// Builds the pool from each image's sentences, in order.
    pub fn from_lists<I, S>(lists: I) -> Self
    where
        I: IntoIterator<Item = Vec<S>>,
        S: Into<String>,
    {
        let mut pool = CaptionPool::default();
        for list in lists {
            pool.push_image(list);
        }
        pool.finish()
    }

    /// Number of images described.
    pub fn len(&self) -> usize {
        self.of_image.len()
    }

    /// Whether no image is described.
    pub fn is_empty(&self) -> bool {
        self.of_image.is_empty()
    }

    /// The sentences of image `index`.
    pub fn of(&self, index: usize) -> impl Iterator<Item = &str> {
        self.of_image[index]
            .iter()
            .map(|&t| self.texts[t as usize].as_str())
    }

    /// The first sentence of image `index` (the canonical one for generated data).
    pub fn first(&self, index: usize) -> &str {
        &self.texts[self.of_image[index][0] as usize]
    }

    /// Keeps the first `count` images' captions, dropping sentences no kept image uses.
    pub fn truncate(&mut self, count: usize) {
        if count >= self.of_image.len() {
            return;
        }
        self.of_image.truncate(count);
        let old = std::mem::take(&mut self.texts);
        let lists: Vec<Vec<String>> = self
            .of_image
            .iter()
            .map(|ids| ids.iter().map(|&t| old[t as usize].clone()).collect())
            .collect();
        *self = Captions::from_lists(lists);
    }
}

/// Collects captions image by image, pooling equal sentences.
#[derive(Debug, Default)]
pub struct CaptionPool {
    index: HashMap<String, u32>,
    captions: Captions,
}

impl CaptionPool {
    /// Adds the next image's sentences.
    pub fn push_image<S: Into<String>>(&mut self, sentences: Vec<S>) {
        let ids = sentences
            .into_iter()
            .map(|s| {
                let s = s.into();
                let next = self.captions.texts.len() as u32;
                *self.index.entry(s.clone()).or_insert_with(|| {
                    self.captions.texts.push(s);
                    next
                })
            })
            .collect();
        self.captions.of_image.push(ids);
    }

    /// The pooled captions.
    pub fn finish(self) -> Captions {
        self.captions
    }
}

/// Phrasings of each Fashion-MNIST class, in label order: what the item is called and how it is
/// shown (light grey garments on black, as the dataset draws them).
const FASHION_PHRASES: [[&str; 2]; 10] = [
    ["a t-shirt", "a short-sleeved top"],
    ["a pair of trousers", "long trousers"],
    ["a pullover", "a long-sleeved sweater"],
    ["a dress", "a long dress"],
    ["a coat", "a buttoned coat"],
    ["a sandal", "an open summer sandal"],
    ["a shirt", "a collared shirt"],
    ["a sneaker", "a low running shoe"],
    ["a bag", "a handbag"],
    ["an ankle boot", "a boot with a heel"],
];

/// The captions of a Fashion-MNIST image of class `label`: several phrasings made from the real
/// label ("a photo of an ankle boot", "a grey ankle boot on black", …).
pub fn fashion_mnist(label: u32) -> Vec<String> {
    let [name, other] = FASHION_PHRASES[label as usize % FASHION_PHRASES.len()];
    let bare = name.trim_start_matches("a ").trim_start_matches("an ");
    vec![
        format!("a photo of {name}"),
        format!("{name} on a black background"),
        format!("a grey {bare} on black"),
        format!("a picture of {other}"),
        format!("{other}, in black and white"),
    ]
}

/// Reads a caption file: UTF-8 text, one caption per line; blank lines are skipped. Errors name
/// the file when it cannot be read, is not UTF-8 or holds no caption.
pub fn read_caption_file(path: &Path) -> Result<Vec<String>> {
    parse_captions(path, super::read_file(path)?)
}

/// Parses a caption file's bytes (`path` names it in errors).
pub fn parse_captions(path: &Path, bytes: Vec<u8>) -> Result<Vec<String>> {
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::format(
            path,
            "a UTF-8 caption file",
            format!("byte {} is not valid UTF-8", e.utf8_error().valid_up_to()),
        )
    })?;
    let captions: Vec<String> = text
        .lines()
        .map(|l| l.trim().trim_start_matches('\u{feff}').trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if captions.is_empty() {
        return Err(Error::format(
            path,
            "a caption file with one caption per line",
            "it holds no caption (the file is empty or blank)",
        ));
    }
    Ok(captions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_sentences_are_pooled_and_truncation_drops_unused_ones() {
        let mut c = Captions::from_lists(vec![
            vec!["a red circle", "a circle"],
            vec!["a circle"],
            vec!["a blue ring"],
        ]);
        assert_eq!(c.texts.len(), 3);
        assert_eq!(c.of(1).collect::<Vec<_>>(), ["a circle"]);
        assert_eq!(c.first(0), "a red circle");
        c.truncate(2);
        assert_eq!(c.len(), 2);
        assert_eq!(c.texts, ["a red circle", "a circle"]);
    }

    #[test]
    fn fashion_captions_name_the_class() {
        let boots = fashion_mnist(9);
        assert_eq!(boots.len(), 5);
        assert!(boots.iter().any(|c| c == "a photo of an ankle boot"));
        assert!(boots.iter().all(|c| c.contains("boot")));
        let distinct: std::collections::HashSet<_> = (0..10).flat_map(fashion_mnist).collect();
        assert_eq!(distinct.len(), 50, "no two classes share a caption");
    }

    #[test]
    fn caption_files_report_what_is_wrong_and_where() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.txt");
        std::fs::write(
            &good,
            "\u{feff}a bird with a red head\n\n  a small red-headed bird \n",
        )
        .unwrap();
        assert_eq!(
            read_caption_file(&good).unwrap(),
            ["a bird with a red head", "a small red-headed bird"]
        );
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, "\n  \n").unwrap();
        let e = read_caption_file(&empty).unwrap_err().to_string();
        assert!(e.contains("empty.txt") && e.contains("no caption"), "{e}");
        let latin1 = dir.path().join("latin1.txt");
        std::fs::write(&latin1, b"caf\xe9 au lait").unwrap();
        let e = read_caption_file(&latin1).unwrap_err().to_string();
        assert!(e.contains("latin1.txt") && e.contains("UTF-8"), "{e}");
        let e = read_caption_file(&dir.path().join("missing.txt"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.txt"), "{e}");
    }
}
