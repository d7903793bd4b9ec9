//! Following a run folder that another process is writing — `easel train` in a terminal, or on a
//! GPU server with the folder mounted (NFS, sshfs) or synced (rsync, rclone).
//!
//! [`LogTail`] reads `events.jsonl` from where it left off, complete lines only: a half-written
//! line waits for its end. A log that shrinks or is replaced (a roll-back rewrote it, or the run was
//! started afresh) is read again from the start. [`CheckpointWatch`] lists only intact checkpoints:
//! a partial or damaged file is skipped until it verifies, never an error. [`RunFollower`] puts
//! both together with the sample grids into what a viewer shows: curves, the writer's state, the
//! newest grid.

use std::collections::HashMap;
use std::io::{BufRead, Seek};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::checkpoint::{self, Checkpoint};
use super::curves::Curves;
use super::events::{Event, StepStats, StopReason};
use super::run_dir::RunDir;
use crate::error::{Error, Result};

/// What identifies a file across polls: a replaced file (same name, new inode) is read anew.
fn identity(metadata: &std::fs::Metadata) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((metadata.dev(), metadata.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        None
    }
}

/// Reads an append-only JSON-lines log incrementally, complete lines only.
#[derive(Debug, Clone)]
pub struct LogTail {
    path: PathBuf,
    /// Bytes consumed: everything up to the end of the last complete line read.
    offset: u64,
    identity: Option<(u64, u64)>,
    modified: Option<SystemTime>,
}

/// One thing [`LogTail::poll_each`] read.
#[derive(Debug)]
pub enum Tailed {
    /// The log shrank, was replaced or disappeared: what was read before no longer holds, and
    /// the events that follow start again from its beginning.
    Reset,
    /// The event of one complete line.
    Event(Event),
}

/// What one [`LogTail::poll`] found.
#[derive(Debug, Default)]
pub struct Tail {
    /// The log shrank, was replaced or disappeared: what was read before no longer holds, and
    /// `events` start again from its beginning.
    pub reset: bool,
    /// Events of the complete lines added since the last poll (unreadable lines are skipped).
    pub events: Vec<Event>,
}

impl LogTail {
    /// A tail of `path`, nothing read yet.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            offset: 0,
            identity: None,
            modified: None,
        }
    }

    /// When the log was last written (its modification time), once it has been seen.
    pub fn modified(&self) -> Option<SystemTime> {
        self.modified
    }

    /// Reads the complete lines added since the last poll, each as one event through `f` (first
    /// [`Tailed::Reset`] when the log was reset; then `f` sees it again from the start). Says
    /// whether anything was read.
    pub fn poll_each(&mut self, mut f: impl FnMut(Tailed)) -> Result<bool> {
        let metadata = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let reset = self.offset > 0;
                *self = Self::new(std::mem::take(&mut self.path));
                if reset {
                    f(Tailed::Reset);
                }
                return Ok(reset);
            }
            Err(e) => return Err(Error::io(&self.path, e)),
        };
        let id = identity(&metadata);
        let reset =
            (self.identity.is_some() && id != self.identity) || metadata.len() < self.offset;
        if reset {
            self.offset = 0;
            f(Tailed::Reset);
        }
        self.identity = id;
        self.modified = metadata.modified().ok();
        if metadata.len() == self.offset {
            return Ok(reset);
        }
        let mut read_any = reset;
        let file = std::fs::File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let mut reader = std::io::BufReader::new(file);
        reader
            .seek(std::io::SeekFrom::Start(self.offset))
            .map_err(|e| Error::io(&self.path, e))?;
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| Error::io(&self.path, e))?;
            // The end, or a line still being written: it is read whole at a later poll.
            if read == 0 || line.last() != Some(&b'\n') {
                return Ok(read_any);
            }
            self.offset += read as u64;
            if let Ok(event) = serde_json::from_slice(&line) {
                read_any = true;
                f(Tailed::Event(event));
            }
        }
    }

    /// [`Self::poll_each`], collected.
    pub fn poll(&mut self) -> Result<Tail> {
        let mut tail = Tail::default();
        self.poll_each(|t| match t {
            Tailed::Reset => {
                tail.reset = true;
                tail.events.clear();
            }
            Tailed::Event(e) => tail.events.push(e),
        })?;
        Ok(tail)
    }
}

