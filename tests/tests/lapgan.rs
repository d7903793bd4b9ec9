//! LAPGAN end to end: each update touches only its network, training resumes exactly (dropout
//! masks included), checkpoints load for sampling, and the pyramid sampler's levels add up.

use easel_core::backend::BackendKind;
use easel_core::sample::LoadedModel;
use easel_core::train::{StepKind, Trainer};
use easel_tests::tiny_lapgan_config;
use easel_tests::{changed, run_steps};

#[test]
fn a_d_step_changes_only_the_discriminators_and_a_g_step_only_the_generators() {
    for classes in [0, 4] {
        let dir = tempfile::tempdir().unwrap();
        let mut t =
            Trainer::create(dir.path().join("run"), tiny_lapgan_config(classes, 1)).unwrap();
        let (g0, d0) = (
            t.networks().generator_parameters(),
            t.networks().critic_parameters(),
        );
        t.step(StepKind::DiscriminatorOnly).unwrap();
        let (g1, d1) = (
            t.networks().generator_parameters(),
            t.networks().critic_parameters(),
        );
        assert!(
            changed(&g0, &g1).is_empty(),
            "D step moved G: {:?}",
            changed(&g0, &g1)
        );
        let moved = changed(&d0, &d1);
        for level in ["coarse", "bands"] {
            assert!(
                moved.iter().any(|k| k.contains(level)),
                "the D step must train every level's D ({level}): moved {moved:?}"
            );
        }
        t.step(StepKind::GeneratorOnly).unwrap();
        let (g2, d2) = (
            t.networks().generator_parameters(),
            t.networks().critic_parameters(),
        );
        assert!(
            changed(&d1, &d2).is_empty(),
            "G step moved D: {:?}",
            changed(&d1, &d2)
        );
        let moved = changed(&g1, &g2);
        for level in ["coarse", "bands"] {
            assert!(
                moved.iter().any(|k| k.contains(level)),
                "the G step must train every level's G ({level}): moved {moved:?}"
            );
        }
    }
}

#[test]
fn lapgan_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let n = 5;
    let mut straight =
        Trainer::create(dir.path().join("straight"), tiny_lapgan_config(4, 3)).unwrap();
    run_steps(&mut straight, 2 * n);
    let mut first = Trainer::create(dir.path().join("split"), tiny_lapgan_config(4, 3)).unwrap();
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
}

#[test]
fn a_trained_lapgan_samples_its_levels_coarse_to_fine() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut t = Trainer::create(&run, tiny_lapgan_config(0, 2)).unwrap();
    run_steps(&mut t, 3);
    drop(t);
    let model = LoadedModel::load(&run, None, BackendKind::Cpu).unwrap();
    assert_eq!(model.trained_steps(), 2, "LAPGAN's steps are its levels");
    let a = model.sample(6, None, 11, true).unwrap();
    let b = model.sample(6, None, 11, false).unwrap();
    assert_eq!(
        a.images.pixels, b.images.pixels,
        "the same seed draws the same images"
    );
    assert_eq!((a.canvases.len(), a.delta_canvases.len()), (2, 2));
    assert_eq!(
        (a.images.count, a.images.height, a.images.channels),
        (6, 20, 3)
    );
    for c in &a.canvases {
        assert_eq!(
            (c.count, c.height, c.width),
            (6, 20, 20),
            "every level at the full side"
        );
    }
    assert_ne!(
        a.canvases[0].pixels, a.canvases[1].pixels,
        "the finer level adds its residual"
    );
    let other = model.sample(6, None, 12, false).unwrap();
    assert_ne!(
        other.images.pixels, a.images.pixels,
        "another seed, other images"
    );
    let e = model
        .sample(2, Some(5), 0, false)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("levels"), "{e}");
}

#[test]
fn the_pyramid_view_rerolls_one_level_and_keeps_the_coarser_ones() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut config = tiny_lapgan_config(4, 5);
    if let easel_core::train::ModelConfig::Lapgan(l) = &mut config.model {
        l.image_size = 40;
        l.levels = 3; // 40 → 20 → 10
        l.generator_widths = vec![4, 8];
        l.discriminator_widths = vec![4, 8];
    }
    let mut t = Trainer::create(&run, config).unwrap();
    run_steps(&mut t, 2);
    drop(t);
    let model = LoadedModel::load(&run, None, BackendKind::Cpu).unwrap();
    let a = model.pyramid(3, &[1, 2, 3], Some(2)).unwrap();
    assert_eq!(
        a.iter().map(|l| l.side).collect::<Vec<_>>(),
        vec![10, 20, 40]
    );
    assert!(
        a[0].low.is_none() && a[0].residual.is_none(),
        "the coarsest level is a plain GAN"
    );
    for level in &a[1..] {
        let (low, residual) = (
            level.low.as_ref().unwrap(),
            level.residual.as_ref().unwrap(),
        );
        assert_eq!(
            (low.height, residual.height, level.image.height),
            (level.side, level.side, level.side)
        );
    }
    // Re-roll the 20-pixel level (seeds are finest first: index 1).
    let b = model.pyramid(3, &[1, 9, 3], Some(2)).unwrap();
    assert_eq!(
        a[0].image.pixels, b[0].image.pixels,
        "the coarsest level is kept"
    );
    assert_ne!(
        a[1].image.pixels, b[1].image.pixels,
        "the re-rolled level changes"
    );
    assert_eq!(
        a[1].low, b[1].low,
        "its input from the coarser level is kept"
    );
    assert_ne!(a[2].image.pixels, b[2].image.pixels, "finer levels follow");
    let other_class = model.pyramid(3, &[1, 2, 3], Some(3)).unwrap();
    assert_ne!(
        a[0].image.pixels, other_class[0].image.pixels,
        "the class reaches every level"
    );
    assert!(
        model.pyramid(3, &[1, 2], None).is_err(),
        "one seed per level"
    );
}
