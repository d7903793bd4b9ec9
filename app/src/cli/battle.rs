//! `easel battle`: the GAM of Im et al. 2016 between two runs trained on the same data.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use easel_core::data::DataSource;
use easel_core::eval::gam::{
    self, BattleConfig, DEFAULT_TOLERANCE, ErrorRate, TOLERANCE_RULE, Winner,
};
use easel_core::sample::LoadedModel;

/// `easel battle`.
#[derive(Debug, Args)]
pub struct BattleArgs {
    /// The first run (M1).
    m1: PathBuf,
    /// The second run (M2).
    #[arg(required_unless_present = "folder")]
    m2: Option<PathBuf>,
    /// Instead of M2: a folder of images from any other generator, scored by M1's discriminator
    /// (the paper's partial GAM).
    #[arg(long, conflicts_with = "m2")]
    folder: Option<PathBuf>,
    /// Samples drawn from each generator.
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// Seed of the generators' noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = DEFAULT_TOLERANCE, help = TOLERANCE_RULE)]
    tolerance: f64,
    /// Score at most this many training and test images.
    #[arg(long, default_value_t = 10_000)]
    real_limit: usize,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    backend: super::BackendArg,
}

fn cell(e: &ErrorRate) -> String {
    format!("{:.4} ({}/{})", e.rate(), e.errors, e.total)
}

pub fn battle(args: BattleArgs) -> Result<()> {
    let backend = args.backend.or_cpu();
    let m1 = LoadedModel::load(&args.m1, None, backend)?;
    let (image_size, channels) = m1.config.model.image_shape();
    let data = m1.dataset()?;
    let config = BattleConfig {
        samples: args.samples,
        seed: args.seed,
        tolerance: args.tolerance,
        real_limit: Some(args.real_limit),
    };
    if let Some(folder) = &args.folder {
        let images = DataSource::Folder {
            path: folder.clone(),
        }
        .load(image_size, channels, None)?;
        let mut all = images.train;
        all.pixels.extend(images.test.pixels);
        let p = gam::partial(&m1, &all, &data, &config)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&p)?);
            return Ok(());
        }
        println!("D of {} (step {})", args.m1.display(), m1.step);
        println!("  calls real {} of the folder's images", cell(&p.on_folder));
        println!(
            "  calls real {} of its own generator's samples",
            cell(&p.on_own_samples)
        );
        println!(
            "  calls fake {} of the held-out test images",
            cell(&p.on_test)
        );
        return Ok(());
    }
    let m2_dir = args.m2.as_ref().expect("clap requires M2 without --folder");
    let m2 = LoadedModel::load(m2_dir, None, backend)?;
    let result = gam::battle(&m1, &m2, &data, &config)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
        return Ok(());
    }
    let t = &result.table;
    let v = &result.verdict;
    println!("M1 = {} (step {})", args.m1.display(), m1.step);
    println!("M2 = {} (step {})", m2_dir.display(), m2.step);
    println!("error rates (D's 0.5 threshold)      D1                    D2");
    println!(
        "  on G1 samples                      {:<21} {}",
        cell(&t.d1_on_g1),
        cell(&t.d2_on_g1)
    );
    println!(
        "  on G2 samples                      {:<21} {}",
        cell(&t.d1_on_g2),
        cell(&t.d2_on_g2)
    );
    println!(
        "  on training images                 {:<21} {}",
        cell(&t.d1_on_train),
        cell(&t.d2_on_train)
    );
    println!(
        "  on test images                     {:<21} {}",
        cell(&t.d1_on_test),
        cell(&t.d2_on_test)
    );
    println!("r_test   = ε(D1(x_test)) / ε(D2(x_test)) = {}", v.r_test);
    println!("r_sample = ε(D1(G2(z))) / ε(D2(G1(z)))   = {}", v.r_sample);
    let winner = match v.winner {
        Winner::M1 => "M1 wins",
        Winner::M2 => "M2 wins",
        Winner::Tie => "tie",
    };
    println!("{winner}: {}", v.reason);
    Ok(())
}
