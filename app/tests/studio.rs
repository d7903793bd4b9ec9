//! The studio driven through its labelled widgets with egui_kittest (no display needed): train on
//! the built-in data, pause, single steps, scrub the canvas past T, export, open a run and move its
//! history, and an invalid value that disables Start with the reason; the Canvas on the live model
//! before any checkpoint, and on the backend chosen.

mod common;

use common::{easel_tests_config, harness, nav, play_round_robin, step_of, studio, wait_until};
use easel::panels::PanelKind;
use easel::picker::FixedPicker;
use easel::studio::{Persisted, Studio};
use easel::worker::SessionStatus;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use std::path::PathBuf;

#[test]
fn train_pause_step_and_scrub_the_canvas_past_t() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(studio(dir.path(), None));
    h.run_ok();
    nav(&mut h, "Data");
    h.get_by_label("Built-in shapes").click();
    h.get_by_label("Load preview").click();
    h.run_ok();
    wait_until(&mut h, 60, "the preview", |s| {
        s.state.data.preview_counts().is_some()
    });
    h.get_by_label_contains("training images");

    nav(&mut h, "Train");
    h.get_by_label("Start").click();
    wait_until(&mut h, 60, "training to run", |s| step_of(s) >= 3);
    let before = step_of(h.state());
    wait_until(&mut h, 60, "the step counter to advance", |s| {
        step_of(s) > before + 2
    });
    assert!(
        h.state().session().unwrap().curves.steps() >= 5,
        "curves have points"
    );
    h.get_by_label_contains("images/s");

    h.get_by_label("Pause").click();
    wait_until(&mut h, 30, "the pause", |s| {
        s.session().unwrap().status == SessionStatus::Paused
    });
    let paused_at = step_of(h.state());
    h.get_by_label("Step D").click();
    wait_until(&mut h, 30, "a D step", |s| step_of(s) == paused_at + 1);
    h.get_by_label("Step G").click();
    wait_until(&mut h, 30, "a G step", |s| step_of(s) == paused_at + 2);
    let kinds: Vec<_> = h
        .state()
        .session()
        .unwrap()
        .curves
        .recent()
        .rev()
        .take(2)
        .map(|s| s.kind)
        .collect();
    use easel_core::train::StepKind;
    assert_eq!(
        kinds,
        vec![StepKind::GeneratorOnly, StepKind::DiscriminatorOnly]
    );
    h.get_by_label("Save now").click();
    wait_until(&mut h, 30, "a checkpoint", |s| {
        s.session()
            .unwrap()
            .last_checkpoint
            .as_ref()
            .is_some_and(|(step, _)| *step == paused_at + 2)
    });

    nav(&mut h, "Canvas");
    h.get_by_label("Draw samples").click();
    wait_until(&mut h, 60, "the drawing", |s| s.canvas().has_drawing());
    assert_eq!(h.state().canvas().max_steps(), Some(9), "T′ = 3 × T");
    let slider = h.get_by_role_and_label(Role::Slider, "step t");
    slider.set_value_accesskit(8.0);
    h.run_ok();
    assert_eq!(h.state().state.canvas.t, 8);
    h.get_by_label_contains("beyond the trained T = 3");
    h.get_by_label("show ΔC_t (update) instead of C_t").click();
    h.run_ok();
    h.get_by_label("Export strip (PNG) and drawing (GIF)")
        .click();
    h.run_ok();
    let run = h.state().session().unwrap().run_dir.clone();
    let gif = run.join("exports").join("drawing-seed0.gif");
    assert!(gif.is_file(), "{gif:?}");

    nav(&mut h, "Train");
    h.get_by_label("Stop").click();
    wait_until(&mut h, 30, "the stop", |s| !s.session().unwrap().is_live());
}

#[test]
fn an_invalid_value_disables_start_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(studio(dir.path(), None));
    h.run_ok();
    nav(&mut h, "Model");
    let field = h.get_by_role_and_label(Role::TextInput, "Decoder widths");
    field.set_text_value_accesskit("16, 8, 1");
    h.run_ok();
    let reason = "the last width is the image's channels (3), found [16, 8, 1]";
    h.get_by_label(reason); // the mark beside the field
    h.get_by_label(&format!(
        "Invalid model.decoder_widths: {reason}. Start is disabled."
    ));
    nav(&mut h, "Train");
    assert!(h.get_by_label("Start").accesskit_node().is_disabled());
    h.get_by_label_contains("Start is disabled: model.decoder_widths");
}

