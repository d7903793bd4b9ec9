//! A run is a folder: `config.toml`, `events.jsonl` (one JSON event per line), `checkpoints/`
//! and `samples/`. This file owns the layout.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::config::RunConfig;
use super::curves::Curves;
use super::events::Event;
use super::follow::{LogState, LogTail};
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

    /// `stop-requested`: a file whose presence asks the process training the run — this one or
    /// another, on this machine or one sharing the folder — to save a checkpoint and stop.
    pub fn stop_request(&self) -> PathBuf {
        self.root.join("stop-requested")
    }

    /// Asks whoever trains the run to save a checkpoint and stop (see [`Self::stop_request`]);
    /// refused for a folder that holds no run.
    pub fn request_stop(&self) -> Result<()> {
        if !Self::is_run(&self.root) {
            return Err(crate::error::Error::Run {
                path: self.root.clone(),
                reason: "not an Easel run folder (no config.toml)".into(),
            });
        }
        let path = self.stop_request();
        std::fs::write(&path, b"stop\n").map_err(|e| crate::error::Error::io(&path, e))
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
        crate::sealed::write_atomically(&self.config_path(), config.to_toml().as_bytes())
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
        Ok(LogTail::new(self.events_path()).poll()?.events)
    }

    /// Reads the logged training curves into bounded memory, however long the log (the file is
    /// streamed, never held whole).
    pub fn read_curves(&self) -> Result<Curves> {
        let mut log = LogState::default();
        LogTail::new(self.events_path()).poll_each(|t| log.observe(t))?;
        Ok(log.curves)
    }
}

/// How often, at most, a run of steps waits in the log's buffer before it is written out, so a
/// follower (another process) sees each step within this and its next step.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Appends events to `events.jsonl`.
#[derive(Debug)]
pub struct EventLog {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    flushed: std::time::Instant,
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
            flushed: std::time::Instant::now(),
        })
    }

    /// Appends one event: written out at once unless it is a step that follows a write-out by
    /// less than half a second.
    pub fn append(&mut self, event: &Event) -> Result<()> {
        let line = serde_json::to_string(event).expect("events always serialise");
        writeln!(self.file, "{line}").map_err(|e| Error::io(&self.path, e))?;
        if !matches!(event, Event::Step(_)) || self.flushed.elapsed() >= FLUSH_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    /// Flushes to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.flushed = std::time::Instant::now();
        self.file.flush().map_err(|e| Error::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::events::testing::step;
    use crate::train::{Curves, Metric};

    fn started(step: u64) -> Event {
        crate::train::events::testing::started(step, None)
    }

    #[test]
    fn curves_follow_resumes_and_stay_bounded_however_long_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let mut log = EventLog::open(&run).unwrap();
        // Killed at step 12 with the newest checkpoint at 6: steps 7..=12 are taken again.
        log.append(&started(0)).unwrap();
        (1..=12).for_each(|i| log.append(&step(i)).unwrap());
        log.append(&started(6)).unwrap();
        (7..=60_000).for_each(|i| log.append(&step(i)).unwrap());
        log.flush().unwrap();
        // A crash can cut the last line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(run.events_path())
            .unwrap()
            .write_all(b"{\"event\":\"step\",\"st")
            .unwrap();

        let curves = run.read_curves().unwrap();
        assert_eq!(curves.steps(), 60_000);
        assert!(curves.windows() <= Curves::MAX_POINTS);
        assert_eq!(curves.latest().unwrap().step, 60_000);
        // Every window's mean is its middle step: the steps taken twice were counted once.
        for [x, y] in curves.points(Metric::DLoss) {
            assert_eq!(x, y);
        }
        // The log itself keeps every line but the cut one: both starts, steps 1..=12 and 7..=60 000.
        assert_eq!(run.read_events().unwrap().len(), 2 + 12 + 59_994);
    }

    #[test]
    fn a_run_without_a_log_has_empty_curves() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(RunDir::new(dir.path()).read_curves().unwrap().steps(), 0);
    }
}
