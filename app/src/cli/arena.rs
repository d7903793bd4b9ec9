//! `easel arena`: a GAM round robin between runs (or the checkpoints of one run), with a
//! Bradley–Terry leaderboard and the r_sample matrix.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use easel_core::eval::arena;
use easel_core::eval::gam::{BattleConfig, DEFAULT_TOLERANCE, TOLERANCE_RULE};
use easel_core::sample::LoadedModel;
use easel_core::train::{RunDir, Sweep, checkpoint};

/// `easel arena`.
#[derive(Debug, Args)]
pub struct ArenaArgs {
    /// Run folders (at least two, or one with --checkpoints), or sweep folders: a sweep plays
    /// all its runs, and its configurations are rated by the mean over their seeds.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// Play every kept checkpoint of each run (a model against its own past).
    #[arg(long)]
    checkpoints: bool,
    /// Samples drawn from each generator.
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// Seed of the generators' noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = DEFAULT_TOLERANCE, help = TOLERANCE_RULE)]
    tolerance: f64,
    /// Score at most this many training and test images per discriminator.
    #[arg(long, default_value_t = 10_000)]
    real_limit: usize,
    /// Print the whole result as JSON.
    #[arg(long)]
    json: bool,
    /// Also write the leaderboard as CSV here.
    #[arg(long)]
    csv: Option<PathBuf>,
    #[command(flatten)]
    backend: super::BackendArg,
}

pub fn arena(args: ArenaArgs) -> Result<()> {
    let backend = args.backend.or_cpu();
    // Sweeps stand for their runs, each named by its folder and grouped by its configuration.
    let sweeps = args.runs.iter().filter(|r| Sweep::is_sweep(r)).count();
    let mut runs: Vec<(String, PathBuf, Option<String>)> = Vec::new();
    for path in &args.runs {
        if Sweep::is_sweep(path) {
            let sweep = Sweep::open(path)?;
            for (run, dir) in sweep.spec.runs.iter().zip(sweep.run_dirs()) {
                let name = if sweeps > 1 {
                    format!("{}/{}", path.display(), run.name)
                } else {
                    run.name.clone()
                };
                let group = Sweep::configuration(run);
                runs.push((name, dir, Some(group)));
            }
        } else {
            runs.push((path.display().to_string(), path.clone(), None));
        }
    }
    let mut entrants: Vec<(String, PathBuf, Option<PathBuf>)> = Vec::new();
    let mut group_of = Vec::new();
    for (name, run, group) in &runs {
        let (name, run) = (name.clone(), run);
        if args.checkpoints {
            let found = checkpoint::list(&RunDir::new(run).checkpoints())?;
            if found.is_empty() {
                bail!("{name}: no checkpoint to play");
            }
            for (step, path) in found {
                entrants.push((format!("{name}@{step}"), run.clone(), Some(path)));
                group_of.push(group.as_ref().map(|g| format!("{g} @ step {step}")));
            }
        } else {
            entrants.push((name, run.clone(), None));
            group_of.push(group.clone());
        }
    }
    if entrants.len() < 2 {
        bail!(
            "an arena needs at least two models: give two runs, or one run with --checkpoints and two checkpoints"
        );
    }
    let models = entrants
        .iter()
        .map(|(_, run, ckpt)| LoadedModel::load(run, ckpt.as_deref(), backend))
        .collect::<easel_core::Result<Vec<_>>>()?;
    let data = models[0].dataset()?;
    let config = BattleConfig {
        samples: args.samples,
        seed: args.seed,
        tolerance: args.tolerance,
        real_limit: Some(args.real_limit),
    };
    let names: Vec<String> = entrants.iter().map(|(n, _, _)| n.clone()).collect();
    let refs: Vec<&LoadedModel> = models.iter().collect();
    let mut result = arena::round_robin(&refs, &names, &data, &config, &mut |done, total| {
        eprint!("\rscoring {done}/{total}");
    })?;
    // Configurations rated over their seeds, where some configuration has several.
    let grouped = group_of
        .iter()
        .flatten()
        .any(|g| group_of.iter().flatten().filter(|h| *h == g).count() > 1);
    if grouped {
        result.group(&group_of);
    }
    eprintln!();
    if let Some(path) = &args.csv {
        let text = result.leaderboard_csv();
        std::fs::write(path, text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
        return Ok(());
    }
    println!("rank  rating (± s.e.)   W  T  L  model");
    for (rank, s) in result.leaderboard.iter().enumerate() {
        println!(
            "{:>4}  {:>7.1} (± {:>5.1})  {:>2} {:>2} {:>2}  {}",
            rank + 1,
            s.rating,
            s.rating_se,
            s.wins,
            s.ties,
            s.losses,
            s.name
        );
    }
    if !result.groups.is_empty() {
        println!("\nby configuration (mean rating ± s.e. over its seeds):");
        println!("rank  mean rating (± s.e.)  seeds  configuration");
        for (rank, g) in result.groups.iter().enumerate() {
            let se =
                g.se.map_or_else(|| "    -".into(), |se| format!("{se:>5.1}"));
            println!(
                "{:>4}  {:>7.1} (± {se})     {:>5}  {}",
                rank + 1,
                g.mean,
                g.models.len(),
                g.name
            );
        }
    }
    println!("\nr_sample (row = M1, column = M2; < 1 favours the row):");
    for (i, row) in result.r_sample.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|r| format!("{:>10}", short(r))).collect();
        println!("  {:>3}  {}", i + 1, cells.join(" "));
    }
    for (i, j, v) in &result.verdicts {
        println!(
            "{} vs {}: {:?}, {}",
            names[*i], names[*j], v.winner, v.reason
        );
    }
    Ok(())
}

fn short(r: &easel_core::eval::gam::Ratio) -> String {
    use easel_core::eval::gam::Ratio;
    match r {
        Ratio::Value(v) => format!("{v:.3}"),
        Ratio::Infinite => "inf".into(),
        Ratio::Undefined => "0/0".into(),
    }
}
