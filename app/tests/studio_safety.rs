//! The studio under long sessions and foreign runs (egui_kittest): the load log's figures and
//! the curves' bound, and a backend this machine cannot use, replaced by the CPU only when the
//! user agrees.

mod common;

use common::{harness, step_of, studio, wait_until};
use easel_core::backend::BackendKind;
use egui_kittest::kittest::Queryable;

#[test]
fn the_load_log_records_frame_times_memory_and_bounded_curves() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("load.jsonl");
    let mut studio = studio(dir.path(), None);
    studio.set_automation(easel::studio::StudioArgs {
        autostart: true,
        load_log: Some(log.clone()),
        load_log_every: 0.3,
        ..Default::default()
    });
    let mut h = harness(studio);
    let lines = |path: &std::path::Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    wait_until(&mut h, 60, "three load lines while training", |s| {
        step_of(s) > 0 && lines(&log).iter().filter(|l| l["step"].is_u64()).count() >= 3
    });
    let read = lines(&log);
    let mut last_step = 0;
    for line in read.iter().filter(|l| l["step"].is_u64()) {
        let ms = |k: &str| line[k].as_f64().unwrap();
        assert!(line["frames"].as_u64().unwrap() >= 1, "{line}");
        assert!(
            ms("p50_ms") <= ms("p99_ms") && ms("p99_ms") <= ms("max_ms"),
            "{line}"
        );
        assert!(ms("resident_mib") > 10.0, "{line}");
        let step = line["step"].as_u64().unwrap();
        assert!(step >= last_step, "{line}");
        last_step = step;
        let windows = line["curve_windows"].as_u64().unwrap() as usize;
        assert!(windows <= easel_core::train::Curves::MAX_POINTS, "{line}");
        assert!(
            line["curve_steps"].as_u64().unwrap() >= windows as u64,
            "{line}"
        );
    }
    h.get_by_label("Stop").click();
    h.run_ok();
}

#[test]
fn an_unusable_backend_asks_before_training_on_the_cpu() {
    // CUDA is never compiled into the test build: a config asking for it is what a run made on a
    // GPU machine looks like here.
    let dir = tempfile::tempdir().unwrap();
    let mut studio = studio(dir.path(), None);
    studio.state.model.config.backend = BackendKind::Cuda;
    let mut h = harness(studio);
    h.run_ok();
    // Inference falls back to the CPU meanwhile, and the status bar says so.
    h.get_by_label("(unusable here: drawing on cpu)");
    common::nav(&mut h, "Train");
    h.get_by_label("Start").click();
    h.run_ok();
    h.get_by_label("This backend cannot be used here");
    h.get_by_label_contains("not compiled in");
    // Behind the question the Train panel says what waits on it, not what Start would do.
    h.get_by_label_contains("Waiting for an answer: the new run");
    assert!(h.query_by_label_contains("Start trains").is_none());
    assert!(
        h.state().session().is_none(),
        "nothing starts before the answer"
    );
    h.get_by_label("Cancel").click();
    h.run_ok();
    assert!(
        h.query_by_label("This backend cannot be used here")
            .is_none()
    );
    assert!(h.state().session().is_none(), "cancel trains nowhere");
    assert!(h.query_by_label_contains("Waiting for an answer").is_none());
    h.get_by_label_contains("Start trains");

    h.get_by_label("Start").click();
    h.run_ok();
    h.get_by_label("Train on the CPU").click();
    wait_until(&mut h, 60, "training on the CPU", |s| step_of(s) >= 2);
    let run = h.state().session().unwrap().run_dir.clone();
    let config = easel_core::train::RunDir::new(&run).load_config().unwrap();
    assert_eq!(config.backend, BackendKind::Cpu);
    assert_eq!(h.state().state.model.config.backend, BackendKind::Cpu);
    h.get_by_label("Stop").click();
    h.run_ok();
}
