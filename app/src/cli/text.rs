//! The text commands: `easel embed` (sentence embeddings), `easel generate` (images from a
//! sentence) and `easel interpolate` (a walk between two sentences, or two seeds).

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use easel_core::backend::Device;
use easel_core::export::{self, bundle};
use easel_core::interpolate;
use easel_core::sample::LoadedModel;
use easel_core::text::{Encoder, cosine, minilm};
use easel_core::train::{ModelConfig, RunDir};

/// `easel embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// One or more sentences.
    #[arg(required = true)]
    texts: Vec<String>,
    /// The encoder: auto (MiniLM when installed) or minilm.
    #[arg(long, default_value = "auto", conflicts_with = "run")]
    encoder: String,
    /// Use the encoder of this text-to-image run (its built-in encoder, or MiniLM).
    #[arg(long)]
    run: Option<PathBuf>,
    /// Print every vector as JSON instead of a summary.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    backend: super::BackendArg,
}

/// The encoder `easel embed` was asked for, and where it came from.
fn embed_encoder(args: &EmbedArgs, device: &Device) -> Result<(Encoder, String)> {
    if let Some(run) = &args.run {
        let config = RunDir::new(run).load_config()?;
        let ModelConfig::StackGan(s) = &config.model else {
            bail!(
                "{}: a {} run reads no text; `easel embed --run` takes a text-to-image run",
                run.display(),
                config.model.label()
            );
        };
        if !s.conditional() {
            bail!(
                "{}: this StackGAN run is unconditional (no text)",
                run.display()
            );
        }
        let encoder = Encoder::for_run(s.encoder, run, None, config.seed, device, &mut |_| {})?;
        return Ok((encoder, format!("the encoder of {}", run.display())));
    }
    if !matches!(args.encoder.as_str(), "auto" | "minilm") {
        bail!(
            "unknown --encoder {:?}; expected auto or minilm (or --run RUN for a run's own \
             encoder)",
            args.encoder
        );
    }
    if !minilm::installed() {
        bail!(
            "all-MiniLM-L6-v2 is not installed; install it with\n  {}\n\
             or embed with a text run's own encoder: `easel embed --run RUN \"…\"`",
            minilm::install_command()
        );
    }
    let model = minilm::MiniLm::load(&minilm::default_dir(), device)?;
    let from = model.dir().display().to_string();
    Ok((Encoder::MiniLm(Box::new(model)), from))
}