/// The intact checkpoints of a folder, verified once per file version (length and mtime): a
/// file still being copied or damaged is left out until it verifies.
#[derive(Debug, Default, Clone)]
pub struct CheckpointWatch {
    verified: HashMap<PathBuf, (u64, Option<SystemTime>, bool)>,
    intact: Vec<(u64, PathBuf)>,
}

impl CheckpointWatch {
    /// Lists `dir` again, verifying files not seen in this version; says whether the intact set
    /// changed.
    pub fn poll(&mut self, dir: &Path) -> bool {
        let listed = checkpoint::list(dir).unwrap_or_default();
        self.verified
            .retain(|path, _| listed.iter().any(|(_, p)| p == path));
        let mut intact = Vec::with_capacity(listed.len());
        for (step, path) in listed {
            let Ok(metadata) = std::fs::metadata(&path) else {
                continue;
            };
            let version = (metadata.len(), metadata.modified().ok());
            let ok = match self.verified.get(&path) {
                Some(&(len, modified, ok)) if (len, modified) == version => ok,
                _ => {
                    let ok = Checkpoint::load(&path).is_ok();
                    self.verified
                        .insert(path.clone(), (version.0, version.1, ok));
                    ok
                }
            };
            if ok {
                intact.push((step, path));
            }
        }
        let changed = intact != self.intact;
        self.intact = intact;
        changed
    }

    /// The intact checkpoints, oldest first.
    pub fn intact(&self) -> &[(u64, PathBuf)] {
        &self.intact
    }

    /// The newest intact checkpoint.
    pub fn newest(&self) -> Option<&(u64, PathBuf)> {
        self.intact.last()
    }
}

/// Where the process writing a run stands, as its log says.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum WriterState {
    /// No session has started (no log yet).
    #[default]
    NotStarted,
    /// Setting up or stepping.
    Training,
    /// Paused (by its user, or after a divergence).
    Paused,
    /// Its session ended normally.
    Finished(StopReason),
    /// Its session ended with an error.
    Failed(String),
}

impl WriterState {
    /// Whether a session is under way (a writer that crashed stays under way: its log says no
    /// more; [`RunFollower::last_write`] tells how long ago it wrote).
    pub fn is_live(&self) -> bool {
        matches!(self, WriterState::Training | WriterState::Paused)
    }
}

/// What changed at one [`RunFollower::poll`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Changes {
    /// The log was read again from its start.
    pub reset: bool,
    /// New events were read.
    pub events: bool,
    /// The intact checkpoints changed.
    pub checkpoints: bool,
    /// The sample grids changed.
    pub grids: bool,
}

impl Changes {
    /// Whether anything changed.
    pub fn any(&self) -> bool {
        self.reset || self.events || self.checkpoints || self.grids
    }
}

/// What a run's log says so far, folded event by event.
#[derive(Debug, Clone, Default)]
pub struct LogState {
    /// The curves logged, resumes and roll-backs taken into account (bounded memory however
    /// long the log).
    pub curves: Curves,
    /// The writer's state.
    pub state: WriterState,
    /// The step the writer stops at, when known.
    pub target_step: Option<u64>,
    /// The newest step logged.
    pub step: u64,
}

impl LogState {
    /// Folds in one thing read from the log.
    pub fn observe(&mut self, tailed: Tailed) {
        let event = match tailed {
            Tailed::Reset => {
                *self = Self::default();
                return;
            }
            Tailed::Event(e) => e,
        };
        match event {
            Event::Step(s) => {
                self.step = s.step;
                self.curves.push(s);
            }
            // A resumed session takes again the steps logged after its checkpoint.
            Event::Started {
                step, target_step, ..
            } => {
                self.curves.truncate_after(step);
                self.step = step;
                self.target_step = target_step;
                self.state = WriterState::Training;
            }
            Event::RolledBack { to_step, .. } => {
                self.curves.truncate_after(to_step);
                self.step = to_step;
            }
            Event::Preparing { .. } | Event::Resumed { .. } => self.state = WriterState::Training,
            Event::Paused { .. } => self.state = WriterState::Paused,
            Event::Finished { step, reason } => {
                self.step = step;
                self.state = WriterState::Finished(reason);
            }
            Event::Error { message, .. } => self.state = WriterState::Failed(message),
            _ => {}
        }
    }
}

/// A run folder as read so far, brought up to date by [`Self::poll`].
#[derive(Debug, Clone)]
pub struct RunFollower {
    run: RunDir,
    tail: LogTail,
    checkpoints: CheckpointWatch,
    /// What the log says.
    pub log: LogState,
    grids: Vec<(u64, PathBuf)>,
}