#[test]
fn open_a_run_and_move_its_history() {
    let dir = tempfile::tempdir().unwrap();
    // A real run with three sample grids, trained headlessly.
    let run = dir.path().join("runs").join("a");
    let mut config = easel_tests_config();
    config.train.sample_every = 2;
    let mut trainer = easel_core::train::Trainer::create(&run, config).unwrap();
    trainer.set_schedule(Some(4), None, None).unwrap();
    let (_tx, rx) = std::sync::mpsc::channel();
    trainer.run(&rx, &mut |_| {}).unwrap();

    let mut h = harness(studio(&dir.path().join("runs"), Some(run.clone())));
    h.run_ok();
    nav(&mut h, "Runs");
    h.get_by_label("Open run folder…").click();
    h.run_ok();
    h.run_ok();
    assert_eq!(h.state().runs().opened(), Some(run.as_path()));
    assert_eq!(
        h.state().runs().history(),
        Some((2, 3)),
        "grids at steps 0, 2 and 4; the newest shown"
    );
    h.get_by_label("Fixed-z samples at step 4");
    let slider = h.get_by_role_and_label(Role::Slider, "history");
    slider.set_value_accesskit(0.0);
    h.run_ok();
    assert_eq!(h.state().runs().history(), Some((0, 3)));
    h.get_by_label("Fixed-z samples at step 0");
    assert_eq!(h.state().state.panel, PanelKind::Runs);
    assert_eq!(h.state().state.recent_runs.first(), Some(&run));

    // One checkpoint, drawn in the Canvas.
    h.get_by_label("view").click();
    h.run_ok();
    assert_eq!(h.state().state.panel, PanelKind::Canvas);
    wait_until(&mut h, 60, "the drawing", |s| s.canvas().has_drawing());
    h.get_by_label_contains("(checkpoint step 4)");
}

#[test]
fn export_a_grid_and_a_bundle_and_find_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("runs").join("a");
    let mut trainer = easel_core::train::Trainer::create(&run, easel_tests_config()).unwrap();
    trainer.set_schedule(Some(3), None, None).unwrap();
    let (_tx, rx) = std::sync::mpsc::channel();
    trainer.run(&rx, &mut |_| {}).unwrap();

    let mut h = harness(studio(&dir.path().join("runs"), Some(run.clone())));
    h.run_ok();
    nav(&mut h, "Export");
    h.get_by_label_contains("Export is disabled: choose a run");
    h.get_by_label("Choose run folder…").click();
    h.run_ok();
    h.run_ok();
    assert_eq!(h.state().export().run.as_deref(), Some(run.as_path()));
    h.get_by_role_and_label(Role::SpinButton, "Images")
        .set_value_accesskit(10.0);
    h.get_by_role_and_label(Role::SpinButton, "Drawing steps")
        .set_value_accesskit(5.0);
    h.run_ok();
    let out = dir.path().join("images");
    h.get_by_role_and_label(Role::TextInput, "Output folder")
        .set_text_value_accesskit(out.to_str().unwrap());
    h.run_ok();
    h.get_by_label("Export images").click();
    h.run_ok();
    wait_until(&mut h, 60, "the export", |s| s.export().result().is_some());
    let done = h
        .state()
        .export()
        .result()
        .unwrap()
        .clone()
        .expect("export succeeds");
    assert_eq!(done.dir, out);
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.starts_with("sample-")).count(),
        10
    );
    assert_eq!(
        names.iter().filter(|n| n.starts_with("canvas-t")).count(),
        5,
        "5 steps"
    );
    assert!(names.contains(&"grid.png".to_string()) && names.contains(&"drawing.gif".to_string()));
    h.get_by_label_contains(&format!("Wrote {} files to", names.len()));

    let bundle = dir.path().join("bundle");
    h.get_by_role_and_label(Role::TextInput, "Output folder")
        .set_text_value_accesskit(bundle.to_str().unwrap());
    h.run_ok();
    h.get_by_label("Export bundle").click();
    h.run_ok();
    wait_until(&mut h, 60, "the bundle", |s| {
        s.export().result().is_some() && !s.export().is_busy()
    });
    h.get_by_label_contains("Checkpoint SHA-256");
    let checked = easel_core::export::bundle::verify_bundle(
        &bundle,
        easel_core::backend::BackendKind::Cpu,
        0,
    )
    .unwrap();
    assert_eq!(checked.images_checked, 10);
    assert_eq!(checked.manifest.steps, 5);

    // Exporting into the same, now full, folder fails in words.
    h.get_by_label("Export bundle").click();
    h.run_ok();
    wait_until(&mut h, 60, "the refusal", |s| {
        matches!(s.export().result(), Some(Err(_))) && !s.export().is_busy()
    });
    h.get_by_label_contains("not empty");
}

