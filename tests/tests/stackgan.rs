//! StackGAN end to end on the built-in shapes' captions: updates touch only their networks (and,
//! in v1, only the stage of the current phase), training resumes exactly, checkpoints load for
//! sampling from any sentence, and walks between sentences and seeds keep their ends.

use burn::module::Module;
use easel_core::backend::BackendKind;
use easel_core::eval::text_check::text_check;
use easel_core::eval::variety::{VarietyReference, spread, variety};
use easel_core::interpolate;
use easel_core::model::stackgan::Version;
use easel_core::sample::LoadedModel;
use easel_core::train::{StepKind, Trainer};
use easel_tests::{learned_changes as changed, run_steps};
use easel_tests::{minilm_or_skip, tiny_stackgan_config};

#[test]
fn an_unconditional_v2_trains_every_scale_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_stackgan_config(Version::V2, false, 0, 3);
    let mut t = Trainer::create(dir.path().join("steps"), config.clone()).unwrap();
    let (g0, d0) = (
        t.networks().generator_parameters(),
        t.networks().critic_parameters(),
    );
    t.step(StepKind::DiscriminatorOnly).unwrap();
    let (g1, d1) = (
        t.networks().generator_parameters(),
        t.networks().critic_parameters(),
    );
    assert!(changed(&g0, &g1).is_empty(), "a D step moved G");
    let moved = changed(&d0, &d1);
    for scale in ["scales.0.", "scales.1."] {
        assert!(
            moved.iter().any(|k| k.contains(scale)),
            "{scale} did not train: {moved:?}"
        );
    }
    t.step(StepKind::GeneratorOnly).unwrap();
    let (g2, d2) = (
        t.networks().generator_parameters(),
        t.networks().critic_parameters(),
    );
    assert!(changed(&d1, &d2).is_empty(), "a G step moved D");
    assert!(!changed(&g1, &g2).is_empty());

    let n = 3;
    let mut straight = Trainer::create(dir.path().join("straight"), config.clone()).unwrap();
    run_steps(&mut straight, 2 * n);
    let mut first = Trainer::create(dir.path().join("split"), config).unwrap();
    run_steps(&mut first, n);
    drop(first);
    let mut second = Trainer::resume(dir.path().join("split"), None).unwrap();
    run_steps(&mut second, 2 * n);
    let (a, b) = (
        straight.networks().generator_parameters(),
        second.networks().generator_parameters(),
    );
    assert_eq!(a, b, "generator weights differ: {:?}", changed(&a, &b));
    let (a, b) = (
        straight.networks().critic_parameters(),
        second.networks().critic_parameters(),
    );
    assert_eq!(a, b, "discriminator weights differ: {:?}", changed(&a, &b));

    // Sampling and a walk between two seeds.
    drop(second);
    let model = LoadedModel::load(&dir.path().join("split"), None, BackendKind::Cpu).unwrap();
    let a = model.sample(4, None, 9, true).unwrap();
    assert_eq!((a.images.count, a.images.height), (4, 16));
    assert_eq!(a.canvases.len(), 2, "one canvas per scale");
    let walk = interpolate::between_seeds(&model, 9, 10, 5).unwrap();
    assert_eq!(walk.stages.len(), 2);
    assert_eq!(walk.images().count, 5);
    let first = model.sample(1, None, 9, false).unwrap();
    assert_eq!(
        walk.images().to_rgba(0).into_raw(),
        first.images.to_rgba(0).into_raw(),
        "the walk starts at the first seed's image"
    );
    let e = interpolate::between_texts(&model, "a", "b", 4, 0, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not draw from text"), "{e}");
}

