//! The studio following a run that another process writes: a real `easel train` child process
//! whose curves, grids and checkpoints the Runs panel and the Canvas follow, and which a stop
//! request from the studio makes save and exit; and a writer that stops in the middle of a line.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::cli::TINY;
use common::{easel_tests_config, harness, nav, play_round_robin, studio, wait_until};
use easel::studio::Studio;
use easel_core::train::checkpoint;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// The child is killed if the test fails before it exits.
struct Writer(Child);

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn followed(s: &Studio) -> (u64, bool) {
    s.runs().followed().unwrap_or((0, false))
}

fn canvas_step(s: &Studio) -> Option<u64> {
    s.canvas()
        .source()?
        .strip_prefix("the checkpoint at step ")?
        .split(',')
        .next()?
        .parse()
        .ok()
}

/// Opens `run` in the Runs panel through the (scripted) folder dialog.
fn open(h: &mut Harness<'_, Studio>) {
    nav(h, "Runs");
    h.get_by_label("Open run folder…").click();
    h.run_ok();
    h.run_ok();
}

#[test]
fn the_studio_follows_a_run_another_process_trains_and_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let run = dir.path().join("runs").join("remote");
    let mut writer = Writer(
        Command::new(env!("CARGO_BIN_EXE_easel"))
            .args(["train", "--config", cfg.to_str().unwrap()])
            .args([
                "--set",
                "train.sample_every=10",
                "--set",
                "train.checkpoint_every=25",
            ])
            .args(["--max-steps", "1000000", "--out", run.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("easel runs"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !run.join("events.jsonl").is_file() {
        assert!(Instant::now() < deadline, "the child never started");
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut h = harness(studio(&dir.path().join("runs"), Some(run.clone())));
    h.run_ok();
    open(&mut h);
    assert_eq!(h.state().runs().opened(), Some(run.as_path()));
    wait_until(&mut h, 60, "the writer's first steps", |s| {
        followed(s).0 >= 5
    });
    assert!(followed(h.state()).1, "the writer is under way");
    h.get_by_label_contains("Following: writer at step");
    assert!(h.state().runs().error().is_none());

    // Curves and the grid advance while the child writes.
    let (step, _) = followed(h.state());
    let grids = h.state().runs().history().unwrap().1;
    wait_until(&mut h, 60, "curves and grids to advance", |s| {
        followed(s).0 >= step + 40 && s.runs().history().unwrap().1 > grids
    });
    let (index, count) = h.state().runs().history().unwrap();
    assert_eq!(
        index + 1,
        count,
        "the history slider stays at the newest grid"
    );

    // The Canvas draws the newest checkpoint, and draws again when a newer one arrives.
    wait_until(&mut h, 60, "a checkpoint", |s| followed(s).0 >= 25);
    h.step();
    h.get_by_label("Open in Canvas").click();
    h.run_ok();
    wait_until(&mut h, 60, "the drawing", |s| canvas_step(s).is_some());
    let first = canvas_step(h.state()).unwrap();
    wait_until(&mut h, 60, "a drawing from a newer checkpoint", |s| {
        canvas_step(s).is_some_and(|n| n > first)
    });

    // Stop from the studio: the child saves a checkpoint and exits.
    nav(&mut h, "Runs");
    h.get_by_label("Stop run").click();
    h.run_ok();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = writer.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the child did not stop");
        std::thread::sleep(Duration::from_millis(50));
        h.step();
    };
    let mut err = String::new();
    std::io::Read::read_to_string(writer.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{err}");
    wait_until(&mut h, 10, "the writer's end", |s| !followed(s).1);
    let (last, _) = followed(h.state());
    let saved = checkpoint::list(&run.join("checkpoints")).unwrap();
    assert_eq!(
        saved.last().unwrap().0,
        last,
        "a checkpoint at the last step"
    );
    h.get_by_label_contains(&format!("Stopped at step {last}"));
    assert!(
        !run.join("stop-requested").exists(),
        "the request was taken"
    );
}

/// Appends `bytes` to the log as a writer would, without a newline at the end.
fn append(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
}

#[test]
fn a_writer_that_stops_mid_line_causes_no_error() {
    let dir = tempfile::tempdir().unwrap();
    // A real log, replayed into a second run folder as a slow writer would write it.
    let source = dir.path().join("source");
    let mut trainer = easel_core::train::Trainer::create(&source, easel_tests_config()).unwrap();
    trainer.set_schedule(Some(4), None, None).unwrap();
    let (_tx, rx) = std::sync::mpsc::channel();
    trainer.run(&rx, &mut |_| {}).unwrap();
    let log = std::fs::read_to_string(source.join("events.jsonl")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    let step_line = |n: u64| {
        lines
            .iter()
            .position(|l| l.contains("\"event\":\"step\"") && l.contains(&format!("\"step\":{n},")))
            .unwrap()
    };
    let run: PathBuf = dir.path().join("runs").join("replayed");
    std::fs::create_dir_all(run.join("checkpoints")).unwrap();
    std::fs::create_dir_all(run.join("samples")).unwrap();
    std::fs::copy(source.join("config.toml"), run.join("config.toml")).unwrap();
    let events = run.join("events.jsonl");
    // Everything up to step 2, then half of step 3's line.
    let third = step_line(3);
    std::fs::write(&events, lines[..third].join("\n") + "\n").unwrap();
    let (head, tail) = lines[third].split_at(lines[third].len() / 2);
    append(&events, head.as_bytes());

    let mut h = harness(studio(&dir.path().join("runs"), Some(run.clone())));
    h.run_ok();
    open(&mut h);
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(550));
        h.step();
    }
    assert_eq!(followed(h.state()), (2, true), "the half line waits");
    assert!(h.state().runs().error().is_none());
    h.get_by_label_contains("Following: writer at step 2");

    // The writer goes on: the line ends, the rest follows.
    append(&events, (tail.to_string() + "\n").as_bytes());
    wait_until(&mut h, 10, "step 3", |s| followed(s).0 == 3);
    append(&events, (lines[third + 1..].join("\n") + "\n").as_bytes());
    wait_until(&mut h, 10, "the end of the log", |s| !followed(s).1);
    assert_eq!(followed(h.state()).0, 4);
    assert!(h.state().runs().error().is_none());
    h.get_by_label_contains("Finished at step 4");
}

#[test]
fn a_sweep_is_a_group_in_runs_and_the_arena_rates_its_configurations_over_seeds() {
    use easel_core::train::sweep::{Axis, Sweep};
    use egui::accesskit::Role;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("runs");
    let grid: Vec<Axis> = ["seed=1,2", "model.gran.steps=1,2"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    let sweep = Sweep::create(
        &root.join("grid"),
        &easel_tests_config(),
        "the test config",
        &grid,
        |_| Ok(()),
    )
    .unwrap();
    // Three runs trained, one left for later.
    for run in &sweep.run_dirs()[..3] {
        let mut trainer = easel_core::train::Trainer::resume(run, None).unwrap();
        trainer.set_schedule(Some(3), None, None).unwrap();
        let (_tx, rx) = std::sync::mpsc::channel();
        trainer.run(&rx, &mut |_| {}).unwrap();
    }
    let mut h = harness(studio(&root, None));
    h.run_ok();
    nav(&mut h, "Runs");
    h.get_by_label("sweep grid (4 runs)").click();
    h.run_ok();
    h.get_by_label("seed-1_steps-1 · finished, step 3/3");
    h.get_by_label("seed-2_steps-2 · not started");
    h.get_by_label("seed-1_steps-2 · finished, step 3/3")
        .click();
    h.run_ok();
    assert_eq!(
        h.state().runs().opened(),
        Some(sweep.run_dirs()[1].as_path())
    );

    nav(&mut h, "Arena");
    h.get_by_role_and_label(Role::Button, "Round robin").click();
    h.run_ok();
    h.get_by_role_and_label(Role::SpinButton, "Samples per generator")
        .set_value_accesskit(32.0);
    h.get_by_label("Play the sweep grid (4 runs)").click();
    h.run_ok();
    assert_eq!(
        h.state().state.arena.field.len(),
        3,
        "the runs with a checkpoint"
    );
    let a = play_round_robin(&mut h);
    h.get_by_label("By configuration");
    let seeds: Vec<(&str, usize)> = a
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.models.len()))
        .collect();
    assert!(seeds.contains(&("model.gran.steps=1", 2)), "{seeds:?}");
    assert!(seeds.contains(&("model.gran.steps=2", 1)), "{seeds:?}");
    h.get_by_label_contains("(one seed)");
}
