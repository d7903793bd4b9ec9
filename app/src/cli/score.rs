//! `easel score`: sample-quality figures of a run beside the same figures for real held-out
//! images, and the nearest-neighbour memorisation check.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use easel_core::backend::BackendKind;
use easel_core::eval::classifier;
use easel_core::eval::score::{self, Figures, ScoreConfig};
use easel_core::sample::LoadedModel;

/// `easel score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The run to score (its newest checkpoint).
    run: PathBuf,
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
    /// Compute backend: cpu, wgpu or cuda.
    #[arg(long, default_value = "cpu")]
    backend: String,
}

fn row(name: &str, f: &Figures, classes: usize) -> String {
    format!(
        "  {name:<22} {:>16.3} {:>16.3} {:>9}/{classes}",
        f.classifier_score, f.frechet_distance, f.coverage.covered
    )
}

pub fn score(args: ScoreArgs) -> Result<()> {
    let backend = BackendKind::parse(&args.backend)?;
    let model = LoadedModel::load(&args.run, args.checkpoint.as_deref(), backend)?;
    let data = model.dataset()?;
    let mut last = -1i32;
    let trained = classifier::load_or_train(&data, &model.device, &mut |f| {
        let percent = (f * 100.0) as i32;
        if !args.json && percent / 10 != last / 10 {
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
        args.run.display(),
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
    if report.neighbours.is_empty() {
        println!("memorisation: not measured (no samples probed)");
    } else {
        println!(
            "memorisation: nearest training image {:.2}× as far as a held-out image's (≪ 1 suggests copying)",
            report.memorisation_ratio
        );
    }
    for n in &report.neighbours {
        let list = |v: &[(usize, f64)]| {
            v.iter()
                .map(|(i, d)| format!("#{i} ({d:.2})"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        println!(
            "  sample {}: pixels {} | D features {}",
            n.sample,
            list(&n.by_pixels),
            list(&n.by_discriminator)
        );
    }
    Ok(())
}
