//! The WGPU backend against the CPU one (the `wgpu` and `vulkan` features, on by default; CI runs
//! it on Mesa's lavapipe, a software Vulkan, with `EASEL_REQUIRE_WGPU` set so a missing device
//! fails and `EASEL_REQUIRE_SPIRV` so the kernels are cubecl's SPIR-V, not WGSL):
//! the same checkpoint trained three more steps on each backend gives the same losses and
//! weights, and draws the same samples, within stated tolerances.
#![cfg(feature = "wgpu")]

use std::sync::mpsc;

use easel_core::backend::BackendKind;
use easel_core::sample::LoadedModel;
use easel_core::train::{Event, StopReason, Trainer};
use easel_tests::tiny_config;

/// Losses and D outputs agree to this much (f32 on two devices, summed in different orders).
const LOSS_TOLERANCE: f32 = 2e-3;
/// Weights after three Adam steps agree to this much.
const WEIGHT_TOLERANCE: f32 = 2e-3;
/// Sample pixels (in [0, 1]) agree to this much.
const PIXEL_TOLERANCE: f32 = 2e-3;

/// Whether a WGPU device answers (skip otherwise, or fail under `EASEL_REQUIRE_WGPU`). Under
/// `EASEL_REQUIRE_SPIRV` (CI, where the `vulkan` feature is on and lavapipe is a Vulkan adapter)
/// its kernels must go through cubecl's SPIR-V compiler: these tests are then the Vulkan path's
/// parity tests, not WGSL's.
fn wgpu_or_skip() -> bool {
    match BackendKind::Wgpu.device() {
        Ok(device) => {
            let compiler = easel_core::backend::kernel_compiler(&device);
            eprintln!("WGPU kernels compiled by {compiler}");
            if std::env::var_os("EASEL_REQUIRE_SPIRV").is_some() {
                assert_eq!(
                    compiler, "wgpu<spirv>",
                    "the Vulkan path was not taken (is the `vulkan` feature on?)"
                );
            }
            true
        }
        Err(e) => {
            assert!(
                std::env::var_os("EASEL_REQUIRE_WGPU").is_none(),
                "CI installs lavapipe, yet WGPU found no device: {e}"
            );
            eprintln!("no WGPU device ({e}); skipping");
            false
        }
    }
}

