//! Shared helpers of Easel's end-to-end tests.

pub mod fuzz;
pub mod soak;

/// A small deterministic generator (SplitMix64) for the harnesses' choices: kill times, mutations.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1].
    pub fn unit(&mut self) -> f64 {
        self.next_u64() as f64 / u64::MAX as f64
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

use std::collections::BTreeMap;

use easel_core::data::DataSource;
use easel_core::model::gran::GranConfig;
use easel_core::train::{Event, ModelConfig, RunConfig, StopReason, TrainConfig, Trainer};

/// The tensors (by dotted path) whose values differ between two snapshots of a network.
pub fn changed(a: &BTreeMap<String, Vec<f32>>, b: &BTreeMap<String, Vec<f32>>) -> Vec<String> {
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// [`changed`] without BatchNorm's running statistics, which move in any forward pass in
/// training mode (as in PyTorch): the learned weights that differ.
pub fn learned_changes(
    a: &BTreeMap<String, Vec<f32>>,
    b: &BTreeMap<String, Vec<f32>>,
) -> Vec<String> {
    changed(a, b)
        .into_iter()
        .filter(|k| !k.contains("running_"))
        .collect()
}

/// Trains `t` until step `max_steps` (it must stop there), returning the events it sent.
pub fn run_steps(t: &mut Trainer, max_steps: u64) -> Vec<Event> {
    t.set_schedule(Some(max_steps), None, None).unwrap();
    let (_tx, rx) = std::sync::mpsc::channel();
    let mut events = Vec::new();
    let reason = t.run(&rx, &mut |e| events.push(e)).unwrap();
    assert_eq!(reason, StopReason::MaxSteps);
    events
}

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
            uniform_noise: true,
        }),
        ..tiny_config(1, seed)
    }
}

/// A StackGAN small enough to train a few steps in about a second on 16 × 16 shapes: v2 with two
/// scales (8 → 16) or v1 with Stage-I 8 and Stage-II 16 (Stage-II from step `stage1_steps`);
/// `text` false gives an unconditional v2 (no encoder needed).
pub fn tiny_stackgan_config(
    version: easel_core::model::stackgan::Version,
    text: bool,
    stage1_steps: u64,
    seed: u64,
) -> RunConfig {
    RunConfig {
        model: ModelConfig::StackGan(easel_core::model::stackgan::StackGanConfig {
            version,
            image_size: 16,
            channels: 3,
            scales: 2,
            stage_ratio: 2,
            z_dim: 8,
            condition_dim: 6,
            text_dim: if text { 384 } else { 0 },
            generator_width: 32,
            discriminator_width: 4,
            residual_blocks: 1,
            stage1_steps,
            ..easel_core::model::stackgan::StackGanConfig::default()
        }),
        ..tiny_config(1, seed)
    }
}

/// Whether all-MiniLM-L6-v2 can be used; panics where `.ci/run` promised it
/// (`EASEL_REQUIRE_MINILM` set), else says why a text test is skipped.
pub fn minilm_or_skip(test: &str) -> bool {
    if easel_core::text::minilm::installed() {
        return true;
    }
    assert!(
        std::env::var_os("EASEL_REQUIRE_MINILM").is_none(),
        "CI installs all-MiniLM-L6-v2; it is missing from {}",
        easel_core::text::minilm::default_dir().display()
    );
    eprintln!(
        "{test}: all-MiniLM-L6-v2 is not installed; skipping. Install: {}",
        easel_core::text::minilm::install_command()
    );
    false
}
