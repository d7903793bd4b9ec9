//! `easel follow`: the progress of a run another process is writing (here, or on a server whose
//! run folder is mounted or synced), from its files alone, until it finishes or stops.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use easel_core::train::follow::ago;
use easel_core::train::{RunDir, RunFollower, WriterState};
use indicatif::{ProgressBar, ProgressStyle};

/// How often the run folder is read.
const POLL: Duration = Duration::from_millis(500);

/// `easel follow`.
#[derive(Debug, Args)]
pub struct FollowArgs {
    /// The run folder.
    run: PathBuf,
}

fn fmt(v: Option<f32>) -> String {
    v.map_or("  -   ".into(), |v| format!("{v:6.3}"))
}

/// Follows the run, printing a progress line and each new checkpoint; ends with the run: 0 when
/// it finishes or is stopped, non-zero when it fails.
pub fn follow(args: FollowArgs) -> Result<()> {
    if !RunDir::is_run(&args.run) {
        bail!(
            "{}: not an Easel run folder (no config.toml)",
            args.run.display()
        );
    }
    let mut follower = RunFollower::new(&args.run);
    let bar = ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(250));
    let with_target = ProgressStyle::with_template(
        "{spinner} step {pos}/{len} [{elapsed_precise} ETA {eta_precise}] {wide_msg}",
    )
    .expect("a valid template");
    let open = ProgressStyle::with_template("{spinner} step {pos} [{elapsed_precise}] {wide_msg}")
        .expect("a valid template");
    bar.set_style(open.clone());
    let mut first = true;
    let mut printed = u64::MAX;
    loop {
        let changes = follower.poll()?;
        let log = &follower.log;
        if changes.reset && !first {
            bar.suspend(|| eprintln!("the log was rewritten: read again from its start"));
        }
        match log.target_step {
            Some(t) if bar.length() != Some(t) => {
                bar.set_style(with_target.clone());
                bar.set_length(t);
            }
            _ => {}
        }
        bar.set_position(log.step);
        if changes.checkpoints
            && !first
            && let Some((step, path)) = follower.checkpoints().last()
        {
            bar.suspend(|| eprintln!("checkpoint at step {step}: {}", path.display()));
        }
        let written = follower.last_write().map_or_else(
            || "nothing written yet".into(),
            |t| format!("written {} ago", ago(t)),
        );
        let figures = follower.latest().map_or_else(String::new, |s| {
            format!(
                "D {} G {} | D(x) {} D(G(z)) {} | {:.0} img/s | ",
                fmt(s.d_loss),
                fmt(s.g_loss),
                fmt(s.d_real),
                fmt(s.d_fake),
                s.images_per_second
            )
        });
        let state = match &log.state {
            WriterState::NotStarted => "waiting for the run to start",
            WriterState::Training => "training",
            WriterState::Paused => "paused",
            WriterState::Finished(_) | WriterState::Failed(_) => "",
        };
        bar.set_message(format!("{figures}{state}, {written}"));
        // Without a terminal (a log, a pipe), the progress is a line per new step read.
        if bar.is_hidden() && log.step != printed && log.state.is_live() {
            printed = log.step;
            let of = log
                .target_step
                .map_or_else(String::new, |t| format!("/{t}"));
            println!("step {}{of} | {figures}{state}, {written}", log.step);
        }
        match &log.state {
            WriterState::Finished(reason) => {
                bar.finish_and_clear();
                println!("finished at step {} ({reason:?})", log.step);
                return Ok(());
            }
            WriterState::Failed(message) => {
                bar.finish_and_clear();
                bail!("the run failed at step {}: {message}", log.step);
            }
            _ => {}
        }
        if first {
            first = false;
            eprintln!(
                "following {} (writer at step {})",
                args.run.display(),
                log.step
            );
        }
        std::thread::sleep(POLL);
    }
}
