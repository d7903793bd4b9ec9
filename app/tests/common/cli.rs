//! Running the `easel` binary as a user does: a tiny GRAN config, success and one-line failure.

use std::path::Path;
use std::process::{Command, Output};

/// A GRAN run config small enough to train a few steps in well under a second.
pub const TINY: &str = r#"
seed = 3
[data]
kind = "shapes"
train_count = 48
test_count = 8
[model.gran]
image_size = 16
channels = 3
steps = 2
z_dim = 8
hz_dim = 16
hc_dim = 16
decoder_widths = [16, 8, 3]
discriminator_widths = [8, 16]
kernel_size = 4
[train]
batch_size = 16
sample_every = 2
checkpoint_every = 3
sample_count = 4
"#;

pub fn easel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_easel"))
        .args(args)
        .output()
        .expect("easel runs")
}

pub fn ok(args: &[&str]) -> String {
    let out = easel(args);
    assert!(
        out.status.success(),
        "easel {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn fails(args: &[&str]) -> String {
    let out = easel(args);
    assert!(!out.status.success(), "easel {args:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

pub fn count(dir: &Path, prefix: &str, ext: &str) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(prefix) && n.ends_with(ext)
        })
        .count()
}

/// `easel sweep` of the issue's grid: gran-shapes, two seeds × T = 1 and 3, 30 steps; `--out`
/// and where to train follow.
pub const SWEEP: [&str; 10] = [
    "sweep",
    "--preset",
    "gran-shapes",
    "--grid",
    "seed=1,2",
    "--grid",
    "model.gran.steps=1,3",
    "--max-steps",
    "30",
    "--out",
];
