//! The studio's side of background work: a training session (a `TrainingJob` plus everything the
//! panels show about it, updated once per frame from its events), and one-shot jobs (loading a
//! dataset preview, sampling a checkpoint) whose result arrives through a channel.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};

use easel_core::images::ImageBatch;
use easel_core::train::{
    Command, Curves, Divergence, Event, JobStart, RunDir, StepStats, StopReason, TrainingJob,
};

/// Steps D(G(z)) may stay pinned near 0 or 1 before the alarm pauses training.
pub const PINNED_STEPS: usize = 200;
/// How close to 0 or 1 counts as pinned.
pub const PINNED_MARGIN: f32 = 0.01;
/// Most diversity readings kept (older ones are thinned to every other beyond this).
const MAX_DIVERSITY: usize = 4096;

/// Where a session stands.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionStatus {
    /// Loading data and building the model.
    Starting,
    /// Stepping.
    Running,
    /// Paused by the user or an alarm.
    Paused,
    /// Ended normally.
    Finished(StopReason),
    /// Ended with an error.
    Failed(String),
}

/// A training session as the studio sees it.
pub struct TrainSession {
    job: TrainingJob,
    /// The run folder.
    pub run_dir: PathBuf,
    /// Where it stands.
    pub status: SessionStatus,
    /// The run's curves (window means in bounded memory) and its newest steps.
    pub curves: Curves,
    /// The latest fixed-z sample grid and its step.
    pub samples: Option<(u64, ImageBatch)>,
    /// A new sample grid arrived since the panel last uploaded it.
    pub samples_changed: bool,
    /// Steps per epoch.
    pub steps_per_epoch: u64,
    /// The step the run stops at, when known.
    pub target_step: Option<u64>,
    /// The newest checkpoint written.
    pub last_checkpoint: Option<(u64, PathBuf)>,
    /// Why the divergence alarm paused training, if it did.
    pub alarm: Option<String>,
    /// Warnings from the job.
    pub warnings: Vec<String>,
    /// The divergence that paused training, until it is rolled back or a step succeeds.
    pub divergence: Option<Divergence>,
    /// What the last roll-back did, in words.
    pub rolled_back: Option<String>,
    /// What the set-up is doing before the first step, and the fraction done when known.
    pub preparing: Option<(String, Option<f32>)>,
    /// The mode-collapse watch's alarm on the newest sample grid, if it sounded.
    pub collapse_alarm: Option<String>,
    /// The fixed-z grids' diversity relative to real images, by step.
    pub diversity: Vec<(u64, f64)>,
    /// Classes the newest grid covers, of how many (when a classifier is cached).
    pub coverage: Option<(usize, usize)>,
    pinned: PinnedWatch,
}

/// The pinned-D alarm: counts the consecutive steps whose D(G(z)) stays within
/// [`PINNED_MARGIN`] of 0 or 1.
#[derive(Debug, Default)]
pub struct PinnedWatch {
    steps: usize,
}

impl PinnedWatch {
    /// Reads step `step`'s mean D(G(z)); the alarm, in words, on the step that makes
    /// [`PINNED_STEPS`] in a row.
    pub fn observe(&mut self, step: u64, d_fake: f32) -> Option<String> {
        let pinned = !(PINNED_MARGIN..=1.0 - PINNED_MARGIN).contains(&d_fake);
        self.steps = if pinned { self.steps + 1 } else { 0 };
        (self.steps == PINNED_STEPS).then(|| {
            let side = if d_fake < 0.5 {
                "below 0.01: D rejects every sample and G's gradient vanishes"
            } else {
                "above 0.99: D accepts every sample and no longer teaches G"
            };
            format!(
                "Paused at step {step}: D(G(z)) stayed {side} for {PINNED_STEPS} steps. \
                 Try a lower D learning rate, or resume to continue anyway."
            )
        })
    }
}

impl TrainSession {
    /// Starts a job; `wake` repaints the UI when an event arrives.
    pub fn start(start: JobStart, wake: impl Fn() + Send + 'static) -> std::io::Result<Self> {
        let (run_dir, resuming) = match &start {
            JobStart::New { run_dir, .. } => (run_dir.clone(), false),
            JobStart::Resume { run_dir, .. } => (run_dir.clone(), true),
        };
        // A resumed run's curves start where its event log does (a damaged log only loses the
        // old curves, not the run).
        let curves = if resuming {
            RunDir::new(&run_dir).read_curves().unwrap_or_default()
        } else {
            Curves::default()
        };
        Ok(Self {
            job: TrainingJob::spawn(start, wake)?,
            run_dir,
            status: SessionStatus::Starting,
            curves,
            samples: None,
            samples_changed: false,
            steps_per_epoch: 0,
            target_step: None,
            last_checkpoint: None,
            alarm: None,
            collapse_alarm: None,
            preparing: None,
            divergence: None,
            rolled_back: None,
            diversity: Vec::new(),
            coverage: None,
            warnings: Vec::new(),
            pinned: PinnedWatch::default(),
        })
    }