#[test]
fn v1_trains_stage_one_then_only_stage_two() {
    if !minilm_or_skip("v1_trains_stage_one_then_only_stage_two") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut t = Trainer::create(
        dir.path().join("run"),
        tiny_stackgan_config(Version::V1, true, 2, 1),
    )
    .unwrap();
    let stage = |moved: &[String], part: &str| moved.iter().any(|k| k.contains(part));
    for step in 0..4 {
        let (g0, d0) = (
            t.networks().generator_parameters(),
            t.networks().critic_parameters(),
        );
        t.step(StepKind::Full).unwrap();
        let (g1, d1) = (
            t.networks().generator_parameters(),
            t.networks().critic_parameters(),
        );
        let (gm, dm) = (changed(&g0, &g1), changed(&d0, &d1));
        let phase_one = step < 2;
        assert_eq!(
            stage(&gm, ".stage1."),
            phase_one,
            "step {step}: G moved {gm:?}"
        );
        assert_eq!(
            stage(&gm, ".stage2."),
            !phase_one,
            "step {step}: G moved {gm:?}"
        );
        assert_eq!(
            stage(&dm, "scales.0."),
            phase_one,
            "step {step}: D moved {dm:?}"
        );
        assert_eq!(
            stage(&dm, "scales.1."),
            !phase_one,
            "step {step}: D moved {dm:?}"
        );
    }
}

#[test]
fn a_text_model_resumes_exactly_and_draws_from_any_sentence() {
    if !minilm_or_skip("a_text_model_resumes_exactly_and_draws_from_any_sentence") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_stackgan_config(Version::V2, true, 0, 4);
    let n = 3;
    let mut straight = Trainer::create(dir.path().join("straight"), config.clone()).unwrap();
    run_steps(&mut straight, 2 * n);
    let mut first = Trainer::create(dir.path().join("split"), config).unwrap();
    run_steps(&mut first, n);
    drop(first);
    let mut second = Trainer::resume(dir.path().join("split"), None).unwrap();
    run_steps(&mut second, 2 * n);
    let (a, b) = (
        straight.networks().generator_parameters(),
        second.networks().generator_parameters(),
    );
    assert_eq!(a, b, "generator weights differ: {:?}", changed(&a, &b));
    drop((straight, second));

    let run = dir.path().join("split");
    let written = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(
        written.contains("encoder = \"minilm\""),
        "the run records its encoder"
    );
    let mut model = LoadedModel::load(&run, None, BackendKind::Cpu).unwrap();
    assert!(model.reads_text());
    let held_out = model.sample(4, None, 5, false).unwrap();
    model
        .set_prompts(&["a large red circle on a white background".to_string()])
        .unwrap();
    let red = model.sample(4, None, 5, false).unwrap();
    assert_eq!(red.images.count, 4);
    assert_ne!(
        red.images.pixels, held_out.images.pixels,
        "the text conditions the images"
    );
    assert_eq!(
        red.images.pixels,
        model.sample(4, None, 5, false).unwrap().images.pixels,
        "a seed and a sentence fix the images"
    );
    assert!(model.set_prompts(&[" ".to_string()]).is_err());

    let there =
        interpolate::between_texts(&model, "a red circle", "a blue ring", 5, 2, false).unwrap();
    let back =
        interpolate::between_texts(&model, "a blue ring", "a red circle", 5, 2, false).unwrap();
    assert_eq!(there.stages.len(), 2);
    assert_eq!(there.sigma.len(), 5);
    for i in 0..5 {
        assert_eq!(
            there.images().to_rgba(i).into_raw(),
            back.images().to_rgba(4 - i).into_raw(),
            "point {i} of a walk is point {} of the walk back",
            4 - i
        );
    }
    assert_ne!(
        there.images().to_rgba(0).into_raw(),
        there.images().to_rgba(4).into_raw()
    );
    // With Conditioning Augmentation's noise kept (sampled ĉ = μ + σ ⊙ ε): one ε for the whole
    // walk, from the seed, so the walk back is still the walk there reversed; the images differ
    // from μ's, and another seed draws another ε.
    let walk =
        |from, to, seed| interpolate::between_texts(&model, from, to, 5, seed, true).unwrap();
    let sampled = walk("a red circle", "a blue ring", 2);
    let sampled_back = walk("a blue ring", "a red circle", 2);
    assert_eq!(sampled.sigma, there.sigma, "σ depends on the text alone");
    for i in 0..5 {
        assert_eq!(
            sampled.images().to_rgba(i).into_raw(),
            sampled_back.images().to_rgba(4 - i).into_raw(),
            "point {i} of a sampled walk is point {} of the walk back",
            4 - i
        );
        assert_ne!(
            sampled.images().to_rgba(i).into_raw(),
            there.images().to_rgba(i).into_raw(),
            "point {i}: ε moves ĉ off μ"
        );
    }
    let again = |seed| {
        walk("a red circle", "a blue ring", seed)
            .images()
            .pixels
            .clone()
    };
    assert_eq!(again(2), sampled.images().pixels, "a seed fixes ε");
    assert_ne!(
        again(3),
        sampled.images().pixels,
        "another seed, another z and ε"
    );
}

