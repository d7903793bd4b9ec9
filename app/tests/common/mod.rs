//! What the studio's kittest files share: a studio with a model small enough to train in seconds,
//! its harness, and waiting on background jobs.
#![allow(dead_code)] // each test file uses its own subset

pub mod cli;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use easel::picker::FixedPicker;
use easel::studio::{Persisted, Studio};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// A studio whose runs go to `root`, configured with a model small enough to train in seconds.
pub fn studio(root: &Path, picked: Option<PathBuf>) -> Studio {
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

pub fn harness(studio: Studio) -> Harness<'static, Studio> {
    Harness::builder()
        .with_size([1200.0, 900.0])
        .build_ui_state(|ui, studio: &mut Studio| studio.frame_ui(ui), studio)
}

/// Steps frames until `done` holds, failing after `seconds`.
pub fn wait_until(
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
pub fn nav(h: &mut Harness<'_, Studio>, panel: &str) {
    h.get_by_role_and_label(Role::Button, panel).click();
    h.run_ok();
}

pub fn step_of(s: &Studio) -> u64 {
    s.session().and_then(|x| x.latest()).map_or(0, |l| l.step)
}

pub fn easel_tests_config() -> easel_core::train::RunConfig {
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

/// Presses "Play the round robin" in the Arena and waits for its leaderboard.
pub fn play_round_robin(h: &mut Harness<'_, Studio>) -> Box<easel_core::eval::arena::Arena> {
    h.get_by_label("Play the round robin").click();
    h.run_ok();
    wait_until(h, 120, "the round robin", |s| {
        matches!(
            s.arena().outcome(),
            Some(Ok(easel::panels::arena::Outcome::RoundRobin(_)))
        ) && !s.arena().is_busy()
    });
    match h.state().arena().outcome() {
        Some(Ok(easel::panels::arena::Outcome::RoundRobin(a))) => a.clone(),
        _ => unreachable!("waited for it"),
    }
}