#[test]
fn closing_while_training_asks_and_saves() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(studio(dir.path(), None));
    h.run_ok();
    nav(&mut h, "Train");
    h.get_by_label("Start").click();
    wait_until(&mut h, 60, "training to run", |s| step_of(s) >= 2);
    let close = |h: &mut Harness<'_, Studio>| {
        let id = egui::ViewportId::ROOT;
        h.input_mut()
            .viewports
            .entry(id)
            .or_default()
            .events
            .push(egui::ViewportEvent::Close);
        h.step();
    };
    close(&mut h);
    h.run_ok();
    h.get_by_label("Training is running");
    h.get_by_label("Cancel").click();
    h.run_ok();
    assert!(h.query_by_label("Training is running").is_none());
    assert!(
        h.state().session().unwrap().is_live(),
        "cancel keeps training"
    );

    close(&mut h);
    h.run_ok();
    h.get_by_label("Save and close").click();
    h.run_ok();
    let session = h.state().session().unwrap();
    assert!(!session.is_live(), "stopped");
    let (saved, _) = session
        .last_checkpoint
        .clone()
        .expect("a checkpoint was written");
    assert_eq!(
        saved,
        step_of(h.state()),
        "nothing after the last checkpoint is lost"
    );
}

/// eframe's storage, in memory.
#[derive(Default)]
struct MemoryStorage(std::collections::HashMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

#[test]
fn panel_recent_runs_and_settings_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(studio(dir.path(), None));
    h.run_ok();
    nav(&mut h, "Canvas");
    h.state_mut().state.recent_runs = vec![dir.path().join("runs").join("a")];
    h.state_mut().state.export.count = 123;
    nav(&mut h, "Model");
    h.get_by_role_and_label(Role::TextInput, "Decoder widths")
        .set_text_value_accesskit("32, 16, 3");
    h.run_ok();
    nav(&mut h, "Export");

    let mut storage = MemoryStorage::default();
    eframe::App::save(h.state_mut(), &mut storage);
    let restored: Persisted =
        eframe::get_value(&storage, eframe::APP_KEY).expect("the studio saved its state");
    let again = Studio::with_state(restored, Box::new(FixedPicker(None)));
    assert_eq!(again.state.panel, PanelKind::Export);
    assert_eq!(
        again.state.recent_runs,
        vec![dir.path().join("runs").join("a")]
    );
    assert_eq!(again.state.export.count, 123);
    assert_eq!(again.state.model.decoder_widths, "32, 16, 3");
    assert_eq!(again.state.runs_root, dir.path());
}

