//! `soak`: kills a training run with SIGKILL at random moments, resumes it after each kill, and
//! checks that nothing beyond one checkpoint interval was lost and that the final weights equal
//! an uninterrupted run's. Usage:
//!
//! ```text
//! cargo run --release -p easel-tests --bin soak -- [--kills 20] [--steps 400] [--seed 1] [--dir DIR]
//!     [--model gran|lapgan|stackgan1|stackgan2]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use easel_tests::soak::{SoakConfig, SoakModel, soak, worker};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("worker") {
        let (Some(run), Some(Ok(steps)), Some(Some(model))) = (
            args.get(1),
            args.get(2).map(|s| s.parse::<u64>()),
            args.get(3).map(|m| SoakModel::parse(m)),
        ) else {
            eprintln!("usage: soak worker RUN STEPS gran|lapgan|stackgan1|stackgan2");
            return ExitCode::from(2);
        };
        return match worker(&PathBuf::from(run), steps, model) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("worker: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut config = SoakConfig {
        kills: 20,
        steps: 400,
        seed: 1,
        dir: std::env::temp_dir().join("easel-soak"),
        worker: match std::env::current_exe() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("soak: cannot find its own executable: {e}");
                return ExitCode::FAILURE;
            }
        },
        model: SoakModel::Gran,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next();
        let bad = || {
            eprintln!(
                "soak: {flag} needs a value; flags: --kills N --steps N --seed N --dir DIR \
                 --model gran|lapgan|stackgan1|stackgan2"
            );
            ExitCode::from(2)
        };
        let Some(value) = value else { return bad() };
        let number = value.parse::<u64>();
        match (flag.as_str(), number) {
            ("--kills", Ok(n)) => config.kills = n as usize,
            ("--steps", Ok(n)) => config.steps = n,
            ("--seed", Ok(n)) => config.seed = n,
            ("--dir", _) => config.dir = PathBuf::from(value),
            ("--model", _) => match SoakModel::parse(value) {
                Some(m) => config.model = m,
                None => return bad(),
            },
            _ => return bad(),
        }
    }
    let report = match soak(&config, &mut |line| eprintln!("{line}")) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "{} kills ({} mid-write), at most {} steps lost (checkpoint every {}), {} resume warnings",
        report.kills,
        report.mid_write,
        report.most_steps_lost,
        report.checkpoint_every,
        report.resume_warnings.len()
    );
    for w in &report.resume_warnings {
        eprintln!("  warning: {w}");
    }
    if report.failures.is_empty() && report.kills == config.kills {
        eprintln!("soak passed: the final weights equal the uninterrupted run's");
        ExitCode::SUCCESS
    } else {
        for f in &report.failures {
            eprintln!("FAILED: {f}");
        }
        if report.kills < config.kills {
            eprintln!(
                "FAILED: only {} of {} kills landed (use more --steps)",
                report.kills, config.kills
            );
        }
        ExitCode::FAILURE
    }
}
