//! Shared helpers of Easel's end-to-end tests.

use easel_core::data::DataSource;
use easel_core::model::gran::GranConfig;
use easel_core::train::{ModelConfig, RunConfig, TrainConfig};

/// A GRAN small enough to train a few steps in well under a second, on 16 × 16 shapes.
pub fn tiny_config(steps: usize, seed: u64) -> RunConfig {
    RunConfig {
        seed,
        data: DataSource::Shapes {
            train_count: 64,
            test_count: 16,
            seed: 0,
        },
        model: ModelConfig::Gran(GranConfig {
            image_size: 16,
            channels: 3,
            steps,
            z_dim: 8,
            hz_dim: 16,
            hc_dim: 16,
            decoder_widths: vec![16, 8, 3],
            discriminator_widths: vec![8, 16],
            kernel_size: 4,
            ..GranConfig::default()
        }),
        train: TrainConfig {
            batch_size: 16,
            sample_every: 1000,
            checkpoint_every: 1000,
            sample_count: 8,
            ..TrainConfig::default()
        },
        ..RunConfig::default()
    }
}

/// A LAPGAN small enough to train a few steps in well under a second: 20 × 20 shapes in two
/// levels (20 → 10), `classes` > 0 for the class-conditional model.
pub fn tiny_lapgan_config(classes: usize, seed: u64) -> RunConfig {
    RunConfig {
        model: ModelConfig::Lapgan(easel_core::model::lapgan::LapganConfig {
            image_size: 20,
            channels: 3,
            levels: 2,
            z_dim: 8,
            coarse_hidden: 32,
            generator_widths: vec![8],
            discriminator_widths: vec![8],
            generator_kernel: 3,
            classes,
            dropout: 0.5,
        }),
        ..tiny_config(1, seed)
    }
}
