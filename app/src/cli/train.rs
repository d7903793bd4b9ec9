//! `easel train` and `easel resume`: run a training job and show its progress.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use easel_core::backend::BackendKind;
use easel_core::train::{Command, Divergence, Event, StopReason, Trainer};
use indicatif::{ProgressBar, ProgressStyle};

use super::ConfigArgs;

/// `easel train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The run folder to create.
    #[arg(long)]
    out: PathBuf,
}

/// `easel resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run folder.
    run: PathBuf,
    #[command(flatten)]
    backend: super::BackendArg,
    /// Stop after this many training steps in all.
    #[arg(long)]
    max_steps: Option<u64>,
    /// Stop after this many epochs in all.
    #[arg(long)]
    epochs: Option<u64>,
    /// Stop after this many minutes of training in this session: steps with their sample grids
    /// and checkpoints.
    #[arg(long)]
    minutes: Option<f64>,
    /// Multiply both learning rates by this factor from now on (written to the run's
    /// config.toml), e.g. 0.5 after a divergence.
    #[arg(long)]
    lr_scale: Option<f64>,
    /// Data parallel from now on: split each batch over these devices (written to the run's
    /// config.toml; `one` goes back to one device of the backend).
    #[arg(long, value_name = "DEVICE,DEVICE,…|one")]
    devices: Option<String>,
}

pub fn train(args: TrainArgs) -> Result<()> {
    let mut config = args.config.build()?;
    config.backend = usable_or_cpu(config.backend)?;
    let trainer = preparing(|report| Trainer::create_reporting(&args.out, config, report))?;
    let config = trainer.config();
    eprintln!(
        "training {} on {} ({}) into {}",
        config.model.label(),
        trainer.data().name,
        config.backend,
        args.out.display()
    );
    say_devices(config);
    drive(trainer)
}

/// Continues `run` as `easel resume RUN` does, with its config's schedule and backend.
pub fn resume_run(run: PathBuf) -> Result<()> {
    resume(ResumeArgs {
        run,
        backend: super::BackendArg::default(),
        max_steps: None,
        epochs: None,
        minutes: None,
        lr_scale: None,
        devices: None,
    })
}

pub fn resume(args: ResumeArgs) -> Result<()> {
    if let Some(list) = &args.devices {
        let run = easel_core::train::RunDir::new(&args.run);
        let mut config = run.load_config()?;
        config.devices = if list.trim() == "one" {
            Vec::new()
        } else {
            easel_core::backend::DeviceSpec::parse_list(list)?
        };
        if let Some(first) = config.devices.first() {
            config.backend = first.kind;
        }
        config.validate()?;
        run.save_config(&config)?;
    }
    let asked = match args.backend.chosen() {
        Some(backend) => backend,
        None => {
            easel_core::train::RunDir::new(&args.run)
                .load_config()?
                .backend
        }
    };
    let backend = Some(usable_or_cpu(asked)?);
    let mut trainer = preparing(|report| Trainer::resume_reporting(&args.run, backend, report))?;
    trainer.set_schedule(args.max_steps, args.epochs, args.minutes)?;
    if let Some(factor) = args.lr_scale {
        if !(factor.is_finite() && factor > 0.0) {
            bail!("--lr-scale: expected a positive factor, found {factor}");
        }
        let c = trainer.scale_learning_rates(factor)?;
        eprintln!(
            "learning rates now D {:.2e}, G {:.2e} (saved in config.toml)",
            c.train.lr_d, c.train.lr_g
        );
    }
    let (step, epoch) = (trainer.state().step, trainer.state().epoch);
    let train = &trainer.config().train;
    let done = match trainer.stop_reason() {
        Some(StopReason::MaxSteps) => Some(format!(
            "it is at step {step} and stops at step {} (pass a larger --max-steps)",
            train.max_steps.unwrap_or(step)
        )),
        Some(StopReason::Epochs) => Some(format!(
            "it has trained {epoch} epochs and stops after {} (pass a larger --epochs)",
            train.epochs.unwrap_or(epoch)
        )),
        _ => None,
    };
    if let Some(why) = done {
        eprintln!("nothing to train in {}: {why}", args.run.display());
        return Ok(());
    }
    eprintln!("resuming {} at step {step}", args.run.display());
    say_devices(trainer.config());
    drive(trainer)
}

