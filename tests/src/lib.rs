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
