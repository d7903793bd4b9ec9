//! `easel score`: sample-quality figures of a run beside the same figures for real held-out
//! images, and the nearest-neighbour memorisation check; with `--folder`, the same figures of any
//! program's images.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use easel_core::backend::{BackendKind, Device};
use easel_core::data::Dataset;
use easel_core::eval::score::{self, Figures, Neighbours, ScoreConfig};
use easel_core::eval::{classifier, folder};
use easel_core::sample::LoadedModel;

use super::parse_data;

/// `easel score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The run to score (its newest checkpoint).
    #[arg(required_unless_present = "folder", conflicts_with = "folder")]
    run: Option<PathBuf>,
    /// Score the PNG/JPEG images in this folder (any program's samples) instead of a run's;
    /// needs --data, the dataset they imitate. They are read at the first image's size and
    /// colour (grey or RGB).
    #[arg(long, requires = "data")]
    folder: Option<PathBuf>,
    /// The dataset the folder's images imitate: shapes, fashion-mnist[:DIR], idx:DIR,
    /// cifar10:DIR or folder:DIR.
    #[arg(long)]
    data: Option<String>,
    /// A checkpoint file of the run instead of its newest.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Samples drawn (and held-out images scored beside them).
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// Seed of the samples' noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Nearest training images listed per probed sample.
    #[arg(long, default_value_t = 5)]
    neighbours: usize,
    /// Samples probed for nearest neighbours.
    #[arg(long, default_value_t = 8)]
    probes: usize,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    backend: super::BackendArg,
}

fn row(name: &str, f: &Figures, classes: usize) -> String {
    format!(
        "  {name:<22} {:>16.3} {:>16.3} {:>9}/{classes}",
        f.classifier_score, f.frechet_distance, f.coverage.covered
    )
}

/// The dataset's classifier, trained on first use with progress on stderr.
fn classifier_for(
    data: &Dataset,
    device: &Device,
    quiet: bool,
) -> Result<classifier::TrainedClassifier> {
    let mut last = -1i32;
    let trained = classifier::load_or_train(data, device, &mut |f| {
        let percent = (f * 100.0) as i32;
        if !quiet && percent / 10 != last / 10 {
            last = percent;
            eprint!(
                "\rtraining the {} classifier (cached once per dataset): {percent}%",
                data.name
            );
            let _ = std::io::stderr().flush();
        }
    })
    .context("classifier")?;
    if last >= 0 {
        eprintln!();
    }
    Ok(trained)
}

pub fn score(args: ScoreArgs) -> Result<()> {
    let backend = args.backend.or_cpu();
    if let Some(dir) = &args.folder {
        return score_folder(&args, dir, backend);
    }
    let run = args.run.as_deref().context("a run to score, or --folder")?;
    let model = LoadedModel::load(run, args.checkpoint.as_deref(), backend)?;
    let data = model.dataset()?;
    let trained = classifier_for(&data, &model.device, args.json)?;
    let config = ScoreConfig {
        samples: args.samples,
        seed: args.seed,
        neighbours: args.neighbours,
        probes: args.probes,
        ..ScoreConfig::default()
    };
    let report = score::score(&model, &data, &trained, &config, &mut |_| {})?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let k = report.classes.len();
    println!(
        "{} (step {}) on {}",
        run.display(),
        model.step,
        report.dataset
    );
    println!(
        "classifier: {:.1}% right on held-out images ({} classes)",
        100.0 * report.classifier_accuracy,
        k
    );
    println!(
        "  {:<22} {:>16} {:>16} {:>12}",
        "", "classifier score", "Fréchet dist.", "coverage"
    );
    println!(
        "{}",
        row(
            &format!("{} samples", report.samples.count),
            &report.samples,
            k
        )
    );
    println!(
        "{}",
        row(
            &format!("{} held-out images", report.real.count),
            &report.real,
            k
        )
    );
    println!(
        "samples per class: {}",
        report
            .classes
            .iter()
            .zip(&report.samples.coverage.histogram)
            .map(|(c, n)| format!("{c} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for line in report.text_lines() {
        println!("{line}");
    }
    print_neighbours(&report.neighbours, report.memorisation_ratio);
    Ok(())
}

/// `easel score --folder DIR --data SPEC`.
fn score_folder(args: &ScoreArgs, dir: &Path, backend: BackendKind) -> Result<()> {
    let source = parse_data(args.data.as_deref().context("--folder needs --data")?)?;
    let images = folder::FolderImages::scan(dir)?;
    let data = images
        .dataset(&source)
        .with_context(|| format!("loading {} for {}", source.describe(), dir.display()))?;
    let device = backend.device()?;
    let trained = classifier_for(&data, &device, args.json)?;
    let config = ScoreConfig {
        samples: args.samples,
        seed: args.seed,
        neighbours: args.neighbours,
        probes: args.probes,
        ..ScoreConfig::default()
    };
    let report = folder::score_folder(&images, &data, &trained, &config)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let k = report.classes.len();
    println!(
        "{} ({}×{}², {}) on {}",
        dir.display(),
        report.channels,
        report.side,
        if report.channels == 1 { "grey" } else { "RGB" },
        report.dataset
    );
    if report.skipped > 0 {
        println!(
            "left out {} image(s) of another size (e.g. a grid of the samples)",
            report.skipped
        );
    }
    println!(
        "classifier: {:.1}% right on held-out images ({} classes)",
        100.0 * report.classifier_accuracy,
        k
    );
    println!(
        "  {:<22} {:>16} {:>16} {:>12}",
        "", "classifier score", "Fréchet dist.", "coverage"
    );
    let samples = format!("{} images", report.samples.count);
    println!("{}", row(&samples, &report.samples, k));
    let real = format!("{} held-out images", report.real.count);
    println!("{}", row(&real, &report.real, k));
    print_neighbours(&report.neighbours, report.memorisation_ratio);
    Ok(())
}

/// The memorisation figure and each probe's nearest training images.
fn print_neighbours(neighbours: &[Neighbours], ratio: f64) {
    if neighbours.is_empty() {
        println!("memorisation: not measured (no samples probed)");
    } else {
        println!(
            "memorisation: nearest training image {ratio:.2}× as far as a held-out image's (≪ 1 suggests copying)"
        );
    }
    for n in neighbours {
        let list = |v: &[(usize, f64)]| {
            v.iter()
                .map(|(i, d)| format!("#{i} ({d:.2})"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        if n.by_discriminator.is_empty() {
            println!("  sample {}: pixels {}", n.sample, list(&n.by_pixels));
        } else {
            println!(
                "  sample {}: pixels {} | D features {}",
                n.sample,
                list(&n.by_pixels),
                list(&n.by_discriminator)
            );
        }
    }
}
