//! The studio's panels for the other model families, driven with egui_kittest: LAPGAN's Pyramid
//! panel, StackGAN's Text panel and set-up progress, and every preset in the Model panel.

mod common;

use common::{easel_tests_config, harness, nav, studio, wait_until};
use easel::panels::PanelKind;
use easel::picker::FixedPicker;
use easel::studio::{Persisted, Studio};
use egui_kittest::kittest::Queryable;

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
            uniform_noise: true,
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

#[test]
fn the_train_panel_shows_the_built_in_encoder_training_before_the_first_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = studio(dir.path(), None);
    let mut config = easel_tests_config();
    config.train.data_limit = Some(400);
    config.model =
        easel_core::train::ModelConfig::StackGan(easel_core::model::stackgan::StackGanConfig {
            image_size: 16,
            channels: 3,
            scales: 2,
            z_dim: 8,
            condition_dim: 6,
            text_dim: easel_core::text::builtin::WIDTH,
            encoder: easel_core::text::EncoderChoice::Builtin,
            generator_width: 32,
            discriminator_width: 4,
            ..Default::default()
        });
    s.state.model.config = config;
    let mut h = harness(s);
    h.run_ok();
    nav(&mut h, "Train");
    h.get_by_label("Start").click();
    wait_until(&mut h, 60, "the encoder's training to be reported", |s| {
        s.session()
            .and_then(|x| x.preparing.as_ref())
            .is_some_and(|(what, f)| what.contains("built-in text encoder") && f.is_some())
    });
    h.get_by_label_contains("training the built-in text encoder: ");
    wait_until(&mut h, 120, "the first step", |s| {
        s.session().and_then(|x| x.latest()).is_some()
    });
    assert!(h.state().session().unwrap().preparing.is_none());
    assert!(
        h.query_by_label_contains("built-in text encoder: ")
            .is_none()
    );
    h.get_by_label("Stop").click();
    wait_until(&mut h, 30, "the stop", |s| !s.session().unwrap().is_live());
}

/// The Model panel on the `stackgan2-shapes` preset, drawn once.
fn stackgan_shapes_model_panel() -> egui_kittest::Harness<'static, Studio> {
    let mut state = Persisted {
        panel: PanelKind::Model,
        frame_time_readout: false,
        ..Persisted::default()
    };
    state.model.apply_preset("stackgan2-shapes");
    let mut h = harness(Studio::with_state(state, Box::new(FixedPicker(None))));
    h.run_ok();
    h
}

/// The form's StackGAN config.
fn stackgan<'a>(
    h: &'a egui_kittest::Harness<'_, Studio>,
) -> &'a easel_core::model::stackgan::StackGanConfig {
    match &h.state().state.model.config.model {
        easel_core::train::ModelConfig::StackGan(s) => s,
        other => panic!("not StackGAN: {other:?}"),
    }
}

#[test]
fn a_text_stackgan_can_pair_real_images_with_hard_mismatched_captions() {
    use easel_core::model::stackgan::Mismatch;
    let mismatch = |h: &egui_kittest::Harness<'_, Studio>| stackgan(h).mismatch;
    let mut h = stackgan_shapes_model_panel();
    // The shapes preset pairs each image with counterparts' captions, read by D's own layer.
    assert_eq!(mismatch(&h), Mismatch::Counterpart);
    h.get_by_label("the next image's").click();
    h.run_ok();
    assert_eq!(mismatch(&h), Mismatch::Next);
    h.get_by_label("also the nearest of another class").click();
    h.run_ok();
    assert_eq!(mismatch(&h), Mismatch::NearestOtherClass);
    h.get_by_label("also its counterpart's").click();
    h.run_ok();
    assert_eq!(mismatch(&h), Mismatch::Counterpart);
    let reads = |h: &egui_kittest::Harness<'_, Studio>| stackgan(h).discriminator_text;
    assert_eq!(
        reads(&h),
        easel_core::model::stackgan::DiscriminatorText::Embedding
    );
    h.get_by_label("G's μ (the codes)").click();
    h.run_ok();
    assert_eq!(
        reads(&h),
        easel_core::model::stackgan::DiscriminatorText::Mu
    );
    h.get_by_label("its own compression (the papers)").click();
    h.run_ok();
    assert_eq!(
        reads(&h),
        easel_core::model::stackgan::DiscriminatorText::Embedding
    );
}

#[test]
fn instance_noise_shows_its_fall_off_only_when_on() {
    let noise = |h: &mut egui_kittest::Harness<'_, Studio>, sigma: f32| match &mut h
        .state_mut()
        .state
        .model
        .config
        .model
    {
        easel_core::train::ModelConfig::StackGan(s) => s.instance_noise = sigma,
        other => panic!("not StackGAN: {other:?}"),
    };
    let mut h = stackgan_shapes_model_panel();
    assert!(h.query_by_label("Instance noise σ").is_some());
    assert!(h.query_by_label("Noise falls to 0 after").is_none());
    noise(&mut h, 0.2);
    h.run_ok();
    assert!(h.query_by_label("Noise falls to 0 after").is_some());
}

#[test]
fn a_stackgan_offers_mode_seeking() {
    let h = stackgan_shapes_model_panel();
    assert!(h.query_by_label("Mode seeking").is_some());
    assert_eq!(
        stackgan(&h).mode_seeking,
        0.0,
        "off in the preset, as the papers"
    );
}

#[test]
fn the_devices_row_trains_data_parallel_and_says_what_batch_norm_sees() {
    use common::step_of;
    use egui::accesskit::Role;
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(studio(dir.path(), None));
    h.run_ok();
    nav(&mut h, "Model");
    let field = h.get_by_role_and_label(Role::TextInput, "Devices");
    field.set_text_value_accesskit("cpu,tpu");
    h.run_ok();
    h.get_by_label_contains("Invalid devices: backend tpu");
    let field = h.get_by_role_and_label(Role::TextInput, "Devices");
    field.set_text_value_accesskit("cpu,cpu");
    h.run_ok();
    h.get_by_label_contains("Split over 2 devices, BatchNorm normalises each device's 8 images");
    nav(&mut h, "Train");
    h.get_by_label("Start").click();
    wait_until(&mut h, 60, "two-device steps", |s| step_of(s) >= 3);
    let run = h.state().session().unwrap().run_dir.clone();
    let config = easel_core::train::RunDir::new(&run).load_config().unwrap();
    let devices: Vec<String> = config.devices.iter().map(ToString::to_string).collect();
    assert_eq!(devices, ["cpu", "cpu"]);
}