    /// Where the job hands its networks over (see [`easel_core::train::Snapshot`]).
    pub fn live(&self) -> easel_core::train::LiveSlot {
        self.job.live()
    }

    /// Whether the job can still take commands.
    pub fn is_live(&self) -> bool {
        matches!(
            self.status,
            SessionStatus::Starting | SessionStatus::Running | SessionStatus::Paused
        )
    }

    /// Sends a command (ignored once the job has ended).
    pub fn send(&self, command: Command) {
        if self.is_live() {
            self.job.send(command);
        }
    }

    /// The latest step's figures.
    pub fn latest(&self) -> Option<&StepStats> {
        self.curves.latest()
    }

    /// Applies every event that arrived; call once per frame.
    pub fn poll(&mut self) {
        for event in self.job.drain() {
            self.apply(event);
        }
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Preparing { what, fraction } => self.preparing = Some((what, fraction)),
            Event::Started {
                step,
                steps_per_epoch,
                target_step,
                warnings,
                ..
            } => {
                // Steps logged after the checkpoint resumed from are taken again.
                self.curves.truncate_after(step);
                self.status = SessionStatus::Running;
                self.preparing = None;
                self.steps_per_epoch = steps_per_epoch;
                self.target_step = target_step;
                for w in warnings {
                    if !self.warnings.contains(&w) {
                        self.warnings.push(w);
                    }
                }
            }
            Event::Diverged(d) => self.divergence = Some(d),
            Event::RolledBack {
                from_step,
                to_step,
                learning_rates: (lr_d, lr_g),
            } => {
                self.curves.truncate_after(to_step);
                self.divergence = None;
                self.alarm = None;
                self.pinned = PinnedWatch::default();
                self.rolled_back = Some(format!(
                    "Rolled back from step {from_step} to the checkpoint at step {to_step}; \
                     learning rates now D {lr_d:.2e}, G {lr_g:.2e} (saved in config.toml)"
                ));
            }
            Event::Step(stats) => {
                self.divergence = None;
                self.watch_for_collapse(&stats);
                self.curves.push(stats);
            }
            Event::Samples {
                step,
                images,
                collapse,
                ..
            } => {
                self.samples = Some((step, images));
                self.samples_changed = true;
                if let Some(reading) = collapse {
                    self.collapse_alarm = reading.alarm.clone();
                    self.diversity.push((step, reading.diversity));
                    if self.diversity.len() > MAX_DIVERSITY {
                        let mut keep = false;
                        self.diversity.retain(|_| {
                            keep = !keep;
                            keep
                        });
                    }
                    self.coverage = reading.coverage;
                }
            }
            Event::Checkpoint { step, path } => self.last_checkpoint = Some((step, path)),
            Event::Paused { .. } => self.status = SessionStatus::Paused,
            Event::Resumed { .. } => self.status = SessionStatus::Running,
            Event::Finished { reason, .. } => self.status = SessionStatus::Finished(reason),
            Event::Error { message, .. } => self.status = SessionStatus::Failed(message),
            Event::EpochEnd { .. } => {}
        }
    }

    fn watch_for_collapse(&mut self, stats: &StepStats) {
        let Some(d_fake) = stats.d_fake else { return };
        let alarm = self.pinned.observe(stats.step, d_fake);
        if alarm.is_some() && self.status == SessionStatus::Running {
            self.alarm = alarm;
            self.job.send(Command::Pause);
        }
    }

    /// Waits until the job ends (used when closing after a final save).
    pub fn wait(&mut self) {
        while self.is_live() {
            match self.job.next_event() {
                Some(e) => self.apply(e),
                None => break,
            }
        }
    }
}

/// The studio's one-shot background jobs (sampling, previews, battles, exports): panels start
/// them through it, so the studio knows what is running — the status bar names them — and each
/// leaves the list when its work ends, answered, panicked or never started.
#[derive(Debug, Clone, Default)]
pub struct Jobs(Arc<Mutex<Vec<String>>>);

/// Takes a job off the list when dropped: when its work returns or panics, or with the work
/// when its thread could not start.
struct Running(Arc<Mutex<Vec<String>>>, String);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(mut running) = self.0.lock()
            && let Some(i) = running.iter().position(|n| n == &self.1)
        {
            running.remove(i);
        }
    }
}

