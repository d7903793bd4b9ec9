//! The studio driven through its labelled widgets with egui_kittest (no display needed): train on
//! the built-in data, pause, single steps, scrub the canvas past T, export, open a run and move its
//! history, and an invalid value that disables Start with the reason.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use easel::panels::PanelKind;
use easel::picker::FixedPicker;
use easel::studio::{Persisted, Studio};
use easel::worker::SessionStatus;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

/// A studio whose runs go to `root`, configured with a model small enough to train in seconds.
fn studio(root: &Path, picked: Option<PathBuf>) -> Studio {
    let mut state = Persisted {
        runs_root: root.to_path_buf(),
        ..Persisted::default()
    };
    let m = &mut state.model;
    m.decoder_widths = "16, 8, 3".into();
    m.discriminator_widths = "8, 16".into();
    let easel_core::train::ModelConfig::Gran(g) = &mut m.config.model else {
        unreachable!("the default preset is GRAN")
    };
    g.image_size = 16;
    g.z_dim = 8;
    g.hz_dim = 16;
    g.hc_dim = 16;
    m.config.train.batch_size = 16;
    m.config.train.sample_every = 5;
    m.config.train.checkpoint_every = 10;
    m.config.train.sample_count = 9;
    m.config.train.data_limit = Some(160);
    Studio::with_state(state, Box::new(FixedPicker(picked)))
}

fn harness(studio: Studio) -> Harness<'static, Studio> {
    Harness::builder()
        .with_size([1200.0, 900.0])
        .build_ui_state(|ui, studio: &mut Studio| studio.frame_ui(ui), studio)
}

