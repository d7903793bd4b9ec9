//! Sentence embeddings cached on disk per dataset and encoder, so training never re-encodes a
//! caption.
//!
//! One file per (encoder, caption set): `<encoder>-<hash of the captions>.bin` in [`default_dir`]
//! (`embeddings/` in [`crate::paths::cache_root`]). The file holds every caption with its vector, and a SHA-256 of all
//! that: a damaged or foreign file is ignored and rebuilt, never trusted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"EASELEMB";
const VERSION: u32 = 1;
/// Captions encoded between progress reports.
const CHUNK: usize = 256;

/// Encodes a batch of captions into one vector each, in order.
pub type EmbedFn<'a> = dyn FnMut(&[&str]) -> Result<Vec<Vec<f32>>> + 'a;

/// Embeddings of a set of captions by one encoder.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// The encoder's identity (name and weights fingerprint).
    pub encoder: String,
    /// Width of every vector.
    pub width: usize,
    /// Each caption's vector.
    pub vectors: HashMap<String, Vec<f32>>,
}

impl Embeddings {
    /// The vector of `caption`, if it was encoded.
    pub fn get(&self, caption: &str) -> Option<&[f32]> {
        self.vectors.get(caption).map(Vec::as_slice)
    }
}

/// The folder cache files go in by default: `embeddings/` in [`crate::paths::cache_root`].
pub fn default_dir() -> PathBuf {
    crate::paths::cache_root().join("embeddings")
}

/// The cache file in `dir` for `captions` under `encoder`.
pub fn path_for(dir: &Path, encoder: &str, captions: &[String]) -> PathBuf {
    let mut hash = Sha256::new();
    for c in captions {
        hash.update((c.len() as u64).to_le_bytes());
        hash.update(c.as_bytes());
    }
    let key: String = hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let safe: String = encoder
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}-{key}.bin"))
}

/// The embeddings of `captions` by `encoder`: read from the cache in `dir` when it holds them
/// all, else computed with `embed` (batches of captions → one vector each), saved, and returned.
/// `progress` receives the fraction encoded (1 at once when the cache holds them all).
pub fn load_or_embed(
    dir: &Path,
    encoder: &str,
    captions: &[String],
    embed: &mut EmbedFn,
    progress: &mut dyn FnMut(f32),
) -> Result<Embeddings> {
    let path = path_for(dir, encoder, captions);
    if let Ok(found) = read(&path)
        && found.encoder == encoder
        && captions.iter().all(|c| found.vectors.contains_key(c))
    {
        progress(1.0);
        return Ok(found);
    }
    let mut vectors = HashMap::with_capacity(captions.len());
    let mut width = 0;
    for (i, chunk) in captions.chunks(CHUNK).enumerate() {
        let texts: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let out = embed(&texts)?;
        for (c, v) in chunk.iter().zip(out) {
            width = v.len();
            vectors.insert(c.clone(), v);
        }
        progress(((i + 1) * CHUNK).min(captions.len()) as f32 / captions.len().max(1) as f32);
    }
    let embeddings = Embeddings {
        encoder: encoder.to_string(),
        width,
        vectors,
    };
    // A cache that cannot be written costs time later, not correctness now.
    let _ = write(&path, &embeddings);
    Ok(embeddings)
}

/// Writes the cache file (to a temporary name first, then renamed into place).
pub fn write(path: &Path, e: &Embeddings) -> Result<()> {
    let mut body = Vec::new();
    body.extend_from_slice(MAGIC);
    body.extend_from_slice(&VERSION.to_le_bytes());
    put_str(&mut body, &e.encoder);
    body.extend_from_slice(&(e.width as u64).to_le_bytes());
    body.extend_from_slice(&(e.vectors.len() as u64).to_le_bytes());
    let mut keys: Vec<&String> = e.vectors.keys().collect();
    keys.sort();
    for k in keys {
        put_str(&mut body, k);
        for v in &e.vectors[k] {
            body.extend_from_slice(&v.to_le_bytes());
        }
    }
    crate::sealed::write(path, body)
}

/// Reads a cache file, checking its checksum and every length against the file's size.
pub fn read(path: &Path) -> Result<Embeddings> {
    let body = crate::sealed::read(path, MAGIC, "an Easel embeddings cache")?;
    let body = body.as_slice();
    let bad = |why: &str| Error::format(path, "an Easel embeddings cache", why.to_string());
    let mut r = Reader { bytes: body, at: 8 };
    if r.u32()? != VERSION {
        return Err(bad("an unknown version"));
    }
    let encoder = r.string()?;
    let width = r.u64()? as usize;
    let count = r.u64()? as usize;
    let per_vector = width
        .checked_mul(4)
        .ok_or_else(|| bad("an impossible width"))?;
    if count.saturating_mul(per_vector.max(1)) > body.len() {
        return Err(bad("more vectors than the file can hold"));
    }
    let mut vectors = HashMap::with_capacity(count);
    for _ in 0..count {
        let caption = r.string()?;
        let raw = r.take(per_vector)?;
        let v = raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        vectors.insert(caption, v);
    }
    Ok(Embeddings {
        encoder,
        width,
        vectors,
    })
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| Error::Dataset("embeddings cache: truncated".into()))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    fn string(&mut self) -> Result<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec())
            .map_err(|_| Error::Dataset("embeddings cache: a caption is not UTF-8".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_call_reads_the_cache_and_damage_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let captions: Vec<String> = ["a red circle", "a blue ring", "a red circle, large"]
            .map(String::from)
            .to_vec();
        let calls = std::cell::Cell::new(0);
        let mut embed = |texts: &[&str]| -> Result<Vec<Vec<f32>>> {
            calls.set(calls.get() + 1);
            Ok(texts.iter().map(|t| vec![t.len() as f32, 1.0]).collect())
        };
        let first = load_or_embed(dir, "toy", &captions, &mut embed, &mut |_| {}).unwrap();
        assert_eq!(first.get("a blue ring"), Some(&[11.0, 1.0][..]));
        let second = load_or_embed(dir, "toy", &captions, &mut embed, &mut |_| {}).unwrap();
        assert_eq!(first, second);
        assert_eq!(calls.get(), 1, "the second call reads the cache");

        let path = path_for(dir, "toy", &captions);
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n / 2] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("checksum"));
        let rebuilt = load_or_embed(dir, "toy", &captions, &mut embed, &mut |_| {}).unwrap();
        assert_eq!(rebuilt, first);
        assert_eq!(calls.get(), 2, "a damaged file is re-encoded");
        assert_ne!(path_for(dir, "other", &captions), path, "keyed by encoder");
    }
}
