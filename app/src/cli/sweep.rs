//! `easel sweep`: one run per point of a grid of config overrides, trained here a few at a time
//! or as one Slurm array job; `easel sweep status` says where each run stands.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use easel_core::train::follow::{RunFollower, ago};
use easel_core::train::sweep::{Axis, SlurmSubmission, Sweep};
use easel_core::train::{StopReason, Trainer, WriterState};

use super::ConfigArgs;

/// `easel sweep`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    action: Option<SweepAction>,
    #[command(flatten)]
    create: CreateArgs,
}

#[derive(Debug, Subcommand)]
enum SweepAction {
    /// Each run's step, state and newest figures.
    Status {
        /// The sweep folder.
        dir: PathBuf,
    },
    /// Train a sweep's unfinished runs: here, or submitted to Slurm again.
    Run {
        /// The sweep folder.
        dir: PathBuf,
        #[command(flatten)]
        place: Place,
    },
    /// Train run INDEX (from 0, in sweep.toml's order) of a sweep: resumed when it has a
    /// checkpoint, started when it has none, nothing when it has finished. What each Slurm
    /// array task runs.
    Task {
        /// The sweep folder.
        dir: PathBuf,
        /// The run's index (a Slurm array task's SLURM_ARRAY_TASK_ID).
        index: usize,
    },
}

/// Making a sweep.
#[derive(Debug, Args)]
struct CreateArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// One axis of the grid: a dotted key of config.toml and its values (repeatable; one run per
    /// combination), e.g. `--grid seed=1,2 --grid model.gran.steps=1,3`.
    #[arg(long = "grid", value_name = "KEY=V1,V2,…", required = true)]
    grid: Vec<Axis>,
    /// The sweep folder to create: one run folder per grid point, and sweep.toml.
    #[arg(long, required = true)]
    out: Option<PathBuf>,
    /// Make the run folders and sweep.toml only, training nothing: for a scheduler of your own
    /// (a Kubernetes Indexed Job running `easel sweep task DIR $JOB_COMPLETION_INDEX`).
    #[arg(long, conflicts_with = "slurm")]
    create_only: bool,
    #[command(flatten)]
    place: Place,
}

/// Where a sweep's runs train.
#[derive(Debug, Clone, Args)]
struct Place {
    /// Runs trained at once on this machine (each uses every core it is given).
    #[arg(long, default_value_t = 1, conflicts_with = "slurm")]
    jobs: usize,
    /// Submit one Slurm array job (one task per run) instead of training here.
    #[arg(long)]
    slurm: bool,
    /// Slurm: the partition.
    #[arg(long, requires = "slurm")]
    partition: Option<String>,
    /// Slurm: each task's time limit, HH:MM (a task warned of the limit saves and is requeued).
    #[arg(long, requires = "slurm", value_name = "HH:MM")]
    time: Option<String>,
    /// Slurm: GPUs per task.
    #[arg(long, requires = "slurm")]
    gpus: Option<u32>,
    /// Slurm: CPU cores per task.
    #[arg(long, requires = "slurm")]
    cpus_per_task: Option<u32>,
    /// Slurm: at most this many tasks at once (the array's `%N`).
    #[arg(long, requires = "slurm")]
    max_running: Option<usize>,
}

pub fn sweep(args: SweepArgs) -> Result<()> {
    match args.action {
        Some(SweepAction::Status { dir }) => status(&open(&dir)?),
        Some(SweepAction::Run { dir, place }) => train(&open(&dir)?, &place),
        Some(SweepAction::Task { dir, index }) => task(&open(&dir)?, index),
        None => {
            let c = args.create;
            let out = c.out.context("--out: where to create the sweep")?;
            let base = c.config.build()?;
            let base_name = c.config.describe();
            let sweep = Sweep::create(&out, &base, &base_name, &c.grid, Trainer::prepare_config)?;
            eprintln!(
                "sweep of {} runs in {}",
                sweep.spec.runs.len(),
                out.display()
            );
            if c.create_only {
                println!(
                    "made {} run folders; train run I with: easel sweep task {} I",
                    sweep.spec.runs.len(),
                    out.display()
                );
                return Ok(());
            }
            train(&sweep, &c.place)
        }
    }
}

fn open(dir: &Path) -> Result<Sweep> {
    if !Sweep::is_sweep(dir) {
        bail!("{}: not an Easel sweep (no sweep.toml)", dir.display());
    }
    Ok(Sweep::open(dir)?)
}

fn train(sweep: &Sweep, place: &Place) -> Result<()> {
    if place.slurm {
        return super::slurm::submit(sweep, &place.slurm_options());
    }
    if place.jobs == 0 {
        bail!("--jobs: at least 1");
    }
    run_here(sweep, place.jobs)
}

impl Place {
    fn slurm_options(&self) -> super::slurm::Options {
        super::slurm::Options {
            partition: self.partition.clone(),
            time: self.time.clone(),
            gpus: self.gpus,
            cpus_per_task: self.cpus_per_task,
            max_running: self.max_running,
        }
    }
}

/// Whether the run's log says it finished (not stopped: a stopped run is continued).
fn finished(dir: &Path) -> Option<(u64, StopReason)> {
    let mut follower = RunFollower::new(dir);
    follower.poll().ok()?;
    match follower.log.state {
        WriterState::Finished(reason) if reason != StopReason::Requested => {
            Some((follower.log.step, reason))
        }
        _ => None,
    }
}

/// Whether the run is still to train (not finished; a stopped run is continued).
pub(super) fn unfinished(dir: &Path) -> bool {
    finished(dir).is_none()
}