/// Steps frames until `done` holds, failing after `seconds`.
fn wait_until(
    h: &mut Harness<'_, Studio>,
    seconds: u64,
    what: &str,
    done: impl Fn(&Studio) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done(h.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
    h.step();
}

/// Opens a panel from the left navigation.
fn nav(h: &mut Harness<'_, Studio>, panel: &str) {
    h.get_by_role_and_label(Role::Button, panel).click();
    h.run_ok();
}

fn step_of(s: &Studio) -> u64 {
    s.session().and_then(|x| x.latest()).map_or(0, |l| l.step)
}

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
        h.state().session().unwrap().history.len() >= 5,
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
        .history
        .iter()
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

fn easel_tests_config() -> easel_core::train::RunConfig {
    let mut s = Persisted::default();
    s.model.decoder_widths = "16, 8, 3".into();
    let easel_core::train::ModelConfig::Gran(g) = &mut s.model.config.model else {
        unreachable!("the default preset is GRAN")
    };
    g.image_size = 16;
    g.decoder_widths = vec![16, 8, 3];
    g.discriminator_widths = vec![8, 16];
    g.z_dim = 8;
    g.hz_dim = 16;
    g.hc_dim = 16;
    let mut c = s.model.config.clone();
    c.train.batch_size = 16;
    c.train.data_limit = Some(64);
    c.train.sample_count = 4;
    c
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
            let mut trainer =
                easel_core::train::Trainer::create(&run, easel_tests_config()).unwrap();
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
    for r in &runs {
        h.get_by_label(&r.display().to_string()).click();
        h.run_ok();
    }
    h.get_by_label("Play the round robin").click();
    h.run_ok();
    wait_until(&mut h, 120, "the round robin", |s| {
        matches!(
            s.arena().outcome(),
            Some(Ok(easel::panels::arena::Outcome::RoundRobin(_)))
        ) && !s.arena().is_busy()
    });
    h.get_by_label("Leaderboard");
    h.get_by_label("Save results").click();
    h.run_ok();
    let saved = h.state().arena().saved().unwrap().clone().unwrap();
    let csv = std::fs::read_to_string(saved.with_extension("csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "header and two runs: {csv}");
    assert!(csv.starts_with("rank,name,wins,ties,losses,rating,rating_se"));
}

#[test]
fn the_pyramid_panel_shows_every_level_and_rerolls_one_alone() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("runs").join("lap");
    let mut config = easel_tests_config();
    config.model =
        easel_core::train::ModelConfig::Lapgan(easel_core::model::lapgan::LapganConfig {
            image_size: 40,
            channels: 3,
            levels: 3, // 40 → 20 → 10
            z_dim: 8,
            coarse_hidden: 16,
            generator_widths: vec![4, 8],
            discriminator_widths: vec![4, 8],
            generator_kernel: 3,
            classes: 0,
            dropout: 0.5,
        });
    let mut trainer = easel_core::train::Trainer::create(&run, config).unwrap();
    trainer.set_schedule(Some(2), None, None).unwrap();
    let (_tx, rx) = std::sync::mpsc::channel();
    trainer.run(&rx, &mut |_| {}).unwrap();

    let mut h = harness(studio(&dir.path().join("runs"), Some(run.clone())));
    h.run_ok();
    nav(&mut h, "Runs");
    h.get_by_label("Open run folder…").click();
    h.run_ok();
    h.run_ok();
    h.get_by_label("view").click();
    h.run_ok();
    wait_until(&mut h, 60, "the canvas", |s| s.canvas().has_drawing());
    assert_eq!(
        h.state().canvas().max_steps(),
        Some(3),
        "LAPGAN's steps are its levels"
    );

    nav(&mut h, "Pyramid");
    h.get_by_label("Draw the pyramid").click();
    h.run_ok();
    wait_until(&mut h, 60, "the pyramid", |s| {
        !s.pyramid().busy() && !s.pyramid().levels().is_empty()
    });
    let before: Vec<_> = h.state().pyramid().levels().to_vec();
    assert_eq!(
        before.iter().map(|l| l.side).collect::<Vec<_>>(),
        vec![10, 20, 40],
        "coarse to fine"
    );
    h.get_by_label("10 × 10 coarsest");
    // Re-roll the middle level: the coarsest stays, the middle and finest change.
    let buttons: Vec<_> = h.get_all_by_label("Re-roll this level").collect();
    assert_eq!(buttons.len(), 3);
    buttons[1].click();
    h.run_ok();
    wait_until(&mut h, 60, "the re-roll", |s| {
        !s.pyramid().busy() && s.pyramid().levels().len() == 3
    });
    let after = h.state().pyramid().levels();
    assert_eq!(
        before[0].image, after[0].image,
        "the coarsest level is kept"
    );
    assert_ne!(
        before[1].image, after[1].image,
        "the re-rolled level changes"
    );
    assert_ne!(before[2].image, after[2].image, "the finer level follows");

    h.get_by_label("Export strip").click();
    h.run_ok();
    let strips: Vec<_> = std::fs::read_dir(run.join("pyramid")).unwrap().collect();
    assert_eq!(strips.len(), 1, "one strip written");
    h.get_by_label_contains("Wrote ");
}

#[test]
fn the_text_panel_draws_a_sentence_stage_by_stage_and_walks_between_two() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("runs").join("stack");
    let mut config = easel_tests_config();
    config.model =
        easel_core::train::ModelConfig::StackGan(easel_core::model::stackgan::StackGanConfig {
            version: easel_core::model::stackgan::Version::V2,
            image_size: 16,
            channels: 3,
            scales: 2, // 8 → 16
            z_dim: 8,
            condition_dim: 6,
            text_dim: easel_core::text::builtin::WIDTH,
            encoder: easel_core::text::EncoderChoice::Builtin,
            generator_width: 32,
            discriminator_width: 4,
            residual_blocks: 1,
            ..Default::default()
        });
    let mut trainer = easel_core::train::Trainer::create(&run, config).unwrap();
    trainer.set_schedule(Some(2), None, None).unwrap();
    let (_tx, rx) = std::sync::mpsc::channel();
    trainer.run(&rx, &mut |_| {}).unwrap();

    let mut h = harness(studio(&dir.path().join("runs"), Some(run.clone())));
    h.run_ok();
    nav(&mut h, "Runs");
    h.get_by_label("Open run folder…").click();
    h.run_ok();
    h.run_ok();
    h.get_by_label("view").click();
    h.run_ok();
    wait_until(&mut h, 60, "the canvas", |s| s.canvas().has_drawing());

    nav(&mut h, "Text");
    h.get_by_label("Draw").click();
    h.run_ok();
    wait_until(&mut h, 60, "the prompt's images", |s| {
        !s.text().busy() && !s.text().stages().is_empty()
    });
    let stages = h.state().text().stages().to_vec();
    assert_eq!(stages.len(), 2, "one row per scale");
    assert_eq!((stages[0].count, stages[1].count), (8, 8));
    h.get_by_label_contains("Encoder: the built-in encoder");
    h.get_by_label_contains("colour gap");
    assert!(h.query_by_label_contains("never saw").is_none());
    // A word outside the captions it trained on is pointed out, not silently misread.
    h.state_mut().state.text.prompt = "a large magenta circle on a white background".into();
    h.get_by_label("Draw").click();
    h.run_ok();
    wait_until(&mut h, 60, "the second prompt", |s| !s.text().busy());
    h.get_by_label_contains("never saw in training (read as one unknown word): magenta");

    h.get_by_label("Walk").click();
    h.run_ok();
    wait_until(&mut h, 60, "the walk", |s| {
        !s.text().busy() && s.text().walk().is_some()
    });
    let walk = h.state().text().walk().unwrap().clone();
    assert_eq!(walk.images().count, 8);
    assert_eq!(walk.sigma.len(), 8, "σ at every point");
    h.get_by_label_contains("mean σ of Conditioning Augmentation");
    h.get_by_label("Export walk").click();
    h.run_ok();
    let written: Vec<_> = std::fs::read_dir(run.join("text")).unwrap().collect();
    assert_eq!(written.len(), 3, "two stage strips and a GIF");
    h.get_by_label_contains("Wrote ");
}

#[test]
fn every_preset_renders_in_the_model_panel_with_its_own_fields() {
    for preset in easel_core::train::Preset::all() {
        let mut state = Persisted {
            panel: PanelKind::Model,
            frame_time_readout: false,
            ..Persisted::default()
        };
        state.model.apply_preset(preset.name);
        let mut h = harness(Studio::with_state(state, Box::new(FixedPicker(None))));
        h.run_ok();
        let field = match &preset.config.model {
            easel_core::train::ModelConfig::Gran(_) => "Drawing steps T",
            easel_core::train::ModelConfig::Lapgan(_) => "Pyramid levels",
            easel_core::train::ModelConfig::StackGan(_) => "KL weight",
        };
        h.get_by_label(field);
        h.get_by_label_contains(&preset.config.model.label());
    }
}
