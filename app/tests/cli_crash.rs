//! Nothing lost from the command line: Ctrl-C saves before exit, and a checkpoint that cannot be
//! written stops training in words with the last one intact.

mod common;

use std::path::Path;
use std::process::Command;

use common::cli::{TINY, ok};

/// Lines of a run's event log that record `kind` events.
#[cfg(unix)]
fn logged(run: &Path, kind: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == kind)
        .collect()
}

#[cfg(unix)]
#[test]
fn ctrl_c_saves_before_exit_and_a_failed_write_keeps_the_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = d.join("tiny.toml");
    std::fs::write(&config, TINY).unwrap();
    let run = d.join("run");
    let run_s = run.to_str().unwrap();
    let bin = env!("CARGO_BIN_EXE_easel");
    let child = Command::new(bin)
        .args(["train", "--config", config.to_str().unwrap()])
        .args(["--max-steps", "1000000", "--out", run_s])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while logged(&run, "step").len() < 5 {
        assert!(std::time::Instant::now() < deadline, "no steps logged");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    assert!(kill.unwrap().success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // 128 + SIGINT, as a shell reports a process Ctrl-C ended: `easel train … && next` stops.
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted: saving a checkpoint"), "{err}");
    assert!(err.contains("continue with: easel resume"), "{err}");
    let finished = logged(&run, "finished");
    let step = finished[0]["step"].as_u64().unwrap();
    assert_eq!(finished[0]["reason"], "requested");
    assert_eq!(
        logged(&run, "step").last().unwrap()["step"].as_u64(),
        Some(step),
        "nothing after the last step is lost"
    );
    let newest = run.join("checkpoints").join(format!("step-{step:09}.ckpt"));
    assert!(newest.is_file(), "the stop saved step {step}");

    // A write that fails (here a file-size limit below a checkpoint's size; a full disk fails the
    // same way) stops training in words, leaves no part behind, and the last checkpoint loads.
    let limit_kb = std::fs::metadata(&newest).unwrap().len() / 1024 / 2;
    assert!(
        limit_kb >= 8,
        "a checkpoint of {limit_kb} KB is smaller than this test assumes"
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -f {limit_kb} && exec \"$0\" resume \"$1\" --max-steps {}",
            step + 4
        ))
        .args([bin, run_s])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("could not be written") && err.contains("earlier checkpoints are intact"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let names: Vec<String> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "no partial file left: {names:?}"
    );
    ok(&["resume", run_s, "--max-steps", &(step + 1).to_string()]);
}