impl RunFollower {
    /// A follower of `dir`; nothing is read until [`Self::poll`].
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let run = RunDir::new(dir);
        Self {
            tail: LogTail::new(run.events_path()),
            run,
            checkpoints: CheckpointWatch::default(),
            log: LogState::default(),
            grids: Vec::new(),
        }
    }

    /// The run folder.
    pub fn run(&self) -> &RunDir {
        &self.run
    }

    /// Reads what was written since the last poll.
    pub fn poll(&mut self) -> Result<Changes> {
        let mut changes = Changes::default();
        let log = &mut self.log;
        changes.events = self.tail.poll_each(|t| {
            changes.reset |= matches!(t, Tailed::Reset);
            log.observe(t);
        })?;
        changes.checkpoints = self.checkpoints.poll(&self.run.checkpoints());
        let grids = list_grids(&self.run.samples());
        changes.grids = grids != self.grids;
        self.grids = grids;
        Ok(changes)
    }

    /// The newest step's figures.
    pub fn latest(&self) -> Option<&StepStats> {
        self.log.curves.latest()
    }

    /// When the log was last written.
    pub fn last_write(&self) -> Option<SystemTime> {
        self.tail.modified()
    }

    /// The intact checkpoints, oldest first.
    pub fn checkpoints(&self) -> &[(u64, PathBuf)] {
        self.checkpoints.intact()
    }

    /// The fixed-z sample grids, oldest first, as (step, path).
    pub fn grids(&self) -> &[(u64, PathBuf)] {
        &self.grids
    }
}

/// How long ago `time` was, in words ("4 s", "3 min", "2 h").
pub fn ago(time: SystemTime) -> String {
    let s = SystemTime::now()
        .duration_since(time)
        .unwrap_or_default()
        .as_secs();
    match s {
        0..120 => format!("{s} s"),
        120..7200 => format!("{} min", s / 60),
        _ => format!("{} h", s / 3600),
    }
}