#[test]
fn the_builtin_encoder_trains_with_the_run_and_travels_with_it() {
    use easel_core::text::EncoderChoice;
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut config = tiny_stackgan_config(Version::V2, true, 0, 6);
    if let easel_core::train::ModelConfig::StackGan(s) = &mut config.model {
        s.encoder = EncoderChoice::Builtin;
        s.text_dim = easel_core::text::builtin::WIDTH;
    }
    let mut reports: Vec<(String, Option<f32>)> = Vec::new();
    let mut t = Trainer::create_reporting(&run, config, &mut |what, f| {
        reports.push((what.to_string(), f))
    })
    .unwrap();
    assert!(
        run.join("text_encoder.bin").is_file(),
        "the run keeps its encoder"
    );
    // The set-up says what it is doing while the encoder trains: data, encoder, captions.
    assert!(
        reports[0].0.starts_with("loading built-in shapes"),
        "{:?}",
        reports[0]
    );
    let encoder: Vec<f32> = reports
        .iter()
        .filter(|(w, _)| w == "training the built-in text encoder")
        .filter_map(|(_, f)| *f)
        .collect();
    assert!(encoder.len() >= 10, "{} reports", encoder.len());
    assert!(encoder.windows(2).all(|w| w[0] <= w[1]) && encoder.last() == Some(&1.0));
    assert!(
        reports
            .last()
            .unwrap()
            .0
            .starts_with("embedding the captions")
    );
    run_steps(&mut t, 2);
    drop(t);
    let mut reports = Vec::new();
    let mut resumed =
        Trainer::resume_reporting(&run, None, &mut |what, _| reports.push(what.to_string()))
            .unwrap();
    assert!(
        !reports.iter().any(|w| w.contains("training the built-in")),
        "a resumed run reads its encoder back: {reports:?}"
    );
    run_steps(&mut resumed, 3);
    drop(resumed);
    let written = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(written.contains("encoder = \"builtin\""), "{written}");
    let mut model = LoadedModel::load(&run, None, BackendKind::Cpu).unwrap();
    assert!(model.reads_text());
    assert_eq!(model.encoder().unwrap().width(), 128);
    model
        .set_prompts(&["a small green ring on a black background".into()])
        .unwrap();
    assert_eq!(model.sample(3, None, 1, false).unwrap().images.count, 3);

    std::fs::remove_file(run.join("text_encoder.bin")).unwrap();
    let e = LoadedModel::load(&run, None, BackendKind::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("text_encoder.bin"), "{e}");
}

