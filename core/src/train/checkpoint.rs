//! Checkpoint files: one self-checking file per saved step, written atomically.
//!
//! Layout: `EASELCKP` magic, a little-endian `u32` format version, a `u64` header length, the
//! JSON header (training state, the run's config as TOML, and the name and length of each
//! section), the sections (burnpack bytes of G, D and both optimisers), then the SHA-256 of
//! everything before it. A file is written to a hidden temporary name, fsynced, then renamed, so
//! a crash leaves either the old set of checkpoints or the old set plus a complete new one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"EASELCKP";
const VERSION: u32 = 1;
const DIGEST_LEN: usize = 32;
/// The largest header accepted (configs are a few kB).
const MAX_HEADER: u64 = 16 << 20;

/// Where training stood when the checkpoint was taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingState {
    /// Steps taken (full steps and single D or G steps).
    pub step: u64,
    /// Whole epochs completed.
    pub epoch: u64,
    /// Batches of the current epoch already drawn.
    pub batch_in_epoch: u64,
    /// D updates made.
    pub d_updates: u64,
    /// G updates made.
    pub g_updates: u64,
    /// Position of the noise generator (ChaCha8 word position), as a decimal string.
    pub noise_word_pos: String,
    /// Training seconds over all sessions.
    pub elapsed_seconds: f64,
}

/// A checkpoint in memory.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The training state.
    pub state: TrainingState,
    /// The run's config, as TOML.
    pub config_toml: String,
    /// Named byte sections (`generator`, `discriminator`, `optimizer_g`, `optimizer_d`).
    pub sections: Vec<(String, Vec<u8>)>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    state: TrainingState,
    config_toml: String,
    sections: Vec<(String, u64)>,
}

impl Checkpoint {
    /// The section called `name`.
    pub fn section(&self, name: &str, path: &Path) -> Result<&[u8]> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
            .ok_or_else(|| Error::Checkpoint {
                path: path.to_path_buf(),
                reason: format!("no {name} section"),
            })
    }

    /// Serialises to bytes, checksum included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            state: self.state.clone(),
            config_toml: self.config_toml.clone(),
            sections: self
                .sections
                .iter()
                .map(|(n, b)| (n.clone(), b.len() as u64))
                .collect(),
        };
        let header = serde_json::to_vec(&header).expect("a checkpoint header always serialises");
        let mut out = Vec::with_capacity(
            20 + header.len()
                + self.sections.iter().map(|(_, b)| b.len()).sum::<usize>()
                + DIGEST_LEN,
        );
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        for (_, bytes) in &self.sections {
            out.extend_from_slice(bytes);
        }
        let digest = Sha256::digest(&out);
        out.extend_from_slice(&digest);
        out
    }

    /// Parses and verifies bytes read from `path`.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::Checkpoint {
            path: path.to_path_buf(),
            reason,
        };
        if bytes.len() < 20 + DIGEST_LEN || &bytes[..8] != MAGIC {
            return Err(bad(format!(
                "not an Easel checkpoint (expected the EASELCKP magic and at least {} bytes, found {} bytes)",
                20 + DIGEST_LEN,
                bytes.len()
            )));
        }
        let (body, digest) = bytes.split_at(bytes.len() - DIGEST_LEN);
        if Sha256::digest(body).as_slice() != digest {
            return Err(bad(
                "checksum mismatch: the file is damaged or truncated".into()
            ));
        }
        let version = u32::from_le_bytes(body[8..12].try_into().expect("4 bytes"));
        if version != VERSION {
            return Err(bad(format!(
                "format version {VERSION} expected, found {version}"
            )));
        }
        let header_len = u64::from_le_bytes(body[12..20].try_into().expect("8 bytes"));
        if header_len > MAX_HEADER || 20 + header_len > body.len() as u64 {
            return Err(bad(format!(
                "header of {header_len} bytes does not fit the file"
            )));
        }
        let header_end = 20 + header_len as usize;
        let header: Header = serde_json::from_slice(&body[20..header_end])
            .map_err(|e| bad(format!("unreadable header: {e}")))?;
        let mut at = header_end;
        let mut sections = Vec::with_capacity(header.sections.len());
        for (name, len) in header.sections {
            let end = usize::try_from(len)
                .ok()
                .and_then(|l| at.checked_add(l))
                .filter(|&e| e <= body.len())
                .ok_or_else(|| bad(format!("section {name} of {len} bytes runs past the end")))?;
            sections.push((name, body[at..end].to_vec()));
            at = end;
        }
        if at != body.len() {
            return Err(bad(format!(
                "{} stray bytes after the sections",
                body.len() - at
            )));
        }
        Ok(Self {
            state: header.state,
            config_toml: header.config_toml,
            sections,
        })
    }

    /// Reads and verifies a checkpoint file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes, path)
    }

    /// Writes atomically: temporary file, fsync, rename, fsync of the folder. A failed write
    /// (a full disk, a file-size limit) leaves no part behind and every earlier checkpoint as it
    /// was, and says so.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::sealed::write_atomically(path, &self.to_bytes()).map_err(|e| match e {
            Error::Io { source, .. } => Error::Checkpoint {
                path: path.to_path_buf(),
                reason: format!(
                    "could not be written ({source}); training stopped, and the earlier \
                     checkpoints are intact"
                ),
            },
            other => other,
        })
    }
}