impl Jobs {
    /// Runs `work` on a thread named `name` as [`Pending::spawn`] does, listed while it runs.
    pub fn spawn<T: Send + 'static>(
        &self,
        name: &str,
        wake: impl Fn() + Send + 'static,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Pending<T> {
        if let Ok(mut running) = self.0.lock() {
            running.push(name.to_string());
        }
        let listed = Running(self.0.clone(), name.to_string());
        Pending::spawn(name, wake, move || {
            let _listed = listed;
            work()
        })
    }

    /// The jobs running now, by thread name, oldest first.
    pub fn running(&self) -> Vec<String> {
        self.0.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// A one-shot background computation whose result the UI polls for.
pub struct Pending<T> {
    receiver: Receiver<T>,
}

impl<T: Send + 'static> Pending<T> {
    /// Runs `work` on a thread named `name`, calling `wake` when done.
    pub fn spawn(
        name: &str,
        wake: impl Fn() + Send + 'static,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Self {
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let _ = tx.send(work());
                wake();
            });
        if let Err(e) = spawned {
            // Without a thread the result never comes; the receiver reports a disconnect.
            eprintln!("could not start {name}: {e}");
        }
        Self { receiver: rx }
    }
}

impl<T> Pending<T> {
    /// The result, once ready; an error in words if the worker ended without one (it could not
    /// start, or it panicked), so no panel waits forever.
    pub fn poll(&self) -> Option<Result<T, String>> {
        match self.receiver.try_recv() {
            Ok(v) => Some(Ok(v)),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => Some(Err(
                "the worker thread ended without an answer (see the terminal for details)".into(),
            )),
        }
    }
}

impl<X, E: std::fmt::Display> Pending<Result<X, E>> {
    /// [`Pending::poll`] for work that can fail: every failure as words.
    pub fn poll_result(&self) -> Option<Result<X, String>> {
        self.poll()
            .map(|r| r.and_then(|inner| inner.map_err(|e| e.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait<T>(p: &Pending<T>) -> Result<T, String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(r) = p.poll() {
                return r;
            }
            assert!(std::time::Instant::now() < deadline, "no answer");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn the_pinned_d_alarm_sounds_after_its_steps_in_a_row() {
        let mut watch = PinnedWatch::default();
        for step in 1..PINNED_STEPS as u64 {
            assert_eq!(watch.observe(step, 0.001), None, "step {step}");
        }
        // A step away from the edge starts the count again.
        assert_eq!(watch.observe(PINNED_STEPS as u64, 0.3), None);
        for step in 1..PINNED_STEPS as u64 {
            assert_eq!(watch.observe(step, 0.999), None, "step {step}");
        }
        let alarm = watch.observe(777, 0.995).expect("the alarm");
        assert!(
            alarm.contains("step 777") && alarm.contains("above 0.99"),
            "{alarm}"
        );
        // Once: the next pinned step does not sound it again.
        assert_eq!(watch.observe(778, 0.999), None);
        let mut low = PinnedWatch::default();
        let alarm = (1..=PINNED_STEPS as u64)
            .filter_map(|s| low.observe(s, 0.0))
            .next()
            .expect("the alarm");
        assert!(alarm.contains("below 0.01"), "{alarm}");
        // Within the margin's inner edge is not pinned.
        let mut edge = PinnedWatch::default();
        assert!((1..=2 * PINNED_STEPS as u64).all(|s| edge.observe(s, PINNED_MARGIN).is_none()));
    }

    #[test]
    fn jobs_are_listed_while_they_run() {
        let jobs = Jobs::default();
        let (go, held) = mpsc::channel::<()>();
        let job = jobs.spawn("easel-test-wait", || {}, move || held.recv().is_ok());
        let panics: Pending<u8> = jobs.spawn("easel-test-panic", || {}, || panic!("deliberate"));
        assert!(wait(&panics).is_err(), "a panic answers in words");
        assert_eq!(
            jobs.running(),
            ["easel-test-wait"],
            "the panicked job left the list"
        );
        go.send(()).unwrap();
        assert_eq!(wait(&job), Ok(true));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !jobs.running().is_empty() {
            assert!(std::time::Instant::now() < deadline, "{:?}", jobs.running());
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn a_worker_that_panics_answers_with_an_error() {
        let ok = Pending::spawn("easel-test", || {}, || 42);
        assert_eq!(wait(&ok), Ok(42));
        let failed: Pending<Result<u8, String>> = Pending::spawn(
            "easel-test",
            || {},
            || {
                panic!("deliberate");
            },
        );
        let e = wait(&failed).unwrap_err();
        assert!(e.contains("ended without an answer"), "{e}");
        let words: Pending<Result<u8, String>> =
            Pending::spawn("easel-test", || {}, || Err("bad folder".to_string()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let r = loop {
            if let Some(r) = words.poll_result() {
                break r;
            }
            assert!(std::time::Instant::now() < deadline);
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        assert_eq!(r, Err("bad folder".to_string()));
    }
}