/// One Slurm array task (or one of `--jobs`): trains run `index` unless it has finished.
fn task(sweep: &Sweep, index: usize) -> Result<()> {
    let dirs = sweep.run_dirs();
    let dir = dirs.get(index).with_context(|| {
        format!(
            "run {index}: the sweep has {} runs (0 to {})",
            dirs.len(),
            dirs.len().saturating_sub(1)
        )
    })?;
    if let Some((step, reason)) = finished(dir) {
        eprintln!(
            "{}: already finished at step {step} ({reason:?}); nothing to do",
            dir.display()
        );
        return Ok(());
    }
    super::train::resume_run(dir.clone())
}

/// Trains the sweep's unfinished runs here, `jobs` at a time, each as its own `easel sweep task`
/// process writing its output to `easel.log` in its folder. Ctrl-C or SIGTERM stops them all,
/// each saving a checkpoint first.
fn run_here(sweep: &Sweep, jobs: usize) -> Result<()> {
    let exe = std::env::current_exe().context("finding the easel binary")?;
    let dirs = sweep.run_dirs();
    let mut queue: VecDeque<usize> = (0..dirs.len()).filter(|&i| unfinished(&dirs[i])).collect();
    if queue.is_empty() {
        eprintln!("every run of the sweep has finished");
        return status(sweep);
    }
    let stop = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    let total = queue.len();
    let mut running: Vec<(usize, Child, Instant)> = Vec::new();
    let mut failed = Vec::new();
    let mut forwarded = false;
    while !(queue.is_empty() && running.is_empty()) {
        if stop.load(Ordering::SeqCst) {
            queue.clear();
            if !forwarded {
                forwarded = true;
                eprintln!("stopping: each run saves a checkpoint first");
                for (_, child, _) in &running {
                    terminate(child);
                }
            }
        }
        while running.len() < jobs
            && let Some(i) = queue.pop_front()
        {
            let log_path = dirs[i].join("easel.log");
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .with_context(|| format!("{}", log_path.display()))?;
            let child = std::process::Command::new(&exe)
                .arg("sweep")
                .arg("task")
                .arg(&sweep.root)
                .arg(i.to_string())
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .context("starting easel sweep task")?;
            eprintln!(
                "[{}/{total}] training {}",
                total - queue.len(),
                sweep.spec.runs[i].name
            );
            running.push((i, child, Instant::now()));
        }
        std::thread::sleep(Duration::from_millis(200));
        let mut still = Vec::with_capacity(running.len());
        for (i, mut child, started) in running {
            match child.try_wait()? {
                None => still.push((i, child, started)),
                Some(exit) => {
                    let name = &sweep.spec.runs[i].name;
                    let seconds = started.elapsed().as_secs_f64();
                    if exit.success() {
                        eprintln!("{name}: done in {seconds:.0} s");
                    } else {
                        eprintln!(
                            "{name}: ended with {exit} after {seconds:.0} s (see {})",
                            dirs[i].join("easel.log").display()
                        );
                        failed.push(name.clone());
                    }
                }
            }
        }
        running = still;
    }
    status(sweep)?;
    if stop.load(Ordering::SeqCst) {
        bail!(
            "stopped; continue with: easel sweep run {}",
            sweep.root.display()
        );
    }
    if !failed.is_empty() {
        bail!(
            "{} of {total} runs failed: {}",
            failed.len(),
            failed.join(", ")
        );
    }
    Ok(())
}

/// Asks a child to save and stop (SIGTERM).
fn terminate(child: &Child) {
    #[cfg(unix)]
    {
        // SAFETY: kill(2) on a child this process started and has not yet reaped.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
    }
    #[cfg(not(unix))]
    let _ = child;
}

fn fmt(v: Option<f32>) -> String {
    v.map_or("-".into(), |v| format!("{v:.3}"))
}

/// Prints each run's step, state and newest figures.
fn status(sweep: &Sweep) -> Result<()> {
    let slurm = sweep
        .spec
        .slurm
        .last()
        .map(|s: &SlurmSubmission| super::slurm::task_states(&s.job_id));
    if let Some(s) = sweep.spec.slurm.last() {
        println!("Slurm array job {} ({})", s.job_id, s.script.display());
    }
    println!(
        "{:<28} {:>11}  {:<24} {:>7} {:>7} {:>8}  last write",
        "run", "step", "state", "D loss", "G loss", "D(G(z))"
    );
    for (i, (run, dir)) in sweep.spec.runs.iter().zip(sweep.run_dirs()).enumerate() {
        let mut follower = RunFollower::new(&dir);
        let polled = follower.poll();
        let log = &follower.log;
        let step = match log.target_step {
            Some(t) => format!("{}/{t}", log.step),
            None => log.step.to_string(),
        };
        let mut state = match (&polled, &log.state) {
            (Err(e), _) => format!("unreadable: {e}"),
            (_, WriterState::NotStarted) => "not started".into(),
            (_, WriterState::Training) => "training".into(),
            (_, WriterState::Paused) => "paused".into(),
            (_, WriterState::Finished(StopReason::Requested)) => "stopped".into(),
            (_, WriterState::Finished(reason)) => format!("finished ({reason:?})"),
            (_, WriterState::Failed(message)) => format!("failed: {message}"),
        };
        if let Some(Some(task)) = slurm.as_ref().map(|states| states.get(&i)) {
            state = format!("{state} [{task}]");
        }
        let latest = follower.latest();
        println!(
            "{:<28} {:>11}  {:<24} {:>7} {:>7} {:>8}  {}",
            run.name,
            step,
            state,
            fmt(latest.and_then(|s| s.d_loss)),
            fmt(latest.and_then(|s| s.g_loss)),
            fmt(latest.and_then(|s| s.d_fake)),
            follower
                .last_write()
                .map_or_else(|| "-".into(), |t| format!("{} ago", ago(t)))
        );
    }
    Ok(())
}