/// The sample grids (`step-NNNNNNNNN.png`) in `dir`, oldest first; hidden temporary files are
/// left out.
pub fn list_grids(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut grids: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let step = name
                .strip_prefix("step-")?
                .strip_suffix(".png")?
                .parse()
                .ok()?;
            Some((step, e.path()))
        })
        .collect();
    grids.sort();
    grids
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::train::events::testing::step;
    use crate::train::run_dir::EventLog;

    fn started(step: u64) -> Event {
        crate::train::events::testing::started(step, Some(100))
    }

    fn line(event: &Event) -> Vec<u8> {
        let mut l = serde_json::to_vec(event).unwrap();
        l.push(b'\n');
        l
    }

    fn append(path: &Path, bytes: &[u8]) {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
    }

    fn steps(events: &[Event]) -> Vec<u64> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Step(s) => Some(s.step),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_half_written_line_waits_for_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let mut tail = LogTail::new(&path);
        assert!(
            tail.poll().unwrap().events.is_empty(),
            "no log yet is no error"
        );
        append(&path, &[line(&started(0)), line(&step(1))].concat());
        let whole = line(&step(2));
        let (head, rest) = whole.split_at(whole.len() / 2);
        append(&path, head);
        let t = tail.poll().unwrap();
        assert!(!t.reset);
        assert_eq!(steps(&t.events), [1]);
        // Polled again while the writer pauses mid-line: nothing new, no error.
        assert!(tail.poll().unwrap().events.is_empty());
        append(&path, rest);
        append(&path, &line(&step(3)));
        assert_eq!(steps(&tail.poll().unwrap().events), [2, 3]);
    }

    #[test]
    fn a_log_that_shrinks_or_is_replaced_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let mut tail = LogTail::new(&path);
        append(
            &path,
            &[line(&started(0)), line(&step(1)), line(&step(2))].concat(),
        );
        assert_eq!(steps(&tail.poll().unwrap().events), [1, 2]);
        // Shorter: rewritten in place.
        std::fs::write(&path, line(&step(7))).unwrap();
        let t = tail.poll().unwrap();
        assert!(t.reset);
        assert_eq!(steps(&t.events), [7]);
        // Replaced by a longer file under the same name (rsync renames its copy into place).
        let other = dir.path().join("other");
        std::fs::write(
            &other,
            [line(&step(7)), line(&step(8)), line(&step(9))].concat(),
        )
        .unwrap();
        std::fs::rename(&other, &path).unwrap();
        let t = tail.poll().unwrap();
        assert!(t.reset);
        assert_eq!(steps(&t.events), [7, 8, 9]);
        // Removed: a reset with nothing to read.
        std::fs::remove_file(&path).unwrap();
        let t = tail.poll().unwrap();
        assert!(t.reset && t.events.is_empty());
        assert!(!tail.poll().unwrap().reset, "said once");
    }

    #[test]
    fn only_intact_checkpoints_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let ckpt = |step| Checkpoint {
            state: super::super::checkpoint::TrainingState {
                step,
                epoch: 0,
                batch_in_epoch: 0,
                d_updates: step,
                g_updates: step,
                noise_word_pos: "0".into(),
                elapsed_seconds: 0.0,
            },
            config_toml: String::new(),
            sections: vec![("generator".into(), vec![7; 4096])],
        };
        let mut watch = CheckpointWatch::default();
        assert!(!watch.poll(dir.path()));
        ckpt(2)
            .save(&dir.path().join(checkpoint::file_name(2)))
            .unwrap();
        assert!(watch.poll(dir.path()));
        // Step 4 arrives in pieces, as a copy over the network would write it.
        let bytes = ckpt(4).to_bytes();
        let path = dir.path().join(checkpoint::file_name(4));
        std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
        assert!(!watch.poll(dir.path()), "a partial file is skipped");
        assert_eq!(watch.newest().unwrap().0, 2);
        std::fs::write(&path, &bytes).unwrap();
        assert!(watch.poll(dir.path()));
        assert_eq!(watch.newest().unwrap().0, 4);
        assert_eq!(watch.intact().len(), 2);
        std::fs::remove_file(dir.path().join(checkpoint::file_name(2))).unwrap();
        assert!(
            watch.poll(dir.path()),
            "a pruned checkpoint leaves the list"
        );
        assert_eq!(watch.intact().len(), 1);
    }

    #[test]
    fn a_follower_tracks_the_writer_through_resume_and_finish() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        std::fs::create_dir_all(run.samples()).unwrap();
        let mut follower = RunFollower::new(dir.path());
        assert_eq!(follower.poll().unwrap(), Changes::default());
        assert_eq!(follower.log.state, WriterState::NotStarted);
        let mut log = EventLog::open(&run).unwrap();
        log.append(&started(0)).unwrap();
        (1..=5).for_each(|i| log.append(&step(i)).unwrap());
        log.flush().unwrap();
        let changes = follower.poll().unwrap();
        assert!(changes.events && !changes.reset);
        assert_eq!(follower.log.state, WriterState::Training);
        assert_eq!(
            (follower.log.step, follower.log.target_step),
            (5, Some(100))
        );
        // Killed, then resumed from a checkpoint at 3: steps 4 and 5 are taken again.
        log.append(&started(3)).unwrap();
        log.append(&step(4)).unwrap();
        log.append(&Event::Paused { step: 4 }).unwrap();
        follower.poll().unwrap();
        assert_eq!(follower.log.state, WriterState::Paused);
        assert_eq!(follower.log.curves.steps(), 4);
        std::fs::write(run.samples().join("step-000000004.png"), b"png").unwrap();
        std::fs::write(run.samples().join(".step-000000005.png.tmp"), b"half").unwrap();
        log.append(&Event::Finished {
            step: 4,
            reason: StopReason::Requested,
        })
        .unwrap();
        let changes = follower.poll().unwrap();
        assert!(changes.grids && changes.events);
        assert_eq!(follower.grids().len(), 1, "a temporary file is not a grid");
        assert_eq!(
            follower.log.state,
            WriterState::Finished(StopReason::Requested)
        );
        assert!(!follower.log.state.is_live());
        assert!(follower.last_write().is_some());
    }

    #[test]
    fn steps_reach_the_file_within_half_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let mut log = EventLog::open(&run).unwrap();
        let mut tail = LogTail::new(run.events_path());
        log.append(&started(0)).unwrap();
        log.append(&step(1)).unwrap();
        // The start is written out at once; the step right after it waits in the buffer.
        let first = tail.poll().unwrap().events.len();
        std::thread::sleep(FLUSH_WAIT);
        log.append(&step(2)).unwrap();
        let events = tail.poll().unwrap().events;
        assert_eq!(first, 1, "the start is written at once");
        assert_eq!(
            steps(&events),
            [1, 2],
            "steps are written half a second apart at most"
        );
    }

    const FLUSH_WAIT: std::time::Duration = std::time::Duration::from_millis(550);
}