#[test]
fn arena_battles_two_runs_then_plays_a_round_robin_and_saves_both() {
    let dir = tempfile::tempdir().unwrap();
    let runs: Vec<PathBuf> = [("a", 3), ("b", 6)]
        .iter()
        .map(|&(name, steps)| {
            let run = dir.path().join("runs").join(name);
            let mut config = easel_tests_config();
            config.train.checkpoint_every = 2; // b keeps steps 2, 4 and 6
            let mut trainer = easel_core::train::Trainer::create(&run, config).unwrap();
            trainer.set_schedule(Some(steps), None, None).unwrap();
            let (_tx, rx) = std::sync::mpsc::channel();
            trainer.run(&rx, &mut |_| {}).unwrap();
            run
        })
        .collect();
    let mut s = studio(&dir.path().join("runs"), None);
    s.state.recent_runs = runs.clone();
    let mut h = harness(s);
    h.run_ok();
    nav(&mut h, "Arena");
    h.get_by_label("Choose M1 and M2.");
    {
        let arena = &mut h.state_mut().state.arena;
        arena.m1 = Some(runs[0].clone());
        arena.m2 = Some(runs[1].clone());
    }
    h.get_by_role_and_label(Role::SpinButton, "Samples per generator")
        .set_value_accesskit(40.0);
    h.run_ok();
    h.get_by_label("Start the battle").click();
    h.run_ok();
    wait_until(&mut h, 120, "the battle", |s| {
        s.arena().outcome().is_some() && !s.arena().is_busy()
    });
    match h.state().arena().outcome() {
        Some(Ok(easel::panels::arena::Outcome::Battle(b))) => {
            assert_eq!(b.battle.table.d1_on_g2.total, 40);
            assert_eq!(
                b.examples[0][1].count, 4,
                "G2's samples that fooled D1 most"
            );
        }
        _ => panic!("a battle result"),
    }
    h.get_by_label_contains("r_test = ");
    h.get_by_label_contains("G2 samples (b)");
    h.get_by_label("Save results").click();
    h.run_ok();
    let saved = h.state().arena().saved().unwrap().clone().unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert!(json["verdict"]["reason"].is_string(), "{json}");
    assert!(saved.starts_with(runs[0].join("arena")));

    // The round robin of both runs: a leaderboard, the r_sample heatmap, JSON and CSV.
    h.get_by_role_and_label(Role::Button, "Round robin").click();
    h.run_ok();
    h.get_by_label("Tick two or more runs trained on the same data.");
    // Both runs at their newest, and b at an older checkpoint it keeps: a run meets its past.
    let b_at_2 = format!("{} @ step 2", runs[1].display());
    for label in [
        runs[0].display().to_string(),
        runs[1].display().to_string(),
        b_at_2,
    ] {
        h.get_by_label(&label).click();
        h.run_ok();
    }
    play_round_robin(&mut h);
    h.get_by_label("Leaderboard");
    h.get_by_label("Save results").click();
    h.run_ok();
    let saved = h.state().arena().saved().unwrap().clone().unwrap();
    let csv = std::fs::read_to_string(saved.with_extension("csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "header and three entrants: {csv}");
    assert!(csv.starts_with("rank,name,wins,ties,losses,rating,rating_se"));
    assert!(csv.contains(",\"b @ step 2\","), "{csv}");
}

#[test]
fn a_divergence_pauses_and_the_studio_rolls_back_with_half_the_learning_rates() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(studio(dir.path(), None));
    h.run_ok();
    nav(&mut h, "Train");
    h.get_by_label("Start").click();
    wait_until(&mut h, 60, "a checkpoint", |s| {
        s.session().is_some_and(|x| x.last_checkpoint.is_some())
    });
    h.state()
        .session()
        .unwrap()
        .send(easel_core::train::Command::PoisonWeight);
    wait_until(&mut h, 60, "the divergence", |s| {
        s.session().unwrap().divergence.is_some()
    });
    let session = h.state().session().unwrap();
    assert_eq!(session.status, SessionStatus::Paused);
    let good = session.divergence.as_ref().unwrap().last_good.unwrap();
    h.get_by_label_contains("training diverged at step");
    h.get_by_label(&format!(
        "Roll back to step {good} with half the learning rates"
    ))
    .click();
    wait_until(&mut h, 60, "steps after the roll back", |s| {
        let x = s.session().unwrap();
        x.rolled_back.is_some() && x.latest().is_some_and(|l| l.step > good)
    });
    let session = h.state().session().unwrap();
    assert_eq!(session.status, SessionStatus::Running);
    assert!(session.divergence.is_none());
    assert_eq!(session.latest().unwrap().learning_rates, (1e-4, 1e-4));
    h.get_by_label_contains(&format!("to the checkpoint at step {good}"));
    h.get_by_label("Stop").click();
    wait_until(&mut h, 30, "the stop", |s| !s.session().unwrap().is_live());
}

/// Starts training from the Train panel, pauses once it has taken `steps` steps, and returns the
/// step it paused at.
fn start_and_pause(h: &mut Harness<'_, Studio>, steps: u64) -> u64 {
    h.get_by_label("Start").click();
    wait_until(h, 60, "training to run", |s| step_of(s) >= steps);
    h.get_by_label("Pause").click();
    wait_until(h, 30, "the pause", |s| {
        s.session().unwrap().status == SessionStatus::Paused
    });
    step_of(h.state())
}

/// Pauses a fresh run before its first checkpoint, then opens the Canvas: it draws the live
/// model (the networks the job handed over on pausing), scrubs its steps, and follows D and G
/// steps taken while paused — all with no checkpoint on disk.
#[test]
fn the_canvas_draws_the_live_model_before_the_first_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut studio = studio(dir.path(), None);
    studio.state.model.config.train.checkpoint_every = 100_000;
    let mut h = harness(studio);
    h.run_ok();
    nav(&mut h, "Train");
    let paused_at = start_and_pause(&mut h, 3);
    let run = h.state().session().unwrap().run_dir.clone();
    let checkpoints = || std::fs::read_dir(run.join("checkpoints")).unwrap().count();
    assert_eq!(checkpoints(), 0, "no checkpoint yet");

    nav(&mut h, "Canvas");
    h.get_by_label("Draw samples").click();
    wait_until(&mut h, 60, "the drawing", |s| s.canvas().has_drawing());
    h.get_by_label(&format!(
        "Drawn from the live model at step {paused_at}, on cpu"
    ));
    assert_eq!(h.state().canvas().max_steps(), Some(9), "T′ = 3 × T");
    let slider = h.get_by_role_and_label(Role::Slider, "step t");
    slider.set_value_accesskit(5.0);
    h.run_ok();
    assert_eq!(h.state().state.canvas.t, 5);
    h.get_by_label_contains(&format!("at t = 5 (live model step {paused_at})"));

    nav(&mut h, "Train");
    h.get_by_label("Step D").click();
    wait_until(&mut h, 30, "a D step", |s| step_of(s) == paused_at + 1);
    h.get_by_label("Step G").click();
    wait_until(&mut h, 30, "a G step", |s| step_of(s) == paused_at + 2);
    nav(&mut h, "Canvas");
    h.get_by_label("Draw samples").click();
    let drawn_at = paused_at + 2;
    let want = format!("the live model at step {drawn_at}, on cpu");
    wait_until(&mut h, 60, "the redrawing", |s| {
        s.canvas().has_drawing() && s.canvas().source() == Some(want.as_str())
    });
    h.get_by_label(&format!("Drawn from {want}"));
    assert_eq!(checkpoints(), 0, "still no checkpoint");

    nav(&mut h, "Train");
    h.get_by_label("Stop").click();
    wait_until(&mut h, 30, "the stop", |s| !s.session().unwrap().is_live());
}