/// The file name of the checkpoint at `step`.
pub fn file_name(step: u64) -> String {
    format!("step-{step:09}.ckpt")
}

/// Checkpoints in `dir`, oldest first, as (step, path). Temporary files are ignored.
pub fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let step = name
                .strip_prefix("step-")?
                .strip_suffix(".ckpt")?
                .parse()
                .ok()?;
            Some((step, e.path()))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Deletes all but the newest `keep` checkpoints.
pub fn prune(dir: &Path, keep: usize) -> Result<()> {
    let all = list(dir)?;
    for (_, path) in all.iter().take(all.len().saturating_sub(keep)) {
        std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

/// The newest checkpoint that verifies, with warnings for newer ones that did not.
pub fn load_latest(dir: &Path) -> Result<(Checkpoint, PathBuf, Vec<String>)> {
    let mut warnings = Vec::new();
    for (_, path) in list(dir)?.into_iter().rev() {
        match Checkpoint::load(&path) {
            Ok(ckpt) => return Ok((ckpt, path, warnings)),
            Err(e) => warnings.push(format!("skipped {e}")),
        }
    }
    Err(Error::Run {
        path: dir.to_path_buf(),
        reason: if warnings.is_empty() {
            "no checkpoint to resume from".into()
        } else {
            format!("no intact checkpoint ({})", warnings.join("; "))
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            state: TrainingState {
                step: 7,
                epoch: 1,
                batch_in_epoch: 2,
                d_updates: 7,
                g_updates: 7,
                noise_word_pos: "12345".into(),
                elapsed_seconds: 1.5,
            },
            config_toml: "seed = 1\n".into(),
            sections: vec![
                ("generator".into(), vec![1, 2, 3]),
                ("discriminator".into(), vec![]),
            ],
        }
    }

    #[test]
    fn round_trip_and_damage_detection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file_name(7));
        sample().save(&path).unwrap();
        let back = Checkpoint::load(&path).unwrap();
        assert_eq!(back.state, sample().state);
        assert_eq!(back.section("generator", &path).unwrap(), &[1, 2, 3]);

        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x10;
        let e = Checkpoint::from_bytes(&bytes, &path)
            .unwrap_err()
            .to_string();
        assert!(e.contains("checksum"), "{e}");
        bytes.truncate(mid);
        assert!(Checkpoint::from_bytes(&bytes, &path).is_err());
        assert!(Checkpoint::from_bytes(b"short", &path).is_err());
    }

    #[test]
    fn latest_skips_a_damaged_newest_and_prune_keeps_k() {
        let dir = tempfile::tempdir().unwrap();
        for step in [1, 2, 3] {
            let mut c = sample();
            c.state.step = step;
            c.save(&dir.path().join(file_name(step))).unwrap();
        }
        std::fs::write(
            dir.path().join(file_name(4)),
            b"EASELCKP garbage that fails",
        )
        .unwrap();
        let (c, _, warnings) = load_latest(dir.path()).unwrap();
        assert_eq!(c.state.step, 3);
        assert_eq!(warnings.len(), 1);
        prune(dir.path(), 2).unwrap();
        let left: Vec<u64> = list(dir.path())
            .unwrap()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(left, vec![3, 4]);
    }
}
