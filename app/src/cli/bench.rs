//! `easel bench`: training images/s and achieved GFLOP/s per preset, and sampling time.

use anyhow::Result;
use clap::Args;
use easel_core::train::Preset;

/// `easel bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Presets to measure (default: the CPU-sized ones).
    #[arg(long)]
    preset: Vec<String>,
    /// Seconds of timed training per preset, after two warm-up steps.
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// Images per batch (default: each preset's).
    #[arg(long)]
    batch_size: Option<usize>,
    #[command(flatten)]
    backend: super::BackendArg,
    /// Print one JSON object per preset instead of a table.
    #[arg(long)]
    json: bool,
}

/// The presets sized for a CPU.
const CPU_PRESETS: [&str; 3] = ["gran-shapes", "gran-fmnist", "dcgan-fmnist"];

pub fn bench(args: BenchArgs) -> Result<()> {
    let backend = args.backend.or_cpu();
    let names: Vec<String> = if args.preset.is_empty() {
        CPU_PRESETS.iter().map(|s| s.to_string()).collect()
    } else {
        args.preset.clone()
    };
    if !args.json {
        println!(
            "{:<14} {:>6} {:>12} {:>10} {:>12} {:>16}",
            "preset", "batch", "train img/s", "GFLOP/s", "MFLOP/img", "sample 64×T5 ms"
        );
    }
    for name in names {
        let mut config = Preset::find(&name)?.config;
        config.backend = backend;
        if let Some(b) = args.batch_size {
            config.train.batch_size = b;
        }
        let r = easel_core::bench::bench(config, args.seconds)?;
        if args.json {
            let mut value = serde_json::to_value(&r)?;
            value["preset"] = name.into();
            value["backend"] = backend.name().into();
            println!("{value}");
        } else {
            println!(
                "{name:<14} {:>6} {:>12.1} {:>10.2} {:>12.1} {:>16.1}",
                r.batch_size,
                r.train_images_per_second,
                r.gflops_per_second,
                r.train_flops_per_image as f64 / 1e6,
                r.sample_64x5_ms
            );
        }
    }
    Ok(())
}

/// `easel devices`.
#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// Print JSON: per backend, whether it is compiled in, usable, and its devices.
    #[arg(long)]
    json: bool,
    /// Print only the names of the backends usable here, one a line (for scripts).
    #[arg(long, conflicts_with = "json")]
    usable: bool,
}

/// Lists each backend: compiled in or not, usable here or why not, and its devices as
/// `--devices` numbers them.
pub fn devices(args: DevicesArgs) -> Result<()> {
    use easel_core::backend::BackendKind;
    if args.usable {
        for b in BackendKind::available() {
            println!("{b}");
        }
        return Ok(());
    }
    let mut all = Vec::new();
    for b in BackendKind::ALL {
        let usable = if b.compiled() {
            b.usable()
        } else {
            Err("not compiled in".into())
        };
        let devices = if usable.is_ok() {
            b.devices()
        } else {
            Vec::new()
        };
        if args.json {
            all.push(serde_json::json!({
                "backend": b.name(),
                "compiled": b.compiled(),
                "usable": usable.is_ok(),
                "why_not": usable.as_ref().err(),
                "devices": devices,
            }));
            continue;
        }
        match &usable {
            Ok(()) => println!("{b}: usable"),
            Err(why) => println!("{b}: {why}"),
        }
        for d in &devices {
            println!("  {d}");
        }
    }
    if args.json {
        println!("{}", serde_json::Value::Array(all));
    }
    Ok(())
}
