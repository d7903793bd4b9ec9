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
    if let Some(m) = &report.text_match {
        println!(
            "text match: {:.1}% of {} samples drawn from held-out captions are classified as \
             their caption's class (chance {:.1}%; the classifier is {:.1}% right on real images)",
            100.0 * m.accuracy,
            m.samples,
            100.0 / k.max(1) as f64,
            100.0 * report.classifier_accuracy
        );
        println!(
            "  per class (asked → shown): {}",
            report
                .classes
                .iter()
                .zip(&m.per_class)
                .map(|(c, (asked, shown))| format!("{c} {shown}/{asked}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some(c) = &m.colours {
            let pct = |n: usize| 100.0 * n as f64 / c.samples.max(1) as f64;
            println!(
                "  colours read off the pixels (of {} samples): shape's colour as asked {:.1}%, \
                 background as asked {:.1}%, both {:.1}% (chance 12.5%, 12.5%, 1.8%)",
                c.samples,
                pct(c.shape),
                pct(c.background),
                pct(c.both)
            );
            if c.sized > 0 {
                println!(
                    "  size read off the pixels (of {} samples whose text names one): as asked \
                     {:.1}% (chance 33.3%)",
                    c.sized,
                    100.0 * c.size as f64 / c.sized as f64
                );
            }
        }
    }
    if let Some(c) = &report.text_check {
        println!(
            "D's text check ({} held-out images, each with its own caption and the closest \
             caption of each of {} other classes; about 50% is a D that reads the text but not what \
             tells them apart):",
            c.images, c.others
        );
        for s in &c.scales {
            println!(
                "  {0}×{0}: prefers the right caption in {1:.1}% of pairs; D(right) {2:.3}, \
                 D(other class) {3:.3}",
                s.side,
                100.0 * s.prefers_right,
                s.right,
                s.wrong
            );
        }
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