#[test]
fn stackgans_play_gam_battles_and_the_arena_against_gran() {
    use easel_core::eval::{arena, gam};
    let dir = tempfile::tempdir().unwrap();
    let builtin = |mut c: easel_core::train::RunConfig| {
        if let easel_core::train::ModelConfig::StackGan(s) = &mut c.model {
            s.encoder = easel_core::text::EncoderChoice::Builtin;
            s.text_dim = easel_core::text::builtin::WIDTH;
        }
        c
    };
    let configs = [
        ("gran", easel_tests::tiny_config(2, 1)),
        ("v1", builtin(tiny_stackgan_config(Version::V1, true, 2, 2))),
        ("v2", tiny_stackgan_config(Version::V2, false, 0, 3)),
    ];
    let mut models = Vec::new();
    for (name, config) in configs {
        let run = dir.path().join(name);
        run_steps(&mut Trainer::create(&run, config).unwrap(), 3);
        models.push(LoadedModel::load(&run, None, BackendKind::Cpu).unwrap());
    }
    let data = models[0].dataset().unwrap();
    let config = gam::BattleConfig {
        samples: 48,
        real_limit: Some(64),
        ..gam::BattleConfig::default()
    };
    let refs: Vec<&LoadedModel> = models.iter().collect();
    let names: Vec<String> = ["gran", "v1", "v2"].map(String::from).to_vec();
    let board = arena::round_robin(&refs, &names, &data, &config, &mut |_, _| {}).unwrap();
    assert_eq!(board.verdicts.len(), 3);
    assert_eq!(board.leaderboard.len(), 3);
    for i in 0..3 {
        assert_eq!(
            board.cross.on_test[i].total, 16,
            "every D reads the held-out images"
        );
        for j in 0..3 {
            assert_eq!(board.cross.on_samples[i][j].total, 48);
        }
    }
    // GRAN's D judged the text model's own samples: drawn from its held-out prompts.
    let drawn = models[1]
        .sample(48, None, config.seed, false)
        .unwrap()
        .images;
    assert!(models[1].prompts().unwrap().is_some());
    assert_eq!(
        board.cross.on_samples[0][1],
        gam::error_on_samples(&models[0].networks, &models[0].device, &drawn)
    );
    // Swapping the two StackGANs swaps every cell, so r_sample inverts.
    let ab = gam::battle(&models[1], &models[2], &data, &config).unwrap();
    let ba = gam::battle(&models[2], &models[1], &data, &config).unwrap();
    assert_eq!(ab.table.d1_on_g2, ba.table.d2_on_g1);
    assert_eq!(ab.table.d2_on_g1, ba.table.d1_on_g2);
    assert_eq!(ab.table.d1_on_test, ba.table.d2_on_test);
    if let (gam::Ratio::Value(x), gam::Ratio::Value(y)) = (ab.verdict.r_sample, ba.verdict.r_sample)
    {
        assert!((x * y - 1.0).abs() < 1e-9, "{x} × {y}");
    }
    assert_eq!(board.cross.pair(1, 2), ab.table);
}

