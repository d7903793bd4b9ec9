//! `easel sweep --slurm` on a real Slurm cluster (CI starts a single-node one with `.ci/slurm up`):
//! the array job trains every run of the grid, and a task sent SIGTERM by `scancel` saves, is
//! requeued and resumes to the very weights of the sweep trained here. Where Slurm is absent the
//! test says so and passes; with `EASEL_REQUIRE_SLURM=1` (CI) it fails instead.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::cli::{SWEEP, easel, ok};
use easel_core::backend::BackendKind;
use easel_core::sample::LoadedModel;
use easel_core::train::{Event, RunDir, RunFollower, WriterState};

/// Whether a Slurm controller answers here.
fn slurm_or_skip() -> bool {
    let answers = Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    if !answers {
        assert!(
            std::env::var("EASEL_REQUIRE_SLURM").as_deref() != Ok("1"),
            "EASEL_REQUIRE_SLURM=1 but no Slurm controller answers (`sinfo`); start one with \
             `.ci/slurm up`"
        );
        eprintln!("skipped: no Slurm controller answers here (start one with `.ci/slurm up`)");
    }
    answers
}

type Weights = (u64, BTreeMap<String, Vec<f32>>, BTreeMap<String, Vec<f32>>);

fn weights(run: &Path) -> Weights {
    let m = LoadedModel::load(run, None, BackendKind::Cpu).unwrap();
    (
        m.step,
        m.networks.generator_parameters(),
        m.networks.critic_parameters(),
    )
}

fn wait_for(what: &str, seconds: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn squeue(job: &str) -> String {
    let out = Command::new("squeue")
        .args(["-h", "-r", "-j", job, "-o", "%K %T"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_sweep_runs_as_a_slurm_array_and_a_requeued_task_resumes_exactly() {
    if !slurm_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let here = dir.path().join("here");
    ok(&[&SWEEP[..], &[here.to_str().unwrap(), "--jobs", "2"]].concat());

    let there = dir.path().join("slurm");
    let said = ok(&[&SWEEP[..], &[there.to_str().unwrap(), "--slurm"]].concat());
    let job = said
        .split_whitespace()
        .skip_while(|w| *w != "job")
        .nth(1)
        .unwrap_or_else(|| panic!("{said}"))
        .to_string();
    let sweep = easel_core::train::Sweep::open(&there).unwrap();
    assert_eq!(sweep.spec.slurm.last().unwrap().job_id, job);

    // As soon as task 1 (seed 1, T = 3) is training, Slurm sends it SIGTERM, as before a time
    // limit.
    let victim = there.join("seed-1_steps-3");
    wait_for("task 1 to train", 300, || {
        let mut f = RunFollower::new(&victim);
        f.poll().is_ok() && f.log.step >= 1 && f.log.state == WriterState::Training
    });
    // The job step (`.0`): a signal to the task itself is sent again and again while the array
    // has pending tasks (Slurm 22.05 to 24.05).
    let target = format!("{job}_1.0");
    let cancel = Command::new("scancel")
        .args(["--signal=TERM", &target])
        .output()
        .unwrap();
    assert!(
        cancel.status.success(),
        "{}",
        String::from_utf8_lossy(&cancel.stderr)
    );
    wait_for("the array job to finish", 600, || {
        squeue(&job).trim().is_empty()
    });

    let status = ok(&["sweep", "status", there.to_str().unwrap()]);
    assert_eq!(status.matches("finished (MaxSteps)").count(), 4, "{status}");
    for run in sweep.run_dirs() {
        let name = run.file_name().unwrap().to_owned();
        assert_eq!(
            weights(&run),
            weights(&here.join(&name)),
            "{name:?}: the same weights at step 30 as trained here"
        );
    }
    // Task 1 was interrupted with a checkpoint, requeued, and resumed from it.
    let starts: Vec<u64> = RunDir::new(&victim)
        .read_events()
        .unwrap()
        .into_iter()
        .filter_map(|e| match e {
            Event::Started { step, .. } => Some(step),
            _ => None,
        })
        .collect();
    assert_eq!(starts.len(), 2, "started twice: {starts:?}");
    assert!(
        starts[1] > 0 && starts[1] < 30,
        "resumed mid-run: {starts:?}"
    );
    let log = std::fs::read_to_string(there.join("slurm").join(format!("{job}_1.out"))).unwrap();
    assert!(log.contains("requeued"), "{log}");
    assert!(log.contains("start 2"), "{log}");
    // Submitting a finished sweep again submits nothing.
    let again = easel(&["sweep", "run", there.to_str().unwrap(), "--slurm"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to submit"));
}
