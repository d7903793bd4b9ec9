//! The crash-safety soak: a training run killed with SIGKILL at random moments (some of them in
//! the middle of a checkpoint write), resumed after each kill, then finished; its final
//! checkpoint must equal an uninterrupted run's with the same seed, and no kill may cost more
//! than one checkpoint interval of work.
//!
//! The `soak` binary runs it (`cargo run --release -p easel-tests --bin soak -- --kills 20`); the
//! worker it kills is the same binary (`soak worker RUN STEPS`), training in-process with
//! `easel-core`. It trains any of the papers' models (`--model gran|lapgan|stackgan1|stackgan2`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use easel_core::backend::BackendKind;
use easel_core::sample::LoadedModel;
use easel_core::train::checkpoint::{self, Checkpoint};
use easel_core::train::{Event, RunConfig, RunDir, Trainer};

/// What a soak run is asked to do.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// SIGKILLs to send.
    pub kills: usize,
    /// Training steps of the whole run.
    pub steps: u64,
    /// Seed of the kill times.
    pub seed: u64,
    /// Where the two runs go.
    pub dir: PathBuf,
    /// The worker executable (the `soak` binary).
    pub worker: PathBuf,
    /// The model trained.
    pub model: SoakModel,
}

/// The models the soak can train: each paper's, tiny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SoakModel {
    /// GRAN, three drawing steps (16 × 16).
    #[default]
    Gran,
    /// LAPGAN, two levels (20 × 20).
    Lapgan,
    /// StackGAN-v1 on captions, Stage-II from step 8 (16 × 16).
    StackganV1,
    /// StackGAN-v2 on captions, two scales (16 × 16).
    StackganV2,
}