/// Runs `easel embed`.
pub fn embed(args: EmbedArgs) -> Result<()> {
    let device = args.backend.or_cpu().device()?;
    let (encoder, from) = embed_encoder(&args, &device)?;
    let texts: Vec<&str> = args.texts.iter().map(String::as_str).collect();
    let vectors = encoder.embed(&texts)?;
    if args.json {
        let rows = texts
            .iter()
            .zip(&vectors)
            .map(|(t, v)| {
                Ok(serde_json::json!({
                    "text": t,
                    "tokens": encoder.tokens(t)?,
                    "unknown_words": encoder.unknown_words(t),
                    "vector": v,
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        let out = serde_json::json!({
            "encoder": encoder.name(),
            "id": encoder.id(),
            "width": encoder.width(),
            "embeddings": rows,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "encoder: {} ({from}), {} wide, unit length",
        encoder.name(),
        encoder.width()
    );
    for (t, v) in texts.iter().zip(&vectors) {
        let head: Vec<String> = v.iter().take(6).map(|x| format!("{x:+.4}")).collect();
        let unknown = encoder.unknown_words(t);
        let note = if unknown.is_empty() {
            String::new()
        } else {
            format!(" (unknown to this encoder: {})", unknown.join(", "))
        };
        println!(
            "{t:?}: {} tokens, [{} …]{note}",
            encoder.tokens(t)?,
            head.join(", ")
        );
    }
    if texts.len() > 1 {
        println!("cosine similarity:");
        for i in 0..texts.len() {
            for j in i + 1..texts.len() {
                println!(
                    "  {i} · {j} = {:.4}   {:?} · {:?}",
                    cosine(&vectors[i], &vectors[j]),
                    texts[i],
                    texts[j]
                );
            }
        }
    }
    Ok(())
}

/// `easel generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The run folder of a text-to-image model.
    #[arg(long)]
    run: PathBuf,
    /// A checkpoint file (default: the newest intact one).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// The sentence to draw (repeat for several; images cycle through them).
    #[arg(long, required = true)]
    text: Vec<String>,
    /// Images to draw.
    #[arg(long, default_value_t = 16)]
    count: usize,
    /// Seed of z and of Conditioning Augmentation's noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    backend: super::BackendArg,
}

/// Runs `easel generate`: the finest images, a grid, and every stage's grid.
pub fn generate(args: GenerateArgs) -> Result<()> {
    let mut model =
        LoadedModel::load(&args.run, args.checkpoint.as_deref(), args.backend.or_cpu())?;
    model.set_prompts(&args.text)?;
    if let Some(encoder) = model.encoder() {
        for text in &args.text {
            let unknown = encoder.unknown_words(text);
            if !unknown.is_empty() {
                println!(
                    "note: {text:?} has words the run's encoder never saw in training, read as \
                     one unknown word: {}",
                    unknown.join(", ")
                );
            }
        }
    }
    let request = bundle::ExportRequest {
        count: args.count,
        seed: args.seed,
        steps: None,
        noise: None,
        grid: true,
        each: true,
        frames: true,
    };
    let samples = request.draw(&model)?;
    let written = bundle::write_samples(&samples, &request, &args.out)?;
    println!(
        "wrote {} files ({} images of {:?}, grid.png, canvas-t*.png for each of {} stages) to {} \
         (checkpoint step {})",
        written.len(),
        samples.images.count,
        args.text,
        samples.canvases.len(),
        args.out.display(),
        model.step
    );
    Ok(())
}

/// `easel interpolate`.
#[derive(Debug, Args)]
pub struct InterpolateArgs {
    /// The run folder of a StackGAN.
    #[arg(long)]
    run: PathBuf,
    /// A checkpoint file (default: the newest intact one).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// The first sentence (text models).
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// The last sentence (text models).
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// For a model without text: the seed of the first z.
    #[arg(long, conflicts_with = "from")]
    from_seed: Option<u64>,
    /// For a model without text: the seed of the last z.
    #[arg(long, conflicts_with = "from")]
    to_seed: Option<u64>,
    /// Points on the walk, the ends included.
    #[arg(long, default_value_t = 8)]
    steps: usize,
    /// Seed of the fixed z (and ε).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Keep Conditioning Augmentation's noise (ĉ = μ + σ·ε) instead of drawing from μ.
    #[arg(long)]
    sampled_c: bool,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    backend: super::BackendArg,
}

/// Runs `easel interpolate`: `strip.png` (the finest images, left to right), one strip per
/// stage, and `walk.gif`.
pub fn interpolate(args: InterpolateArgs) -> Result<()> {
    let model = LoadedModel::load(&args.run, args.checkpoint.as_deref(), args.backend.or_cpu())?;
    let walk = match (&args.from, &args.to, args.from_seed, args.to_seed) {
        (Some(from), Some(to), _, _) => {
            interpolate::between_texts(&model, from, to, args.steps, args.seed, args.sampled_c)?
        }
        (None, None, Some(a), Some(b)) => interpolate::between_seeds(&model, a, b, args.steps)?,
        _ => bail!("give --from and --to (two sentences), or --from-seed and --to-seed"),
    };
    export::create_dir(&args.out)?;
    let n = walk.images().count;
    export::save_grid(walk.images(), n, &args.out.join("strip.png"))?;
    for (k, stage) in walk.stages.iter().enumerate() {
        export::save_grid(
            stage,
            n,
            &args.out.join(format!("strip-stage{}.png", k + 1)),
        )?;
    }
    let frames: Vec<_> = (0..n).map(|i| walk.images().to_rgba(i)).collect();
    export::save_gif(&frames, 150, &args.out.join("walk.gif"))?;
    println!(
        "wrote strip.png, {} stage strips and walk.gif ({n} points) to {}",
        walk.stages.len(),
        args.out.display()
    );
    if !walk.sigma.is_empty() {
        let sigma: Vec<String> = walk.sigma.iter().map(|s| format!("{s:.3}")).collect();
        println!(
            "mean σ of Conditioning Augmentation along the walk: {}",
            sigma.join(" ")
        );
    }
    Ok(())
}
