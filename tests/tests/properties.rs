//! Property tests of Easel's invariants over generated inputs: the Laplacian pyramid rebuilds any
//! image, swapping two models in a GAM battle inverts both ratios and swaps the verdict, GRAN's
//! canvases are the sigmoid of the summed updates at every step, and every run config survives
//! a round trip through TOML.

use burn::prelude::*;
use easel_core::data::DataSource;
use easel_core::eval::gam::{ErrorRate, Ratio, Table, Winner, decide};
use easel_core::model::gran::{GranConfig, NoiseMode};
use easel_core::model::lapgan::LapganConfig;
use easel_core::model::lapgan::pyramid::Laplacian;
use easel_core::model::stackgan::{StackGanConfig, Version};
use easel_core::train::{ModelConfig, RunConfig, TrainConfig};
use proptest::prelude::*;

fn values<const D: usize>(x: Tensor<D>) -> Vec<f32> {
    x.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn the_pyramid_rebuilds_any_image(
        side in 9usize..=40,
        channels in prop_oneof![Just(1usize), Just(3usize)],
        batch in 1usize..=3,
        levels in 1usize..=3,
        seed in any::<u64>(),
    ) {
        // Levels need sides the pyramid allows (at least 3 after halving); skip the others.
        prop_assume!(easel_core::model::lapgan::pyramid::level_sides(side, levels).is_ok());
        let device = Device::flex();
        let n = batch * channels * side * side;
        let mut state = seed | 1;
        let pixels: Vec<f32> = (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 2001) as f32 / 1000.0 - 1.0
            })
            .collect();
        let image = Tensor::<4>::from_data(
            TensorData::new(pixels.clone(), [batch, channels, side, side]),
            &device,
        );
        let pyramid = Laplacian::decompose(image, levels).unwrap();
        let rebuilt = values(pyramid.reconstruct());
        let worst = pixels
            .iter()
            .zip(&rebuilt)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        prop_assert!(worst < 1e-5, "largest error {worst}");
    }

    #[test]
    fn swapping_two_models_inverts_the_ratios_and_swaps_the_verdict(
        counts in proptest::collection::vec((0usize..=60, 1usize..=60), 8),
        tolerance in 0.0f64..0.9,
    ) {
        let e = |(errors, total): (usize, usize)| ErrorRate { errors: errors.min(total), total };
        let t = Table {
            d1_on_g1: e(counts[0]),
            d1_on_train: e(counts[1]),
            d1_on_g2: e(counts[2]),
            d1_on_test: e(counts[3]),
            d2_on_g1: e(counts[4]),
            d2_on_test: e(counts[5]),
            d2_on_g2: e(counts[6]),
            d2_on_train: e(counts[7]),
        };
        let (a, b) = (decide(&t, tolerance), decide(&t.swapped(), tolerance));
        let inverse = |r: Ratio| match r {
            Ratio::Value(0.0) => Ratio::Infinite,
            Ratio::Value(v) => Ratio::Value(1.0 / v),
            Ratio::Infinite => Ratio::Value(0.0),
            Ratio::Undefined => Ratio::Undefined,
        };
        for (x, y) in [(a.r_sample, b.r_sample), (a.r_test, b.r_test)] {
            match (inverse(x), y) {
                (Ratio::Value(p), Ratio::Value(q)) => prop_assert!((p - q).abs() <= 1e-9 * p.max(1.0)),
                (p, q) => prop_assert_eq!(p, q),
            }
        }
        let mirrored = match a.winner {
            Winner::M1 => Winner::M2,
            Winner::M2 => Winner::M1,
            Winner::Tie => Winner::Tie,
        };
        prop_assert_eq!(b.winner, mirrored, "{} | {}", a.reason, b.reason);
    }

    #[test]
    fn every_canvas_is_the_sigmoid_of_the_summed_updates(
        steps in 1usize..=5,
        per_step in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let device = Device::flex();
        let config = GranConfig {
            image_size: 16,
            channels: 3,
            steps,
            z_dim: 6,
            hz_dim: 8,
            hc_dim: 8,
            decoder_widths: vec![8, 4, 3],
            discriminator_widths: vec![4, 8],
            kernel_size: 4,
            noise: if per_step { NoiseMode::PerStep } else { NoiseMode::Once },
            ..GranConfig::default()
        };
        let g = easel_core::model::seeded(&device, seed, || config.init_generator(&device));
        let z_steps = if per_step { steps } else { 1 };
        let z = Tensor::<3>::random(
            [2, z_steps, 6],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        let drawing = g.generate(z, steps);
        prop_assert_eq!(drawing.canvases.len(), steps);
        let mut sum = vec![0f32; 2 * 3 * 16 * 16];
        for (delta, canvas) in drawing.delta_canvases.iter().zip(&drawing.canvases) {
            for (s, d) in sum.iter_mut().zip(values(delta.clone())) {
                *s += d;
            }
            for (s, c) in sum.iter().zip(values(canvas.clone())) {
                let want = 1.0 / (1.0 + (-s).exp());
                prop_assert!((want - c).abs() < 1e-5, "{want} vs {c}");
            }
        }
    }

    #[test]
    fn every_run_config_survives_a_toml_round_trip(
        seed in any::<u64>(),
        batch_size in 1usize..=256,
        lr in 1e-6f64..0.5,
        minutes in proptest::option::of(0.5f64..600.0),
        kind in 0usize..3,
        width in 4usize..=64,
        flag in any::<bool>(),
    ) {
        let model = match kind {
            0 => ModelConfig::Gran(GranConfig {
                steps: 1 + width % 5,
                z_dim: width,
                noise: if flag { NoiseMode::PerStep } else { NoiseMode::Once },
                latent_norm: flag,
                ..GranConfig::default()
            }),
            1 => ModelConfig::Lapgan(LapganConfig {
                z_dim: width,
                coarse_hidden: 8 * width,
                classes: if flag { 10 } else { 0 },
                uniform_noise: flag,
                ..LapganConfig::default()
            }),
            _ => ModelConfig::StackGan(StackGanConfig {
                version: if flag { Version::V1 } else { Version::V2 },
                z_dim: width,
                condition_dim: width + 1,
                kl_weight: (lr * 10.0) as f32,
                stage1_steps: seed % 1000,
                ..StackGanConfig::default()
            }),
        };
        let config = RunConfig {
            seed,
            data: if flag {
                DataSource::FashionMnist { path: None }
            } else {
                DataSource::Shapes { train_count: batch_size * 10, test_count: 100, seed }
            },
            model,
            train: TrainConfig {
                batch_size,
                lr_d: lr,
                lr_g: lr / 2.0,
                minutes,
                ..TrainConfig::default()
            },
            ..RunConfig::default()
        };
        let text = config.to_toml();
        let back = RunConfig::from_toml(&text, "round trip").unwrap();
        prop_assert_eq!(back, config, "{}", text);
    }
}