/// The backend chosen in the Model panel is the one the Canvas draws on (WGPU on lavapipe in
/// CI), and back on the CPU when chosen again.
#[test]
fn inference_follows_the_chosen_backend() {
    use easel_core::backend::BackendKind;
    if let Err(e) = BackendKind::Wgpu.usable() {
        assert!(
            std::env::var_os("EASEL_REQUIRE_WGPU").is_none(),
            "CI provides lavapipe: {e}"
        );
        eprintln!("no WGPU device ({e}); skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(studio(dir.path(), None));
    h.run_ok();
    nav(&mut h, "Train");
    let step = start_and_pause(&mut h, 2);
    nav(&mut h, "Canvas");
    for backend in [BackendKind::Wgpu, BackendKind::Cpu] {
        h.state_mut().state.model.config.backend = backend;
        h.run_ok();
        h.get_by_label("Draw samples").click();
        let want = format!("the live model at step {step}, on {backend}");
        wait_until(&mut h, 120, "the drawing", |s| {
            s.canvas().source() == Some(want.as_str())
        });
        h.get_by_label(&format!("Drawn from {want}"));
        h.get_by_label(&format!("backend {backend}")); // the status bar says the same
    }
    nav(&mut h, "Train");
    h.get_by_label("Stop").click();
    wait_until(&mut h, 30, "the stop", |s| !s.session().unwrap().is_live());
}