#[test]
fn hard_mismatches_need_labelled_images_and_train_on_the_shapes() {
    use easel_core::data::DataSource;
    use easel_core::model::stackgan::Mismatch;
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny_stackgan_config(Version::V2, true, 0, 7);
    if let easel_core::train::ModelConfig::StackGan(s) = &mut config.model {
        s.mismatch = Mismatch::NearestOtherClass;
    }
    // A flat folder of x.png + x.txt has captions but no classes to tell a mismatch by.
    let flat = dir.path().join("flat");
    std::fs::create_dir_all(&flat).unwrap();
    for i in 0..40u8 {
        image::RgbImage::from_pixel(16, 16, image::Rgb([i * 6, 100, 200 - i * 4]))
            .save(flat.join(format!("{i}.png")))
            .unwrap();
        std::fs::write(
            flat.join(format!("{i}.txt")),
            format!("a square of shade {i}"),
        )
        .unwrap();
    }
    let shapes = config.data.clone();
    config.data = DataSource::Folder { path: flat };
    let e = Trainer::create(dir.path().join("flat-run"), config.clone())
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("model.mismatch") && e.contains("labelled"),
        "{e}"
    );
    assert!(!dir.path().join("flat-run").exists(), "nothing left behind");
    let mut counterpart = config.clone();
    if let easel_core::train::ModelConfig::StackGan(s) = &mut counterpart.model {
        s.mismatch = Mismatch::Counterpart;
    }
    let e = Trainer::create(dir.path().join("flat-run"), counterpart.clone())
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("counterpart") && e.contains("labelled"), "{e}");
    if !minilm_or_skip("hard_mismatches_need_labelled_images_and_train_on_the_shapes") {
        return;
    }
    // The shapes are labelled by their shape.
    config.data = shapes.clone();
    let mut t = Trainer::create(dir.path().join("run"), config).unwrap();
    run_steps(&mut t, 3);
    // The counterparts' pairs add a term to D's loss: the first step, from the same seed and
    // batch, differs from the next-image pairs' alone.
    counterpart.data = shapes;
    let mut next = counterpart.clone();
    if let easel_core::train::ModelConfig::StackGan(s) = &mut next.model {
        s.mismatch = Mismatch::Next;
    }
    let first_d_loss = |config, name: &str| {
        let mut t = Trainer::create(dir.path().join(name), config).unwrap();
        t.step(StepKind::Full).unwrap().0.d_loss.unwrap()
    };
    let (with, without) = (
        first_d_loss(counterpart.clone(), "counterpart-run"),
        first_d_loss(next, "next-run"),
    );
    assert!(
        with.is_finite() && (with - without).abs() > 1e-4,
        "{with} vs {without}"
    );
    let mut t = Trainer::create(dir.path().join("counterpart-steps"), counterpart.clone()).unwrap();
    run_steps(&mut t, 3);
    // With each D compressing the text itself (the papers), the run trains, checkpoints and
    // loads back with those layers.
    if let easel_core::train::ModelConfig::StackGan(s) = &mut counterpart.model {
        s.discriminator_text = easel_core::model::stackgan::DiscriminatorText::Embedding;
    }
    let own = dir.path().join("own-text");
    let mut t = Trainer::create(&own, counterpart).unwrap();
    run_steps(&mut t, 2);
    let loaded = LoadedModel::load(&own, None, BackendKind::Cpu).unwrap();
    let easel_core::model::gan::Networks::StackGan(p) = &loaded.networks else {
        panic!("a StackGAN run")
    };
    assert!(loaded.step == 2 && p.critic.scales.iter().all(|s| s.reads_embeddings()));

    // D's text check pairs every held-out image with the closest caption of each other class.
    let data = loaded.dataset().unwrap();
    let check = text_check(&loaded, &data, 64)
        .unwrap()
        .expect("a text model");
    let labels = &data.test.labels.as_ref().unwrap()[..check.images];
    let mut classes = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    assert_eq!((check.images, check.others), (16, classes.len() - 1));
    assert_eq!(check.scales.len(), 2, "both scales read text");
    for s in &check.scales {
        assert!((0.0..=1.0).contains(&s.prefers_right), "{s:?}");
        assert!(s.right > 0.0 && s.right < 1.0 && s.wrong > 0.0 && s.wrong < 1.0);
        assert_ne!(s.right, s.wrong, "the captions change D's reading");
    }
    assert_eq!(check.scales[1].side, 16);
    // Images of chosen sentences draw their noise as sampling as many images does: sentences
    // 0..4 are the sample of 4; a sentence repeated is drawn under other noise.
    let plain = loaded.sample(4, None, 5, false).unwrap().images;
    let chosen = loaded.sample_prompts(&[0, 1, 2, 3], 5).unwrap();
    assert_eq!((chosen.count, &chosen.pixels), (4, &plain.pixels));
    let again = loaded.sample_prompts(&[0, 0], 5).unwrap();
    let other = loaded.sample_prompts(&[0, 1], 5).unwrap();
    let len = again.pixels.len() / 2;
    assert_eq!(again.pixels[..len], other.pixels[..len]);
    assert_ne!(
        again.pixels[len..],
        other.pixels[len..],
        "sentence 0, not 1"
    );
    assert_ne!(again.pixels[..len], again.pixels[len..], "other noise");
    let held_out = loaded.prompts().unwrap().unwrap().texts.len();
    let err = loaded
        .sample_prompts(&[held_out], 5)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("the model holds {held_out}")),
        "{err}"
    );
    // The variety within a caption: 8 samples each of the first 16 held-out captions, beside
    // each caption's shape drawn at other places.
    let v = variety(&loaded, &data, 3)
        .unwrap()
        .expect("a text model on labelled data");
    assert_eq!((v.captions, v.per_caption), (16.min(held_out), 8));
    assert_eq!(v.reference, VarietyReference::Placed);
    let rows: Vec<usize> = (0..v.captions).flat_map(|c| [c; 8]).collect();
    let drawn = loaded.sample_prompts(&rows, 3).unwrap();
    let side_len = drawn.pixels.len() / drawn.count;
    assert_eq!(v.samples, spread(&drawn.pixels, v.captions, 8, side_len));
    assert!(
        v.samples > 0.0,
        "an untrained generator reads its noise: {v:?}"
    );
    // A shape moved about changes 5–20% of the pixels by a colour difference of 0.2–0.9.
    assert!((0.02..0.3).contains(&v.real), "{v:?}");
    // A D whose text layer outputs zeros reads every caption alike: the same score for the
    // right caption and the others, and no pair in which the right one scores higher.
    let mut blind = loaded;
    let easel_core::model::gan::Networks::StackGan(p) = &mut blind.networks else {
        panic!("a StackGAN run")
    };
    p.critic = p.critic.clone().map(&mut ZeroText::default());
    let check = text_check(&blind, &data, 64).unwrap().unwrap();
    for s in &check.scales {
        assert_eq!(s.prefers_right, 0.0, "{s:?}");
        assert!((s.right - s.wrong).abs() < 1e-9, "{s:?}");
    }
}

