//! Data-parallel training (`devices`): a batch split over two (or three) CPU devices trains the
//! weights one device trains on the whole batch, within 1e-5, for a model without BatchNorm; a
//! two-device run resumes exactly; and the configurations a split cannot serve are refused.

use std::collections::BTreeMap;
use std::path::Path;

use easel_core::backend::DeviceSpec;
use easel_core::train::ModelConfig;
use easel_core::train::{RunConfig, RunDir, Trainer};
use easel_tests::{run_steps, tiny_config};

/// The largest difference between two networks' weights.
pub fn largest_gap(a: &BTreeMap<String, Vec<f32>>, b: &BTreeMap<String, Vec<f32>>) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .flat_map(|(k, v)| v.iter().zip(&b[k]).map(|(x, y)| (x - y).abs()))
        .fold(0.0, f32::max)
}

/// A tiny GRAN without BatchNorm (a split batch normalises each share by its own statistics).
fn without_batch_norm() -> RunConfig {
    let mut c = tiny_config(2, 5);
    let ModelConfig::Gran(g) = &mut c.model else {
        unreachable!("a GRAN")
    };
    g.batch_norm = false;
    g.latent_norm = false;
    c
}

/// Resumes `run` on `devices` (written to its config, as `easel resume --devices` does) and
/// trains it to `steps`.
fn resume_on(run: &Path, devices: &str, steps: u64) -> Trainer {
    let dir = RunDir::new(run);
    let mut config = dir.load_config().unwrap();
    config.devices = DeviceSpec::parse_list(devices).unwrap();
    dir.save_config(&config).unwrap();
    let mut t = Trainer::resume(run, None).unwrap();
    run_steps(&mut t, steps);
    t
}

fn copy_run(from: &Path, to: &Path) {
    for sub in ["", "checkpoints", "samples"] {
        std::fs::create_dir_all(to.join(sub)).unwrap();
        for e in std::fs::read_dir(from.join(sub)).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                std::fs::copy(e.path(), to.join(sub).join(e.file_name())).unwrap();
            }
        }
    }
}

#[test]
fn a_batch_split_over_cpu_devices_trains_as_the_whole_batch_on_one() {
    let dir = tempfile::tempdir().unwrap();
    let start = dir.path().join("start");
    let mut t = Trainer::create(&start, without_batch_norm()).unwrap();
    run_steps(&mut t, 2);
    drop(t);
    let runs: Vec<_> = ["one", "two", "three"]
        .iter()
        .map(|name| {
            let to = dir.path().join(name);
            copy_run(&start, &to);
            to
        })
        .collect();
    let one = resume_on(&runs[0], "", 5);
    let two = resume_on(&runs[1], "cpu,cpu", 5);
    // 16 rows as 6 + 5 + 5: the shares are weighted by their size.
    let three = resume_on(&runs[2], "cpu,cpu,cpu", 5);
    let (g1, d1) = (
        one.networks().generator_parameters(),
        one.networks().critic_parameters(),
    );
    for (name, t) in [("two", &two), ("three", &three)] {
        let g = largest_gap(&g1, &t.networks().generator_parameters());
        let d = largest_gap(&d1, &t.networks().critic_parameters());
        eprintln!("{name} devices, 3 steps: generator {g:.1e}, discriminator {d:.1e}");
        assert!(g < 1e-5 && d < 1e-5, "{name}: G {g}, D {d}");
    }
    // The weights did move: the comparison is not of untrained networks.
    let before = Trainer::resume(&start, None).unwrap();
    assert!(largest_gap(&g1, &before.networks().generator_parameters()) > 1e-4);
}

#[test]
fn a_two_device_run_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny_config(2, 6);
    config.devices = DeviceSpec::parse_list("cpu,cpu").unwrap();
    let whole = dir.path().join("whole");
    let mut t = Trainer::create(&whole, config.clone()).unwrap();
    run_steps(&mut t, 6);
    let straight = t.networks();
    drop(t);
    let cut = dir.path().join("cut");
    let mut t = Trainer::create(&cut, config).unwrap();
    run_steps(&mut t, 3);
    drop(t);
    let resumed = resume_on(&cut, "cpu,cpu", 6);
    assert_eq!(
        resumed.networks().generator_parameters(),
        straight.generator_parameters()
    );
    assert_eq!(
        resumed.networks().critic_parameters(),
        straight.critic_parameters()
    );
}

#[test]
fn splits_that_cannot_work_are_refused_in_words() {
    let mut c = tiny_config(2, 1);
    c.devices = DeviceSpec::parse_list("cpu,cpu").unwrap();
    c.validate().unwrap();
    assert!(c.shards_batch_norm(), "GRAN's BatchNorm sees each share");
    let mut plain = without_batch_norm();
    plain.devices = c.devices.clone();
    assert!(!plain.shards_batch_norm());
    c.train.batch_size = 1;
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("at least 2 images"), "{e}");
    let mut c = tiny_config(2, 1);
    c.devices = DeviceSpec::parse_list("wgpu:0,wgpu:0").unwrap();
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("first device holds the weights"), "{e}");
    let mut s =
        easel_tests::tiny_stackgan_config(easel_core::model::stackgan::Version::V2, false, 0, 1);
    s.devices = DeviceSpec::parse_list("cpu,cpu").unwrap();
    let e = s.validate().unwrap_err().to_string();
    assert!(e.contains("StackGAN") && e.contains("one"), "{e}");
}
