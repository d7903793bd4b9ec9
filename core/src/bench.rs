//! Speed measurement behind `easel bench`: training images/s and achieved GFLOP/s of one
//! configuration, and the time to sample 64 images (GRAN: in 5 steps). Runs on generated shapes at the
//! model's size, so it needs no dataset.

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::TensorData;

use crate::data::DataSource;
use crate::error::Result;
use crate::noise::NoiseStream;
use crate::train::ModelConfig;
use crate::train::{RunConfig, StepKind, Trainer};

/// Figures of one benchmark.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchResult {
    /// Images per batch.
    pub batch_size: usize,
    /// Training steps timed.
    pub steps_timed: u64,
    /// Training images per second (one D step + one G step per batch).
    pub train_images_per_second: f64,
    /// Conv and linear FLOPs of one training step per image (backward = 2 × forward).
    pub train_flops_per_image: u64,
    /// Achieved GFLOP/s.
    pub gflops_per_second: f64,
    /// Milliseconds to draw 64 images (GRAN in 5 steps, LAPGAN through its levels, StackGAN
    /// through its stages): the median of five drawings after a warm-up.
    pub sample_64x5_ms: f64,
    /// The process's peak resident memory so far, when the system tells (Linux).
    pub peak_resident_bytes: Option<u64>,
}

/// The process's peak resident memory (`VmHWM` of `/proc/self/status`), where the system
/// reports it.
pub fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Trains `config` (its data replaced by shapes) for about `seconds` after two warm-up steps.
pub fn bench(mut config: RunConfig, seconds: f64) -> Result<BenchResult> {
    let batch = config.train.batch_size;
    config.data = DataSource::Shapes {
        train_count: batch * 4,
        test_count: batch,
        seed: 0,
    };
    config.train.sample_every = u64::MAX;
    config.train.checkpoint_every = u64::MAX;
    let dir = std::env::temp_dir().join(format!(
        "easel-bench-{}-{}",
        std::process::id(),
        config.seed
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let result = (|| {
        let mut trainer = Trainer::create(&dir, config.clone())?;
        for _ in 0..2 {
            trainer.step(StepKind::Full)?;
        }
        let started = Instant::now();
        let mut steps = 0u64;
        while started.elapsed().as_secs_f64() < seconds || steps < 3 {
            trainer.step(StepKind::Full)?;
            steps += 1;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let images_per_second = (steps as usize * batch) as f64 / elapsed;
        let flops = config.model.train_step_flops();
        let networks = trainer.networks();
        let device = config.backend.device()?;
        // GRAN draws in 5 steps (more than most were trained with); LAPGAN and StackGAN run
        // their levels or stages.
        let draw_steps = match &config.model {
            ModelConfig::Gran(_) => 5,
            other => other.steps(),
        };
        // Class-conditional models cycle the classes; text models read unit-length random
        // vectors (the timing does not depend on what the sentences say).
        let text_dim = config.model.text_dim();
        let labels = networks.cycled_labels(0, 64, &device).or_else(|| {
            (text_dim > 0).then(|| {
                let v = NoiseStream::new(1, 0).normals(64 * text_dim);
                let t = Tensor::<2>::from_data(TensorData::new(v, [64, text_dim]), &device);
                let norm = t.clone().powi_scalar(2).sum_dim(1).sqrt();
                t / norm
            })
        });
        let draw = || {
            let mut stream = NoiseStream::new(0, 0);
            let normals = &mut |c| stream.normals(c);
            let images = networks.images(64, draw_steps, None, normals, labels.clone(), &device);
            let _ = images.into_data();
        };
        draw(); // warm-up
        // The median of five drawings: one alone moves by half on this shared machine.
        let mut draws: Vec<f64> = (0..5)
            .map(|_| {
                let started = Instant::now();
                draw();
                started.elapsed().as_secs_f64()
            })
            .collect();
        draws.sort_by(f64::total_cmp);
        Ok(BenchResult {
            batch_size: batch,
            steps_timed: steps,
            train_images_per_second: images_per_second,
            train_flops_per_image: flops,
            gflops_per_second: flops as f64 * images_per_second / 1e9,
            sample_64x5_ms: draws[2] * 1e3,
            peak_resident_bytes: peak_resident_bytes(),
        })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
