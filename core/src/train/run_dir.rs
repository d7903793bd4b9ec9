//! A run is a folder: `config.toml`, `events.jsonl` (one JSON event per line), `checkpoints/`
//! and `samples/`. This file owns the layout.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::config::RunConfig;
use super::events::Event;
use crate::error::{Error, Result};

/// The paths of one run folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    /// The folder.
    pub root: PathBuf,
}

impl RunDir {
    /// A run folder at `root` (not checked).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `config.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// `events.jsonl`.
    pub fn events_path(&self) -> PathBuf {
        self.root.join("events.jsonl")
    }

    /// `checkpoints/`.
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    /// `samples/`.
    pub fn samples(&self) -> PathBuf {
        self.root.join("samples")
    }

    /// Creates the folder for a new run and writes its config; refuses a folder that already
    /// holds a run, so nothing is overwritten.
    pub fn create(&self, config: &RunConfig) -> Result<()> {
        if self.config_path().exists() {
            return Err(Error::Run {
                path: self.root.clone(),
                reason: "already holds a run; resume it or choose another folder".into(),
            });
        }
        for dir in [self.root.clone(), self.checkpoints(), self.samples()] {
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        self.save_config(config)
    }

    /// Rewrites the run's config (atomically: a reader sees the old file or the new one).
    pub fn save_config(&self, config: &RunConfig) -> Result<()> {
        super::checkpoint::write_atomically(&self.config_path(), config.to_toml().as_bytes())
    }

    /// Reads the run's config.
    pub fn load_config(&self) -> Result<RunConfig> {
        if !self.config_path().is_file() {
            return Err(Error::Run {
                path: self.root.clone(),
                reason: "no config.toml: not an Easel run folder".into(),
            });
        }
        RunConfig::load(&self.config_path())
    }

    /// Whether `path` looks like a run folder.
    pub fn is_run(path: &Path) -> bool {
        path.join("config.toml").is_file()
    }

    /// Reads every event logged so far (unreadable lines are skipped: a crash may cut the last).
    pub fn read_events(&self) -> Result<Vec<Event>> {
        let path = self.events_path();
        if !path.exists() {
            return Ok(Vec::new());
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }
}

/// Appends events to `events.jsonl`.
#[derive(Debug)]
pub struct EventLog {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
}

impl EventLog {
    /// Opens the log of `run` for appending.
    pub fn open(run: &RunDir) -> Result<Self> {
        let path = run.events_path();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        Ok(Self {
            path,
            file: std::io::BufWriter::new(file),
        })
    }

    /// Appends one event.
    pub fn append(&mut self, event: &Event) -> Result<()> {
        let line = serde_json::to_string(event).expect("events always serialise");
        writeln!(self.file, "{line}").map_err(|e| Error::io(&self.path, e))
    }

    /// Flushes to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.file.flush().map_err(|e| Error::io(&self.path, e))
    }
}
