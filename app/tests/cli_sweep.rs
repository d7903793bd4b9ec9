//! Beyond one run in one terminal: `--set` overrides, `easel follow` on a run another process
//! writes, a run stopped by SIGTERM that saves and resumes exactly, and a sweep trained here whose
//! arena groups seeds.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cli::{SWEEP, TINY, easel, fails, ok};
use std::collections::BTreeMap;

use easel_core::backend::BackendKind;
use easel_core::sample::LoadedModel;

type Weights = BTreeMap<String, Vec<f32>>;

/// The step of the run's newest checkpoint, and its generator's and discriminator's weights.
fn weights(run: &Path) -> (u64, Weights, Weights) {
    let m = LoadedModel::load(run, None, BackendKind::Cpu).unwrap();
    (
        m.step,
        m.networks.generator_parameters(),
        m.networks.critic_parameters(),
    )
}

fn wait_for(what: &str, seconds: u64, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The newest step in the run's log.
fn logged_step(run: &Path) -> u64 {
    let mut f = easel_core::train::RunFollower::new(run);
    f.poll().unwrap();
    f.log.step
}

#[test]
fn set_overrides_any_field_and_refuses_a_bad_one_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let run = dir.path().join("run");
    let args = [
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--max-steps",
        "2",
    ];
    ok(&[
        &args[..],
        &["--set", "model.gran.steps=3", "--set", "train.lr_d=2e-4"],
        &["--set", "seed=11", "--out", run.to_str().unwrap()],
    ]
    .concat());
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    for line in ["steps = 3", "lr_d = 0.0002", "seed = 11"] {
        assert!(config.lines().any(|l| l.trim() == line), "{line}: {config}");
    }
    let other = dir.path().join("other");
    let out = ["--out", other.to_str().unwrap()];
    let e = fails(&[&args[..], &["--set", "model.gran.stpes=3"], &out[..]].concat());
    assert!(e.contains("model.gran.stpes"), "{e}");
    let e = fails(&[&args[..], &["--set", "model.gran.steps=0"], &out[..]].concat());
    assert!(e.contains("steps"), "{e}");
    let said = easel(&[&args[..], &["--set", "model.gran.steps"], &out[..]].concat());
    assert!(!said.status.success());
    assert!(String::from_utf8_lossy(&said.stderr).contains("KEY=VALUE"));
    assert!(!other.exists(), "nothing made from a bad override");
}

