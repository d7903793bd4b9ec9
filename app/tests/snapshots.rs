//! What each panel looks like, rendered with wgpu (Mesa's lavapipe on machines without a GPU) and
//! compared with the images under `tests/snapshots/`. After a deliberate change to the look, run
//! `UPDATE_SNAPSHOTS=1 cargo test -p easel --test snapshots` and review the new images.
//!
//! Everything shown is deterministic: the built-in data, a run trained with a fixed seed in a fixed
//! folder, no frame-time readout.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use easel::panels::PanelKind;
use easel::picker::FixedPicker;
use easel::studio::{Persisted, Studio};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// A folder with the same name on every machine (paths appear on screen).
fn fixed_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("easel-snapshots").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn small(state: &mut Persisted) {
    let m = &mut state.model;
    m.decoder_widths = "16, 8, 3".into();
    m.discriminator_widths = "8, 16".into();
    let easel_core::train::ModelConfig::Gran(g) = &mut m.config.model else {
        unreachable!("the default preset is GRAN")
    };
    g.image_size = 16;
    g.decoder_widths = vec![16, 8, 3];
    g.discriminator_widths = vec![8, 16];
    g.z_dim = 8;
    g.hz_dim = 16;
    g.hc_dim = 16;
    m.config.train.batch_size = 16;
    m.config.train.data_limit = Some(64);
    m.config.train.sample_count = 16;
    m.config.train.sample_every = 2;
}

/// Trains a small run for 6 steps into `root/a`.
fn trained_run(root: &Path) -> PathBuf {
    let run = root.join("a");
    let mut state = Persisted::default();
    small(&mut state);
    let mut trainer = easel_core::train::Trainer::create(&run, state.model.config.clone()).unwrap();
    trainer.set_schedule(Some(6), None, None).unwrap();
    let (_tx, rx) = std::sync::mpsc::channel();
    trainer.run(&rx, &mut |_| {}).unwrap();
    run
}

fn harness(root: &Path, panel: PanelKind, picked: Option<PathBuf>) -> Harness<'static, Studio> {
    let mut state = Persisted {
        runs_root: root.to_path_buf(),
        panel,
        frame_time_readout: false,
        ..Persisted::default()
    };
    small(&mut state);
    let studio = Studio::with_state(state, Box::new(FixedPicker(picked)));
    Harness::builder()
        .with_size([1100.0, 760.0])
        .build_ui_state(|ui, studio: &mut Studio| studio.frame_ui(ui), studio)
}

fn wait_until(h: &mut Harness<'_, Studio>, what: &str, done: impl Fn(&Studio) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(h.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
    h.run_ok();
}

#[test]
fn data_panel() {
    let root = fixed_dir("data");
    let mut h = harness(&root, PanelKind::Data, None);
    wait_until(&mut h, "the preview", |s| {
        s.state.data.preview_counts().is_some()
    });
    h.snapshot("data");
}

#[test]
fn model_panel() {
    let root = fixed_dir("model");
    let mut h = harness(&root, PanelKind::Model, None);
    h.run_ok();
    h.snapshot("model");
}

#[test]
fn train_panel_before_start() {
    let root = fixed_dir("train");
    let mut h = harness(&root, PanelKind::Train, None);
    h.run_ok();
    h.snapshot("train");
}

#[test]
fn canvas_runs_and_export_panels_on_a_trained_run() {
    let root = fixed_dir("trained");
    let run = trained_run(&root);
    let mut h = harness(&root, PanelKind::Runs, Some(run.clone()));
    h.run_ok();
    h.get_by_label("Open run folder…").click();
    h.run_ok();
    h.run_ok();
    h.snapshot("runs");

    h.get_by_label("Open in Canvas").click();
    wait_until(&mut h, "the drawing", |s| s.canvas().has_drawing());
    h.snapshot("canvas");
    h.get_by_label("show ΔC_t (update) instead of C_t").click();
    h.run_ok();
    h.snapshot("canvas-delta");

    h.state_mut().state.panel = PanelKind::Export;
    h.run_ok();
    h.run_ok();
    h.snapshot("export");
}