fn losses(run: &std::path::Path, backend: BackendKind, steps: u64) -> (Trainer, Vec<f32>) {
    let mut t = Trainer::resume(run, Some(backend)).unwrap();
    t.set_schedule(Some(steps), None, None).unwrap();
    let (_tx, rx) = mpsc::channel();
    let mut figures = Vec::new();
    let reason = t
        .run(&rx, &mut |e| {
            if let Event::Step(s) = e {
                figures.extend(
                    [s.d_loss, s.g_loss, s.d_real, s.d_fake]
                        .into_iter()
                        .flatten(),
                );
            }
        })
        .unwrap();
    assert_eq!(reason, StopReason::MaxSteps);
    (t, figures)
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn wgpu_trains_and_samples_as_the_cpu_does() {
    if !wgpu_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny_config(2, 4);
    config.train.checkpoint_every = 1;
    let start = dir.path().join("start");
    let mut t = Trainer::create(&start, config).unwrap();
    t.set_schedule(Some(1), None, None).unwrap();
    let (_tx, rx) = mpsc::channel();
    t.run(&rx, &mut |_| {}).unwrap();
    drop(t);
    let copy = |name: &str| {
        let to = dir.path().join(name);
        copy_tree(&start, &to);
        to
    };
    let (cpu_run, gpu_run) = (copy("cpu"), copy("wgpu"));
    let (cpu, cpu_losses) = losses(&cpu_run, BackendKind::Cpu, 4);
    let (gpu, gpu_losses) = losses(&gpu_run, BackendKind::Wgpu, 4);
    let loss_gap = largest_difference(&cpu_losses, &gpu_losses);
    eprintln!("losses and D outputs, 3 steps: largest difference {loss_gap:.2e}");
    assert!(
        loss_gap < LOSS_TOLERANCE,
        "{cpu_losses:?} vs {gpu_losses:?}"
    );
    for (name, a, b) in [
        (
            "generator",
            cpu.networks().generator_parameters(),
            gpu.networks().generator_parameters(),
        ),
        (
            "discriminator",
            cpu.networks().critic_parameters(),
            gpu.networks().critic_parameters(),
        ),
    ] {
        let gap = a
            .iter()
            .map(|(k, v)| largest_difference(v, &b[k]))
            .fold(0.0, f32::max);
        eprintln!("{name} weights: largest difference {gap:.2e}");
        assert!(gap < WEIGHT_TOLERANCE, "{name}: {gap}");
    }
    drop((cpu, gpu));

    // The CPU run's checkpoint drawn on both backends.
    let on_cpu = LoadedModel::load(&cpu_run, None, BackendKind::Cpu).unwrap();
    let on_gpu = LoadedModel::load(&cpu_run, None, BackendKind::Wgpu).unwrap();
    let (a, b) = (
        on_cpu.sample(6, None, 9, true).unwrap(),
        on_gpu.sample(6, None, 9, true).unwrap(),
    );
    let gap = largest_difference(&a.images.pixels, &b.images.pixels);
    eprintln!("samples: largest pixel difference {gap:.2e}");
    assert!(gap < PIXEL_TOLERANCE);
    assert_eq!(a.canvases.len(), b.canvases.len());
}

/// A tiny GRAN without BatchNorm, whose batches split over devices exactly.
fn without_batch_norm() -> easel_core::train::RunConfig {
    let mut c = tiny_config(2, 8);
    let easel_core::train::ModelConfig::Gran(g) = &mut c.model else {
        unreachable!("a GRAN")
    };
    g.batch_norm = false;
    g.latent_norm = false;
    c.train.checkpoint_every = 1;
    c
}

#[test]
fn a_batch_split_over_two_devices_with_wgpu_trains_as_one_wgpu_device() {
    use easel_core::backend::DeviceSpec;
    if !wgpu_or_skip() {
        return;
    }
    let adapters = burn::tensor::Device::enumerate(burn::tensor::DeviceType::Wgpu)
        .into_iter()
        .count();
    // Two adapters where the machine has them; lavapipe offers one, so a WGPU and a CPU device
    // (measured on lavapipe: 1.9e-9 in G, 1.1e-7 in D after three steps).
    let devices = if adapters >= 2 {
        "wgpu:0,wgpu:1"
    } else {
        "wgpu:0,cpu"
    };
    let tolerance = 1e-5;
    let dir = tempfile::tempdir().unwrap();
    let start = dir.path().join("start");
    let mut config = without_batch_norm();
    config.backend = BackendKind::Wgpu;
    let mut t = Trainer::create(&start, config).unwrap();
    t.set_schedule(Some(1), None, None).unwrap();
    let (_tx, rx) = mpsc::channel();
    t.run(&rx, &mut |_| {}).unwrap();
    drop(t);
    let (one, split) = (dir.path().join("one"), dir.path().join("split"));
    copy_tree(&start, &one);
    copy_tree(&start, &split);
    let run = easel_core::train::RunDir::new(&split);
    let mut config = run.load_config().unwrap();
    config.devices = DeviceSpec::parse_list(devices).unwrap();
    run.save_config(&config).unwrap();
    let (a, _) = losses(&one, BackendKind::Wgpu, 4);
    let (b, _) = losses(&split, BackendKind::Wgpu, 4);
    for (name, x, y) in [
        (
            "generator",
            a.networks().generator_parameters(),
            b.networks().generator_parameters(),
        ),
        (
            "discriminator",
            a.networks().critic_parameters(),
            b.networks().critic_parameters(),
        ),
    ] {
        let gap = x
            .iter()
            .map(|(k, v)| largest_difference(v, &y[k]))
            .fold(0.0, f32::max);
        eprintln!(
            "{adapters} adapter(s), {devices} vs wgpu:0, {name}: largest difference {gap:.2e}"
        );
        assert!(gap < tolerance, "{name}: {gap}");
    }
}