/// Says how a data-parallel run splits its batches, and what that does to BatchNorm.
fn say_devices(config: &easel_core::train::RunConfig) {
    let n = config.devices.len();
    if n < 2 {
        return;
    }
    let names: Vec<String> = config.devices.iter().map(ToString::to_string).collect();
    eprintln!(
        "data parallel: each batch of {} split over {}",
        config.train.batch_size,
        names.join(", ")
    );
    if config.shards_batch_norm() {
        eprintln!(
            "note: BatchNorm normalises each device's {} images by their own statistics",
            config.train.batch_size / n
        );
    }
}

/// The backend asked for when its device answers; otherwise, only with the user's agreement
/// (asked on a terminal), the CPU; without a terminal to ask on, an error that says how to choose
/// the CPU.
fn usable_or_cpu(asked: BackendKind) -> Result<BackendKind> {
    use std::io::{BufRead, IsTerminal, Write};
    let Err(why) = asked.usable() else {
        return Ok(asked);
    };
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        bail!("{why}; pass `--backend cpu` to train on the CPU instead");
    }
    eprint!("{why}.\nTrain on the CPU instead? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
        eprintln!("training on the CPU");
        Ok(BackendKind::Cpu)
    } else {
        bail!("{why}; not training")
    }
}

/// Ctrl-C (or SIGTERM) asks the trainer to stop at the next step boundary, which saves a
/// checkpoint first; a second Ctrl-C quits at once (what the last checkpoint holds is kept), a
/// second SIGTERM changes nothing. A
/// write past the file-size limit (SIGXFSZ) fails as an error instead of killing the process.
/// The signal that asked training to stop, once one did (0 before).
static INTERRUPTED_BY: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// The exit status of a run stopped by a signal after saving: 128 + the signal (130 for Ctrl-C,
/// 143 for SIGTERM), as a shell reports a process the signal ended. A Slurm task tells by it
/// that its run was interrupted, not finished, and requeues itself.
pub const fn interrupted_status(signal: i32) -> i32 {
    128 + signal
}

#[cfg(unix)]
fn stop_on_interrupt(commands: mpsc::Sender<Command>, bar: ProgressBar) {
    use signal_hook::consts::{SIGINT, SIGTERM, SIGXFSZ};
    // SAFETY: the handler does nothing (async-signal-safe); it only replaces the default action.
    let _ = unsafe { signal_hook::low_level::register(SIGXFSZ, || {}) };
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("easel-signals".into())
        .spawn(move || {
            let mut asked = false;
            for signal in signals.forever() {
                let _ = INTERRUPTED_BY.compare_exchange(
                    0,
                    signal,
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                );
                // A second Ctrl-C is a person in a hurry. A second SIGTERM is not: Slurm
                // sends two a few milliseconds apart when it signals a job step, and the save
                // under way must finish (a scheduler that cannot wait sends SIGKILL).
                if asked {
                    if signal == SIGINT {
                        bar.suspend(|| eprintln!("interrupted again: quitting without saving"));
                        std::process::exit(130);
                    }
                    continue;
                }
                asked = true;
                bar.suspend(|| {
                    if signal == SIGINT {
                        eprintln!(
                            "interrupted: saving a checkpoint and stopping (Ctrl-C again to \
                             quit without saving)"
                        )
                    } else {
                        eprintln!("asked to terminate: saving a checkpoint and stopping")
                    }
                });
                let _ = commands.send(Command::Stop);
            }
        });
}

#[cfg(not(unix))]
fn stop_on_interrupt(_commands: mpsc::Sender<Command>, _bar: ProgressBar) {}

/// Runs a trainer's set-up under a spinner that says what it is doing (the built-in text
/// encoder trains for up to a minute before the first step).
fn preparing<T>(set_up: impl FnOnce(&mut dyn FnMut(&str, Option<f32>)) -> T) -> T {
    let bar = ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(250));
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_msg}")
            .expect("a valid template"),
    );
    let out = set_up(&mut |what, fraction| {
        bar.set_message(match fraction {
            Some(f) => format!("{what}: {:.0}%", 100.0 * f),
            None => format!("{what}…"),
        })
    });
    bar.finish_and_clear();
    out
}