#[test]
fn arena_battle_and_round_robin_on_a_trained_run() {
    let root = fixed_dir("arena");
    let run = trained_run(&root);
    let mut h = harness(&root, PanelKind::Arena, None);
    {
        let s = &mut h.state_mut().state;
        s.recent_runs = vec![run.clone()];
        s.arena.m1 = Some(run.clone());
        s.arena.m2 = Some(run.clone());
        s.arena.samples = 64;
    }
    h.run_ok();
    h.get_by_label("Start the battle").click();
    h.run_ok();
    wait_until(&mut h, "the battle", |s| {
        s.arena().outcome().is_some() && !s.arena().is_busy()
    });
    h.snapshot("arena-battle");
    {
        let arena = &mut h.state_mut().state.arena;
        arena.mode = easel::panels::arena::ArenaMode::RoundRobin;
        arena.field = vec![run.clone(), run.clone()];
    }
    h.run_ok();
    h.get_by_label("Play the round robin").click();
    h.run_ok();
    wait_until(&mut h, "the round robin", |s| {
        matches!(
            s.arena().outcome(),
            Some(Ok(easel::panels::arena::Outcome::RoundRobin(_)))
        ) && !s.arena().is_busy()
    });
    h.snapshot("arena-round-robin");
}

#[test]
fn pyramid_panel_on_a_trained_lapgan() {
    let root = fixed_dir("lapgan");
    let run = root.join("lap");
    let mut state = Persisted::default();
    small(&mut state);
    let mut config = state.model.config.clone();
    config.model =
        easel_core::train::ModelConfig::Lapgan(easel_core::model::lapgan::LapganConfig {
            image_size: 32,
            channels: 3,
            levels: 2, // 32 → 16
            z_dim: 8,
            coarse_hidden: 32,
            generator_widths: vec![8],
            discriminator_widths: vec![8],
            generator_kernel: 3,
            classes: 0,
            dropout: 0.5,
            uniform_noise: false, // the snapshot's images predate uniform noise
        });
    let mut trainer = easel_core::train::Trainer::create(&run, config).unwrap();
    trainer.set_schedule(Some(4), None, None).unwrap();
    let (_tx, rx) = std::sync::mpsc::channel();
    trainer.run(&rx, &mut |_| {}).unwrap();

    let mut h = harness(&root, PanelKind::Runs, Some(run.clone()));
    h.run_ok();
    h.get_by_label("Open run folder…").click();
    h.run_ok();
    h.run_ok();
    h.get_by_label("Open in Canvas").click();
    wait_until(&mut h, "the drawing", |s| s.canvas().has_drawing());
    h.state_mut().state.panel = PanelKind::Pyramid;
    h.run_ok();
    h.get_by_label("Draw the pyramid").click();
    h.run_ok();
    wait_until(&mut h, "the pyramid", |s| {
        !s.pyramid().busy() && !s.pyramid().levels().is_empty()
    });
    h.snapshot("pyramid");
}

#[test]
fn text_panel_on_a_trained_stackgan() {
    let root = fixed_dir("stackgan");
    let run = root.join("stack");
    let mut state = Persisted::default();
    small(&mut state);
    let mut config = state.model.config.clone();
    config.model =
        easel_core::train::ModelConfig::StackGan(easel_core::model::stackgan::StackGanConfig {
            version: easel_core::model::stackgan::Version::V2,
            image_size: 32,
            channels: 3,
            scales: 3, // 8 → 16 → 32
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
    trainer.set_schedule(Some(4), None, None).unwrap();
    let (_tx, rx) = std::sync::mpsc::channel();
    trainer.run(&rx, &mut |_| {}).unwrap();

    let mut h = harness(&root, PanelKind::Runs, Some(run.clone()));
    h.run_ok();
    h.get_by_label("Open run folder…").click();
    h.run_ok();
    h.run_ok();
    h.get_by_label("Open in Canvas").click();
    wait_until(&mut h, "the drawing", |s| s.canvas().has_drawing());
    h.state_mut().state.panel = PanelKind::Text;
    h.run_ok();
    h.get_by_label("Draw").click();
    h.run_ok();
    wait_until(&mut h, "the prompt", |s| {
        !s.text().busy() && !s.text().stages().is_empty()
    });
    h.get_by_label("Walk").click();
    h.run_ok();
    wait_until(&mut h, "the walk", |s| {
        !s.text().busy() && s.text().walk().is_some()
    });
    h.snapshot("text");
}