/// Zeroes the float parameters of modules named `text` (each D's compression of the sentence
/// embeddings).
#[derive(Default)]
struct ZeroText {
    path: Vec<String>,
}

impl burn::module::ModuleMapper for ZeroText {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<burn::tensor::Tensor<D>>,
    ) -> burn::module::Param<burn::tensor::Tensor<D>> {
        if self.path.iter().any(|p| p == "text") {
            param.map(|t| t.zeros_like())
        } else {
            param
        }
    }
}

#[test]
fn mode_seeking_trains_on_batches_of_each_image_twice() {
    use easel_core::text::EncoderChoice;
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny_stackgan_config(Version::V2, true, 0, 8);
    if let easel_core::train::ModelConfig::StackGan(s) = &mut config.model {
        s.encoder = EncoderChoice::Builtin;
        s.text_dim = easel_core::text::builtin::WIDTH;
        s.mode_seeking = 1.0;
    }
    let mut odd = config.clone();
    odd.train.batch_size = 5;
    let e = Trainer::create(dir.path().join("odd"), odd)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("an even batch of 4 or more, found 5"), "{e}");
    let b = config.train.batch_size;
    let mut t = Trainer::create(dir.path().join("run"), config).unwrap();
    let n = t.data().train.len();
    assert_eq!(
        t.steps_per_epoch(),
        (n / (b / 2)) as u64,
        "an epoch takes twice the steps"
    );
    // Each batch is half a batch of images, twice; over an epoch each image comes once.
    let mut seen = Vec::new();
    for i in 0..t.steps_per_epoch() as usize {
        let images = t.batch_images(i);
        assert_eq!(images.len(), b);
        assert_eq!(images[..b / 2], images[b / 2..], "batch {i}");
        seen.extend_from_slice(&images[..b / 2]);
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), n / (b / 2) * (b / 2));
    run_steps(&mut t, 3);
    assert_eq!(t.state().step, 3);
}
