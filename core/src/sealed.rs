//! Files Easel writes whole and reads back only when intact: a body, then the SHA-256 of that
//! body. Written to a temporary name and renamed into place, so a crash never leaves a half file
//! under the real name.

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Writes `body` and its SHA-256 to `path` (parents created, temporary file renamed).
pub fn write(path: &Path, mut body: Vec<u8>) -> Result<()> {
    let digest = Sha256::digest(&body);
    body.extend_from_slice(&digest);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, &body).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Reads a file [`write`] wrote and returns its body, starting with `magic`; `what` names the
/// kind of file in errors ("an Easel embeddings cache").
pub fn read(path: &Path, magic: &[u8], what: &str) -> Result<Vec<u8>> {
    let mut bytes = crate::data::read_file(path)?;
    let bad = |why: &str| Error::format(path, what, why.to_string());
    if bytes.len() < magic.len() + 32 || &bytes[..magic.len()] != magic {
        return Err(bad("not such a file (its header is missing)"));
    }
    let body_len = bytes.len() - 32;
    if Sha256::digest(&bytes[..body_len]).as_slice() != &bytes[body_len..] {
        return Err(bad("the checksum does not match (the file is damaged)"));
    }
    bytes.truncate(body_len);
    Ok(bytes)
}

/// Writes `bytes` to `path` atomically: a hidden temporary file beside it, fsync, rename, fsync of
/// the folder. A reader sees the old file or the whole new one, never a part.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all(); // not supported on every filesystem; the rename stands
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flipped_bit_or_a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep/file.bin");
        write(&path, b"MAGICbody".to_vec()).unwrap();
        assert_eq!(read(&path, b"MAGIC", "a test file").unwrap(), b"MAGICbody");
        let e = read(&path, b"OTHER", "a test file")
            .unwrap_err()
            .to_string();
        assert!(e.contains("header"), "{e}");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[6] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let e = read(&path, b"MAGIC", "a test file")
            .unwrap_err()
            .to_string();
        assert!(e.contains("checksum") && e.contains("file.bin"), "{e}");
    }
}