fn fmt(v: Option<f32>) -> String {
    v.map_or("  -   ".into(), |v| format!("{v:6.3}"))
}

/// Runs the trainer on this thread, printing progress; errors end in a non-zero exit.
fn drive(mut trainer: Trainer) -> Result<()> {
    let bar = ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(250));
    let style = ProgressStyle::with_template(
        "{spinner} step {pos}/{len} [{elapsed_precise} ETA {eta_precise}] {wide_msg}",
    )
    .expect("a valid template");
    let open_style =
        ProgressStyle::with_template("{spinner} step {pos} [{elapsed_precise}] {wide_msg}")
            .expect("a valid template");
    // The CLI sends no command; the sender lives until training ends.
    let (commands, receiver) = mpsc::channel();
    stop_on_interrupt(commands.clone(), bar.clone());
    let mut error = None;
    let run = trainer.run_dir().root.clone();
    let result = trainer.run(&receiver, &mut |event| match event {
        Event::Started {
            step,
            target_step,
            warnings,
            steps_per_epoch,
            ..
        } => {
            for w in warnings {
                bar.suspend(|| eprintln!("warning: {w}"));
            }
            match target_step {
                Some(t) => {
                    bar.set_style(style.clone());
                    bar.set_length(t);
                }
                None => bar.set_style(open_style.clone()),
            }
            bar.set_position(step);
            bar.reset_eta();
            bar.suspend(|| eprintln!("{steps_per_epoch} steps per epoch"));
        }
        Event::Step(s) => {
            bar.set_position(s.step);
            bar.set_message(format!(
                "epoch {} | D {} G {} | D(x) {} D(G(z)) {} | {:.0} img/s",
                s.epoch,
                fmt(s.d_loss),
                fmt(s.g_loss),
                fmt(s.d_real),
                fmt(s.d_fake),
                s.images_per_second
            ));
        }
        Event::Checkpoint { path, .. } => {
            bar.suspend(|| eprintln!("checkpoint {}", path.display()))
        }
        Event::Finished { step, reason } => {
            bar.suspend(|| eprintln!("finished at step {step} ({reason:?})"))
        }
        Event::Samples {
            step,
            collapse: Some(reading),
            ..
        } => {
            if let Some(alarm) = reading.alarm {
                bar.suspend(|| eprintln!("warning at step {step}: {alarm}"));
            }
        }
        Event::Error { message, .. } => error = Some(message),
        Event::Diverged(Divergence {
            step,
            what,
            value,
            last_good,
        }) => {
            // No one to ask on the command line: stop, keeping the last good checkpoint.
            let _ = commands.send(Command::Stop);
            error = Some(match last_good {
                Some(good) => format!(
                    "training diverged at step {step}: {what} is {value}; nothing from that step \
                     was saved. Continue from the checkpoint at step {good} with lower learning \
                     rates: easel resume {} --lr-scale 0.5",
                    run.display()
                ),
                None => format!(
                    "training diverged at step {step}: {what} is {value}, before any checkpoint; \
                     start again with lower learning rates"
                ),
            });
        }
        _ => {}
    });
    bar.finish_and_clear();
    if let Some(message) = error {
        bail!(message);
    }
    let signal = INTERRUPTED_BY.load(std::sync::atomic::Ordering::SeqCst);
    if result? == StopReason::Requested && signal != 0 {
        eprintln!(
            "stopped by signal {signal} with a checkpoint saved; continue with: easel resume {}",
            run.display()
        );
        std::process::exit(interrupted_status(signal));
    }
    Ok(())
}

/// `easel stop`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// The run folder.
    run: PathBuf,
}

/// Writes the run's stop request: its trainer saves a checkpoint and stops at its next step
/// (within half a second when paused).
pub fn stop(args: StopArgs) -> Result<()> {
    easel_core::train::RunDir::new(&args.run).request_stop()?;
    println!(
        "asked {} to stop: its trainer saves a checkpoint and stops at its next step",
        args.run.display()
    );
    Ok(())
}