impl SoakModel {
    /// Every model, by its command-line name.
    pub const ALL: [(&'static str, SoakModel); 4] = [
        ("gran", SoakModel::Gran),
        ("lapgan", SoakModel::Lapgan),
        ("stackgan1", SoakModel::StackganV1),
        ("stackgan2", SoakModel::StackganV2),
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .expect("listed")
            .0
    }

    /// The model of a command-line name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }
}

/// What a soak run found.
#[derive(Debug, Clone, Default)]
pub struct SoakReport {
    /// Kills sent while the worker was training.
    pub kills: usize,
    /// Kills that left a checkpoint's temporary file behind (they landed mid-write).
    pub mid_write: usize,
    /// Most steps any kill cost (last step reported minus the checkpoint resumed from).
    pub most_steps_lost: u64,
    /// The checkpoint interval (the most a kill may cost).
    pub checkpoint_every: u64,
    /// Resumes that warned (e.g. a damaged newest checkpoint skipped).
    pub resume_warnings: Vec<String>,
    /// Everything that went wrong; empty when the soak passed.
    pub failures: Vec<String>,
}

/// The run the soak trains: one of the tests' tiny models, a checkpoint every 4 steps.
pub fn soak_run_config(model: SoakModel) -> RunConfig {
    use easel_core::model::stackgan::Version;
    let mut c = match model {
        SoakModel::Gran => crate::tiny_config(2, 11),
        SoakModel::Lapgan => crate::tiny_lapgan_config(0, 11),
        SoakModel::StackganV1 => crate::tiny_stackgan_config(Version::V1, true, 8, 11),
        SoakModel::StackganV2 => crate::tiny_stackgan_config(Version::V2, true, 0, 11),
    };
    c.train.checkpoint_every = 4;
    c.train.sample_every = 1_000_000;
    c.train.keep_checkpoints = 3;
    c
}

/// The worker: trains the run in `run` (created when it holds no config yet, else resumed) to
/// `steps`, printing `started N` (with `warning …` lines first) and `step N` after every step.
pub fn worker(run: &Path, steps: u64, model: SoakModel) -> easel_core::Result<()> {
    let mut trainer = if RunDir::is_run(run) {
        Trainer::resume(run, None)?
    } else {
        Trainer::create(run, soak_run_config(model))?
    };
    trainer.set_schedule(Some(steps), None, None)?;
    let (_commands, receiver) = mpsc::channel();
    trainer.run(&receiver, &mut |event| match event {
        Event::Started { step, warnings, .. } => {
            for w in warnings {
                println!("warning {w}");
            }
            println!("started {step}");
        }
        Event::Step(s) => println!("step {}", s.step),
        _ => {}
    })?;
    Ok(())
}

/// A worker and the steps it has reported.
struct Worker {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Worker {
    fn spawn(exe: &Path, run: &Path, steps: u64, model: SoakModel) -> std::io::Result<Self> {
        let mut child = Command::new(exe)
            .arg("worker")
            .arg(run)
            .arg(steps.to_string())
            .arg(model.name())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout)
                .lines()
                .map_while(std::result::Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self { child, lines })
    }
}

/// The newest intact checkpoint's step in `run` (0 when there is none).
fn newest_step(run: &Path) -> u64 {
    checkpoint::load_latest(&RunDir::new(run).checkpoints()).map_or(0, |(c, _, _)| c.state.step)
}

/// Temporary (partly written) checkpoint files in `run`.
fn temporaries(run: &Path) -> usize {
    std::fs::read_dir(RunDir::new(run).checkpoints())
        .map(|d| {
            d.filter_map(std::result::Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
                .count()
        })
        .unwrap_or(0)
}

/// The final checkpoint's state and weights, for comparing two runs.
fn final_checkpoint(run: &Path) -> Result<(Checkpoint, PathBuf), String> {
    checkpoint::load_latest(&RunDir::new(run).checkpoints())
        .map(|(c, p, _)| (c, p))
        .map_err(|e| e.to_string())
}

/// Runs the soak: an uninterrupted reference, then the killed and resumed run, then compares.
pub fn soak(config: &SoakConfig, log: &mut dyn FnMut(&str)) -> std::io::Result<SoakReport> {
    let reference = config.dir.join("reference");
    let soaked = config.dir.join("soaked");
    for dir in [&reference, &soaked] {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
    }
    std::fs::create_dir_all(&config.dir)?;
    let mut report = SoakReport {
        checkpoint_every: soak_run_config(config.model).train.checkpoint_every,
        ..SoakReport::default()
    };

    // The step time, from the worker's first step to its last (set-up, such as training a
    // built-in text encoder, would make the kill times too long).
    let started = Instant::now();
    let mut reference_worker =
        Worker::spawn(&config.worker, &reference, config.steps, config.model)?;
    let mut stepping_since = None;
    for line in reference_worker.lines.iter() {
        if line.starts_with("started ") {
            stepping_since = Some(Instant::now());
        }
    }
    let stepping = stepping_since.unwrap_or(started).elapsed().as_secs_f64();
    let status = reference_worker.child.wait()?;
    if !status.success() {
        report
            .failures
            .push(format!("the uninterrupted run failed: {status}"));
        return Ok(report);
    }
    let per_step = stepping / config.steps as f64;
    log(&format!(
        "reference: {} steps in {:.1} s ({:.1} s stepping)",
        config.steps,
        started.elapsed().as_secs_f64(),
        stepping
    ));

    let mut delays = crate::SplitMix64(config.seed);
    while report.kills < config.kills {
        let mut worker = Worker::spawn(&config.worker, &soaked, config.steps, config.model)?;
        let mut last_step = None;
        let mut resumed_from = None;
        // Even kills: somewhere in the next 0–12 steps' time after the worker starts. Odd
        // kills: 0–3 ms after a step that writes a checkpoint, to land inside the write.
        let at_checkpoint = report.kills % 2 == 1;
        let wait = if at_checkpoint {
            Duration::from_secs_f64(0.003 * delays.unit())
        } else {
            Duration::from_secs_f64(per_step * 12.0 * delays.unit())
        };
        let every = report.checkpoint_every;
        let mut deadline = None;
        let finished = loop {
            match worker.lines.recv_timeout(Duration::from_millis(1)) {
                Ok(line) => {
                    if let Some(n) = line.strip_prefix("step ") {
                        last_step = n.parse::<u64>().ok();
                        let writes = last_step.is_some_and(|n| n % every == 0);
                        if at_checkpoint && writes && deadline.is_none() {
                            deadline = Some(Instant::now() + wait);
                        }
                    } else if let Some(n) = line.strip_prefix("started ") {
                        resumed_from = n.parse::<u64>().ok();
                        if !at_checkpoint {
                            deadline = Some(Instant::now() + wait);
                        }
                    } else if let Some(w) = line.strip_prefix("warning ") {
                        report.resume_warnings.push(w.to_string());
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break true,
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break false;
            }
        };
        if finished {
            let status = worker.child.wait()?;
            if !status.success() {
                report.failures.push(format!(
                    "a resume failed ({status}) after kill {}",
                    report.kills
                ));
            }
            log("the run finished before all kills were sent");
            break;
        }
        worker.child.kill()?; // SIGKILL
        worker.child.wait()?;
        // Lines the worker printed before it died.
        while let Ok(line) = worker.lines.try_recv() {
            if let Some(n) = line.strip_prefix("step ") {
                last_step = n.parse::<u64>().ok();
            }
        }
        report.kills += 1;
        let mid_write = temporaries(&soaked) > 0;
        report.mid_write += usize::from(mid_write);
        let kept = newest_step(&soaked);
        let reached = last_step.or(resumed_from).unwrap_or(0);
        let lost = reached.saturating_sub(kept);
        report.most_steps_lost = report.most_steps_lost.max(lost);
        if lost > report.checkpoint_every {
            report.failures.push(format!(
                "kill {}: reached step {reached} but the newest intact checkpoint is step {kept}",
                report.kills
            ));
        }
        log(&format!(
            "kill {:2}: resumed from {:?}, reached step {reached}, newest checkpoint {kept}{}",
            report.kills,
            resumed_from,
            if mid_write { " (mid-write)" } else { "" }
        ));
    }

    let status = Worker::spawn(&config.worker, &soaked, config.steps, config.model)?
        .child
        .wait()?;
    if !status.success() {
        report
            .failures
            .push(format!("the last resume failed: {status}"));
        return Ok(report);
    }
    match (final_checkpoint(&reference), final_checkpoint(&soaked)) {
        (Ok((a, pa)), Ok((b, pb))) => {
            let mut sa = a.state.clone();
            sa.elapsed_seconds = b.state.elapsed_seconds;
            if sa != b.state {
                report.failures.push(format!(
                    "training states differ: {:?} vs {:?}",
                    a.state, b.state
                ));
            }
            // Weights by value (a record's bytes also hold per-process parameter ids).
            let load = |run: &Path, path: &Path| {
                LoadedModel::load(run, Some(path), BackendKind::Cpu).map(|m| {
                    (
                        m.networks.generator_parameters(),
                        m.networks.critic_parameters(),
                    )
                })
            };
            match (load(&reference, &pa), load(&soaked, &pb)) {
                (Ok((ga, da)), Ok((gb, db))) => {
                    for (name, x, y) in [("generator", ga, gb), ("discriminator", da, db)] {
                        let differ: Vec<&String> = x
                            .iter()
                            .filter(|(k, v)| y.get(*k) != Some(v))
                            .map(|(k, _)| k)
                            .collect();
                        if !differ.is_empty() || x.len() != y.len() {
                            report.failures.push(format!(
                                "the final {name}'s weights differ from the uninterrupted \
                                 run's: {differ:?}"
                            ));
                        }
                    }
                }
                (x, y) => report.failures.push(format!(
                    "a final checkpoint does not load: {:?} {:?}",
                    x.err(),
                    y.err()
                )),
            }
        }
        (a, b) => report.failures.push(format!(
            "no final checkpoint: reference {:?}, soaked {:?}",
            a.err(),
            b.err()
        )),
    }
    Ok(report)
}