#[test]
fn follow_prints_advancing_steps_and_exits_when_the_run_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let run = dir.path().join("run");
    let mut writer = Command::new(env!("CARGO_BIN_EXE_easel"))
        .args(["train", "--config", cfg.to_str().unwrap()])
        .args([
            "--set",
            "train.sample_every=100",
            "--set",
            "train.checkpoint_every=100",
        ])
        .args(["--max-steps", "1500", "--out", run.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the run folder", 60, || run.join("config.toml").is_file());
    let out = easel(&["follow", run.to_str().unwrap()]);
    assert!(writer.wait().unwrap().success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout
            .trim_end()
            .ends_with("finished at step 1500 (MaxSteps)"),
        "{stdout}"
    );
    let steps: Vec<u64> = stdout
        .lines()
        .filter_map(|l| {
            l.strip_prefix("step ")?
                .split(['/', ' '])
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert!(steps.len() >= 2, "advancing steps: {stdout}");
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
    assert!(steps[0] < 1500, "{steps:?}");
    // A folder that holds no run is refused.
    let e = fails(&["follow", dir.path().to_str().unwrap()]);
    assert!(e.contains("not an Easel run folder"), "{e}");
}

#[test]
#[cfg(unix)]
fn a_run_stopped_by_sigterm_saves_exits_143_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let train = |run: &Path| {
        Command::new(env!("CARGO_BIN_EXE_easel"))
            .args(["train", "--config", cfg.to_str().unwrap()])
            .args(["--set", "train.checkpoint_every=1000"])
            .args(["--max-steps", "600", "--out", run.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let whole = dir.path().join("whole");
    assert!(train(&whole).wait().unwrap().success());

    let cut = dir.path().join("cut");
    let child = train(&cut);
    wait_for("training to run", 60, || logged_step(&cut) >= 20);
    // SAFETY: kill(2) on the child this test started and has not reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(err.contains("easel resume"), "{err}");
    let (saved, _, _) = weights(&cut);
    assert!(saved < 600, "stopped early, at {saved}");
    assert_eq!(saved, logged_step(&cut), "saved where it stopped");

    ok(&["resume", cut.to_str().unwrap()]);
    assert_eq!(
        weights(&cut),
        weights(&whole),
        "the same weights at step 600"
    );
}

#[test]
fn a_sweep_trains_its_grid_here_and_the_arena_groups_its_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = dir.path().join("sweep");
    let s = sweep.to_str().unwrap();
    let out = easel(&[&SWEEP[..], &[s, "--jobs", "2"]].concat());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let names = [
        "seed-1_steps-1",
        "seed-1_steps-3",
        "seed-2_steps-1",
        "seed-2_steps-3",
    ];
    for name in names {
        let run = sweep.join(name);
        assert_eq!(weights(&run).0, 30, "{name}");
        assert!(err.contains(&format!("{name}: done")), "{err}");
    }
    // The seeds differ, and so do the drawing steps.
    assert_ne!(
        weights(&sweep.join(names[0])),
        weights(&sweep.join(names[2]))
    );
    let status = ok(&["sweep", "status", s]);
    assert_eq!(status.matches("finished (MaxSteps)").count(), 4, "{status}");
    assert!(status.contains("30/30"), "{status}");
    // Run again: nothing left to train.
    let out = easel(&["sweep", "run", s, "--jobs", "2"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("every run of the sweep has finished"));
    // A task past the end is refused; a finished one does nothing.
    assert!(fails(&["sweep", "task", s, "4"]).contains("0 to 3"));
    let out = easel(&["sweep", "task", s, "0"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("already finished"));

    let board = ok(&["arena", s, "--samples", "64", "--real-limit", "256"]);
    let grouped = board
        .split("by configuration")
        .nth(1)
        .unwrap_or_else(|| panic!("{board}"));
    for config in ["model.gran.steps=1", "model.gran.steps=3"] {
        let row = grouped
            .lines()
            .find(|l| l.ends_with(config))
            .unwrap_or_else(|| panic!("{config}: {board}"));
        assert!(
            row.contains("(±") && row.contains("  2  "),
            "two seeds: {row}"
        );
    }
    // A sweep folder is refused where a run is expected, and vice versa.
    assert!(fails(&["sweep", "status", dir.path().to_str().unwrap()]).contains("no sweep.toml"));
    let again = fails(&[
        "sweep",
        "--preset",
        "gran-shapes",
        "--grid",
        "seed=1",
        "--out",
        s,
    ]);
    assert!(again.contains("already holds"), "{again}");
    // Folders only, for a scheduler of one's own.
    let later = dir.path().join("later");
    ok(&[
        "sweep",
        "--preset",
        "gran-shapes",
        "--grid",
        "seed=1,2,3",
        "--create-only",
        "--out",
        later.to_str().unwrap(),
    ]);
    let status = ok(&["sweep", "status", later.to_str().unwrap()]);
    assert_eq!(status.matches("not started").count(), 3, "{status}");
}

#[test]
fn devices_split_training_from_the_command_line_and_resume_changes_them() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let run = dir.path().join("run");
    let r = run.to_str().unwrap();
    let out = easel(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--devices",
        "cpu,cpu",
        "--max-steps",
        "3",
        "--out",
        r,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("each batch of 16 split over cpu, cpu"),
        "{err}"
    );
    assert!(
        err.contains("BatchNorm normalises each device's 8 images"),
        "{err}"
    );
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    let devices: Vec<String> = easel_core::train::RunDir::new(&run)
        .load_config()
        .unwrap()
        .devices
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(devices, ["cpu", "cpu"], "{config}");
    // Resumed on the same devices, then on one again.
    let out = easel(&["resume", r, "--max-steps", "5"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("split over cpu, cpu"));
    let out = easel(&["resume", r, "--max-steps", "6", "--devices", "one"]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("split over"));
    assert_eq!(weights(&run).0, 6);
    let e = fails(&["resume", r, "--devices", "cpu,tpu"]);
    assert!(e.contains("tpu"), "{e}");
}
