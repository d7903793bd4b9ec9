//! `easel sample`: draw images from a run's checkpoint to PNGs (every C_t and the drawing's GIF
//! with `--frames`), or into a self-contained bundle with `--bundle`; `easel verify` redraws a
//! bundle's images and compares them.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use easel_core::export::bundle::{self, ExportRequest};
use easel_core::model::gran::NoiseMode;
use easel_core::sample::{LoadedModel, Origin};

/// `easel sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The run folder (or a bundle).
    #[arg(long)]
    run: PathBuf,
    /// A checkpoint file (default: the newest intact one).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Images to draw.
    #[arg(long, default_value_t = 64)]
    count: usize,
    /// Drawing steps (default: the T trained; more is allowed).
    #[arg(long)]
    steps: Option<usize>,
    /// Seed of the noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Noise drawn `once` or `per-step` (default: as trained).
    #[arg(long)]
    noise: Option<String>,
    /// Output folder for the images.
    #[arg(long, required_unless_present = "bundle", conflicts_with = "bundle")]
    out: Option<PathBuf>,
    /// Write a bundle here instead: config, checkpoint copy with its SHA-256, manifest, images.
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// Also write every canvas C_t (and ΔC_t) as grids and a looping GIF.
    #[arg(long)]
    frames: bool,
    #[command(flatten)]
    backend: super::BackendArg,
}

pub fn sample(args: SampleArgs) -> Result<()> {
    let model = LoadedModel::load(&args.run, args.checkpoint.as_deref(), args.backend.or_cpu())?;
    let request = ExportRequest {
        count: args.count,
        seed: args.seed,
        steps: args.steps,
        noise: args.noise.as_deref().map(NoiseMode::parse).transpose()?,
        grid: true,
        each: true,
        frames: args.frames,
    };
    let sha = match &model.origin {
        Origin::Checkpoint { sha256, .. } => &sha256[..16],
        Origin::Live => "live",
    };
    if let Some(dir) = &args.bundle {
        let report = bundle::export_bundle(&model, &request, dir)?;
        println!(
            "wrote bundle {} ({} files; checkpoint step {}, sha256 {sha}…); check it with `easel verify {}`",
            dir.display(),
            report.manifest.files.len(),
            model.step,
            dir.display()
        );
        return Ok(());
    }
    let out = args.out.expect("clap requires --out without --bundle");
    let samples = request.draw(&model)?;
    let written = bundle::write_samples(&samples, &request, &out)?;
    println!(
        "wrote {} files ({} samples, grid.png{}) to {} (checkpoint step {}, sha256 {sha}…)",
        written.len(),
        samples.images.count,
        if args.frames {
            ", canvas/delta grids per step and drawing.gif"
        } else {
            ""
        },
        out.display(),
        model.step,
    );
    Ok(())
}

/// `easel verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle folder.
    bundle: PathBuf,
    #[command(flatten)]
    backend: super::BackendArg,
    /// Largest accepted difference per 8-bit channel (0 on the CPU backend that drew them).
    #[arg(long, default_value_t = 0)]
    tolerance: u8,
}

pub fn verify(args: VerifyArgs) -> Result<()> {
    let v = bundle::verify_bundle(&args.bundle, args.backend.or_cpu(), args.tolerance)?;
    if v.images_checked == 0 {
        bail!(
            "{}: the bundle holds no per-sample images to compare",
            args.bundle.display()
        );
    }
    println!(
        "{}: checkpoint sha256 matches; {} images redrawn, largest difference {}/255",
        args.bundle.display(),
        v.images_checked,
        v.max_difference
    );
    Ok(())
}
