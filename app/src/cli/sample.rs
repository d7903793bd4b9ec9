//! `easel sample`: draw images from a run's checkpoint to PNGs (and every C_t with `--frames`).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use easel_core::backend::BackendKind;
use easel_core::export;
use easel_core::sample::LoadedModel;

/// `easel sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The run folder.
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
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Also write every canvas C_t (and ΔC_t) as grids and a looping GIF.
    #[arg(long)]
    frames: bool,
    /// Compute backend: cpu, wgpu or cuda.
    #[arg(long, default_value = "cpu")]
    backend: String,
}

pub fn sample(args: SampleArgs) -> Result<()> {
    let model = LoadedModel::load(
        &args.run,
        args.checkpoint.as_deref(),
        BackendKind::parse(&args.backend)?,
    )?;
    let samples = model.sample(args.count, args.steps, args.seed, args.frames)?;
    export::create_dir(&args.out)?;
    let paths = export::save_each(&samples.images, &args.out, "sample", 0)?;
    let shown = samples.images.count.min(256);
    let mut grid_images = samples.images.clone();
    grid_images.count = shown;
    grid_images.pixels.truncate(shown * grid_images.image_len());
    let columns = grid_images.square_columns();
    export::save_grid(&grid_images, columns, &args.out.join("grid.png"))?;
    if args.frames {
        let frames: Vec<_> = samples
            .canvases
            .iter()
            .map(|c| {
                let mut c = c.clone();
                c.count = shown;
                c.pixels.truncate(shown * c.image_len());
                c
            })
            .collect();
        for (t, (c, d)) in frames.iter().zip(&samples.delta_canvases).enumerate() {
            export::save_grid(
                c,
                columns,
                &args.out.join(format!("canvas-t{:02}.png", t + 1)),
            )?;
            let mut d = d.clone();
            d.count = shown;
            d.pixels.truncate(shown * d.image_len());
            export::save_grid(
                &d,
                columns,
                &args.out.join(format!("delta-t{:02}.png", t + 1)),
            )?;
        }
        let gif_frames: Vec<_> = frames.iter().map(|c| c.upscaled_grid(columns, 2)).collect();
        export::save_gif(&gif_frames, 300, &args.out.join("drawing.gif"))?;
    }
    println!(
        "wrote {} samples, grid.png{} to {} (checkpoint step {}, sha256 {})",
        paths.len(),
        if args.frames {
            ", canvas/delta grids per step and drawing.gif"
        } else {
            ""
        },
        args.out.display(),
        model.step,
        &model.checkpoint_sha256[..16]
    );
    Ok(())
}
