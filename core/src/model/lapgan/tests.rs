//! Tests of LAPGAN's networks: shapes at every level, the sampling recurrence, determinism,
//! re-rolling one level, and that one level's loss trains only that level.

use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Distribution;
use burn::tensor::activation::softplus;

use super::pyramid::upsample;
use super::*;
use crate::model::{parameters, seeded};

fn tiny(classes: usize) -> LapganConfig {
    LapganConfig {
        image_size: 28,
        channels: 1,
        levels: 3,
        z_dim: 8,
        coarse_hidden: 16,
        generator_widths: vec![4, 6],
        discriminator_widths: vec![4, 6],
        generator_kernel: 3,
        classes,
        dropout: 0.5,
        uniform_noise: true,
    }
}

fn noise(g: &LapganGenerator, batch: usize, seed: u64, device: &Device) -> LapganNoise {
    let mut stream = crate::noise::NoiseStream::new(seed, 0);
    let (coarse, planes) = g.noise_sizes(batch);
    let coarse = stream.normals(coarse);
    let planes = planes.into_iter().map(|n| stream.normals(n)).collect();
    g.noise(batch, coarse, planes, device)
}

fn values(x: Tensor<4>) -> Vec<f32> {
    x.into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn every_level_has_its_shape() {
    let device = Device::flex();
    for (classes, channels, side) in [(0, 1, 28), (10, 1, 28), (0, 3, 32)] {
        let cfg = LapganConfig {
            channels,
            image_size: side,
            ..tiny(classes)
        };
        cfg.validate().unwrap();
        let sides = cfg.sides().unwrap();
        let g = cfg.init_generator(&device);
        let d = cfg.init_discriminator(&device);
        let labels = (classes > 0).then(|| Tensor::<2>::zeros([2, classes], &device));
        let drawing = g.generate(&noise(&g, 2, 1, &device), labels.clone());
        assert_eq!(drawing.images.len(), 3);
        assert_eq!((drawing.lows.len(), drawing.residuals.len()), (2, 2));
        for (k, image) in drawing.images.iter().enumerate() {
            assert_eq!(image.dims(), [2, channels, sides[k], sides[k]], "level {k}");
        }
        for (k, &side) in sides.iter().take(2).enumerate() {
            assert_eq!(drawing.lows[k].dims(), [2, channels, side, side]);
            assert_eq!(drawing.residuals[k].dims(), [2, channels, side, side]);
        }
        let image = drawing.image();
        assert_eq!(d.forward(image.clone(), labels.clone()).dims(), [2, 1]);
        assert!(values(image).iter().all(|v| (0.0..=1.0).contains(v)));
    }
}

#[test]
fn each_level_adds_its_residual_to_the_expanded_coarser_image() {
    let device = Device::flex();
    let g = tiny(0).init_generator(&device);
    let d = g.generate(&noise(&g, 3, 2, &device), None);
    for k in 0..2 {
        let expected = upsample(d.images[k + 1].clone(), g.sides()[k]);
        let low_error = (d.lows[k].clone() - expected)
            .abs()
            .max()
            .into_scalar::<f32>();
        assert!(
            low_error < 1e-6,
            "l_{k} = u(Ĩ_{}) (off by {low_error})",
            k + 1
        );
        let sum = d.lows[k].clone() + d.residuals[k].clone();
        let error = (d.images[k].clone() - sum).abs().max().into_scalar::<f32>();
        assert!(error < 1e-6, "Ĩ_{k} = l_{k} + h̃_{k} (off by {error})");
    }
}

#[test]
fn sampling_is_deterministic_from_a_seed() {
    let device = Device::flex();
    let build = || seeded(&device, 7, || tiny(0).init_generator(&device));
    let (a, b) = (build(), build());
    let draw = |g: &LapganGenerator, seed| values(g.forward(&noise(g, 4, seed, &device), None));
    assert_eq!(draw(&a, 3), draw(&b, 3), "same weights seed and noise seed");
    assert_ne!(
        draw(&a, 3),
        draw(&a, 4),
        "another noise seed draws another image"
    );
}

#[test]
fn rerolling_one_level_keeps_the_coarser_levels() {
    let device = Device::flex();
    let g = seeded(&device, 1, || tiny(0).init_generator(&device));
    let first = noise(&g, 2, 5, &device);
    let other = noise(&g, 2, 6, &device);
    for k in 0..2 {
        let mut rerolled = first.clone();
        rerolled.planes[k] = other.planes[k].clone();
        let (a, b) = (g.generate(&first, None), g.generate(&rerolled, None));
        for j in k + 1..3 {
            assert_eq!(
                values(a.images[j].clone()),
                values(b.images[j].clone()),
                "re-rolling level {k} changed coarser level {j}"
            );
        }
        assert_ne!(
            values(a.residuals[k].clone()),
            values(b.residuals[k].clone()),
            "re-rolling level {k} changes its residual"
        );
        for j in 0..k {
            assert_ne!(
                values(a.images[j].clone()),
                values(b.images[j].clone()),
                "finer level {j} follows"
            );
        }
    }
}

#[test]
fn the_real_pyramid_splits_images_into_lows_and_bands() {
    let device = Device::flex();
    let images = Tensor::<4>::random([2, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
    let real = RealPyramid::of(images.clone(), 3).unwrap();
    assert_eq!(real.coarse.dims(), [2, 1, 7, 7]);
    let finest = real.lows[0].clone() + real.bands[0].clone();
    let error = (to_unit(finest) - images).abs().max().into_scalar::<f32>();
    assert!(error < 1e-5, "l_0 + h_0 is the image (off by {error})");
    let expanded = upsample(real.coarse.clone(), 14);
    let error = (real.lows[1].clone() - expanded)
        .abs()
        .max()
        .into_scalar::<f32>();
    assert!(error < 1e-5, "l_1 = u(I_2) (off by {error})");
}

#[test]
fn one_levels_generator_loss_trains_only_that_level() {
    let device = Device::flex().autodiff();
    let cfg = tiny(0);
    let g = seeded(&device, 2, || cfg.init_generator(&device));
    let d = seeded(&device, 3, || cfg.init_discriminator(&device));
    let images = Tensor::<4>::random([4, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
    let real = RealPyramid::of(images, 3).unwrap();
    for level in 0..3 {
        let (coarse, bands) = g.training_fakes(&noise(&g, 4, 9, &device), &real, None);
        let logits = d.level_logits(coarse, &bands, &real.lows, None, None);
        let loss = softplus(logits[level].clone().neg(), 1.0).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &g);
        let mut optim = AdamConfig::new().init();
        let before = parameters(&g.valid());
        let after = parameters(&optim.step(1e-2, g.clone(), grads).valid());
        let owner = if level == 2 {
            "coarse".to_string()
        } else {
            format!("bands.{level}")
        };
        for (path, values) in &before {
            let changed = after[path] != *values;
            assert_eq!(
                changed,
                path.starts_with(&owner),
                "level {level}'s G step and {path} (changed: {changed})"
            );
        }
    }
}

#[test]
fn dropout_masks_come_from_the_caller() {
    let device = Device::flex();
    let cfg = tiny(0);
    let d = seeded(&device, 4, || cfg.init_discriminator(&device));
    let images = Tensor::<4>::random([3, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
    let real = RealPyramid::of(images, 3).unwrap();
    let run = |seed: u64| {
        let mut stream = crate::noise::NoiseStream::new(seed, 0);
        let mut uniforms = |n| stream.uniforms(n);
        let mut draw = DropoutDraw {
            uniforms: &mut uniforms,
        };
        let logits = d.level_logits(
            real.coarse.clone(),
            &real.bands,
            &real.lows,
            None,
            Some(&mut draw),
        );
        logits[0].clone().into_data().try_to_vec::<f32>().unwrap()
    };
    assert_eq!(run(1), run(1), "the same draws give the same logits");
    assert_ne!(run(1), run(2), "other draws drop other units");
}

#[test]
fn validation_names_the_field() {
    let check = |cfg: LapganConfig, field: &str| {
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains(field), "{err} should name {field}");
    };
    check(
        LapganConfig {
            levels: 4,
            ..tiny(0)
        },
        "model.levels",
    );
    check(
        LapganConfig {
            generator_widths: vec![4],
            ..tiny(0)
        },
        "model.generator_widths",
    );
    check(
        LapganConfig {
            generator_kernel: 4,
            ..tiny(0)
        },
        "model.generator_kernel",
    );
    check(
        LapganConfig {
            dropout: 1.0,
            ..tiny(0)
        },
        "model.dropout",
    );
    LapganConfig::default().validate().unwrap();
}

#[test]
fn uniform_noise_maps_the_normal_stream_into_minus_one_one() {
    let device = Device::flex();
    let g = tiny(0).init_generator(&device);
    let n = noise(&g, 64, 3, &device);
    let values = |t: Tensor<4>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    let (normal, shaped) = (
        values(n.planes[0].clone()),
        values(g.shaped(&n).planes[0].clone()),
    );
    let count = shaped.len() as f64;
    let mean = shaped.iter().map(|&v| v as f64).sum::<f64>() / count;
    let var = shaped
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / count;
    assert!(shaped.iter().all(|v| v.abs() < 1.0));
    assert!(
        mean.abs() < 0.02 && (var - 1.0 / 3.0).abs() < 0.02,
        "{mean} {var}"
    );
    // Order kept (one value per drawn normal), so the stream and resume are unchanged.
    for (a, b) in normal.iter().zip(&shaped).take(200) {
        assert_eq!(a.total_cmp(&0.0), b.total_cmp(&0.0));
    }
    let old = LapganConfig {
        uniform_noise: false,
        ..tiny(0)
    }
    .init_generator(&device);
    assert_eq!(values(old.shaped(&n).planes[0].clone()), normal);
}
