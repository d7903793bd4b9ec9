//! The one error type of `easel-core`: every failure a user can cause, with what was expected and
//! what was found, so the CLI and the studio can show it in words.

use std::path::PathBuf;

/// Everything that can go wrong in `easel-core`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A file was read but its contents are not what the format requires.
    #[error("{path}: expected {expected}, found {found}")]
    Format {
        /// The file concerned.
        path: PathBuf,
        /// What the format requires.
        expected: String,
        /// What the file holds.
        found: String,
    },
    /// A dataset was asked for that cannot be assembled (missing files, no images...).
    #[error("dataset: {0}")]
    Dataset(String),
    /// A configuration value is out of range or inconsistent with another.
    #[error("invalid config: {field}: {reason}")]
    Config {
        /// The dotted name of the field (`model.steps`).
        field: String,
        /// Why the value is refused.
        reason: String,
    },
    /// A backend was asked for that is not compiled in or has no device.
    #[error("backend {backend}: {reason}")]
    Backend {
        /// The backend's name (`wgpu`, `cuda`).
        backend: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A checkpoint is damaged, foreign or does not match the model.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Training produced a non-finite value.
    #[error("training diverged at step {step}: {what} is {value}")]
    Diverged {
        /// The step at which it appeared.
        step: u64,
        /// Which quantity (`D loss`, `G loss`).
        what: String,
        /// The value found (NaN, inf).
        value: f32,
    },
    /// A run folder is missing or incomplete.
    #[error("run {path}: {reason}")]
    Run {
        /// The run folder.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// An image could not be encoded or decoded.
    #[error("{path}: image: {reason}")]
    Image {
        /// The file concerned.
        path: PathBuf,
        /// The codec's reason.
        reason: String,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// A format error on `path`.
    pub fn format(
        path: impl Into<PathBuf>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        Self::Format {
            path: path.into(),
            expected: expected.into(),
            found: found.into(),
        }
    }

    /// A config error on `field`.
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Config {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
