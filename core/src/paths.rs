//! Where Easel keeps what it computes once and reuses (caches) and what users install (models).

use std::path::PathBuf;

/// The cache folder: `$EASEL_CACHE`, else `$XDG_CACHE_HOME/easel`, else `~/.cache/easel`.
/// Everything in it can be deleted; Easel recomputes it.
pub fn cache_root() -> PathBuf {
    std::env::var_os("EASEL_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("easel")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/easel")))
        .unwrap_or_else(|| std::env::temp_dir().join("easel-cache"))
}

/// The folder downloaded models are unpacked into: `$EASEL_MODELS`, else
/// `$XDG_DATA_HOME/easel/models`, else `~/.local/share/easel/models`.
pub fn models_dir() -> PathBuf {
    std::env::var_os("EASEL_MODELS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_DATA_HOME").map(|d| PathBuf::from(d).join("easel/models"))
        })
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/easel/models"))
        })
        .unwrap_or_else(|| std::env::temp_dir().join("easel-models"))
}
