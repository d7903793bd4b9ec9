//! The command line: `presets`, `train`, `resume`, `stop`, `follow`, `sweep`, `sample`, `verify`, `battle`, `arena`, `score`, `bench`, `embed`, `generate`, `interpolate`. Each command is a thin
//! listener over `easel-core`; errors are one line and a non-zero exit.

pub mod arena;
pub mod battle;
pub mod bench;
pub mod follow;
pub mod sample;
pub mod score;
pub mod slurm;
pub mod sweep;
pub mod text;
pub mod train;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use easel_core::backend::BackendKind;
use easel_core::data::DataSource;
use easel_core::train::{ModelConfig, Override, Preset, RunConfig};

/// Easel: configure, train, inspect and export GANs that draw in steps (GRAN, DCGAN, LAPGAN,
/// StackGAN-v1 and -v2).
#[derive(Debug, Parser)]
#[command(name = "easel", version, about)]
pub struct Cli {
    /// What to do (default: open the studio).
    #[command(subcommand)]
    pub command: Option<Action>,
}

/// What `easel` is asked to do: a subcommand.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Open the studio window (the default).
    Studio(crate::studio::StudioArgs),
    /// List the shipped presets.
    Presets,
    /// Train a new run.
    Train(train::TrainArgs),
    /// Continue a run from its newest intact checkpoint.
    Resume(train::ResumeArgs),
    /// Ask the process training a run (here or elsewhere, sharing the folder) to save a
    /// checkpoint and stop.
    Stop(train::StopArgs),
    /// Show the progress of a run another process is writing (here, or on a server whose run
    /// folder is mounted or synced), until it finishes or stops.
    Follow(follow::FollowArgs),
    /// Many runs at once: one per point of a grid of config overrides, trained here a few at a
    /// time or as a Slurm array job; `sweep status` says where each stands.
    Sweep(Box<sweep::SweepArgs>),
    /// Draw samples from a run's checkpoint (or write a bundle that can redraw them).
    Sample(sample::SampleArgs),
    /// Redraw a bundle's images and check they match.
    Verify(sample::VerifyArgs),
    /// Play two runs against each other with the Generative Adversarial Metric (GAM).
    Battle(battle::BattleArgs),
    /// A GAM round robin between runs (or one run's checkpoints), with a leaderboard.
    Arena(arena::ArenaArgs),
    /// Sample-quality figures (classifier score, Fréchet distance, class coverage, nearest
    /// neighbours) beside those of real held-out images; for a text model also whether samples
    /// show what their text says, and whether its discriminators check it.
    Score(score::ScoreArgs),
    /// Measure training and sampling speed per preset.
    Bench(bench::BenchArgs),
    /// List the compute backends, whether each can be used here, and their devices.
    Devices(bench::DevicesArgs),
    /// Sentence embeddings (all-MiniLM-L6-v2), with their cosine similarities.
    Embed(text::EmbedArgs),
    /// Images from a sentence, with a text-to-image run (StackGAN).
    Generate(text::GenerateArgs),
    /// A walk between two sentences (or two seeds) with a StackGAN run, as image strips.
    Interpolate(text::InterpolateArgs),
}

/// Runs a command-line command.
pub fn run(command: Action) -> Result<()> {
    match command {
        Action::Studio(args) => crate::studio::run(args),
        Action::Presets => {
            for p in Preset::all() {
                println!(
                    "{:<17} {:<28} {}",
                    p.name,
                    p.config.model.label(),
                    p.description
                );
            }
            Ok(())
        }
        Action::Train(a) => train::train(a),
        Action::Resume(a) => train::resume(a),
        Action::Stop(a) => train::stop(a),
        Action::Follow(a) => follow::follow(a),
        Action::Sweep(a) => sweep::sweep(*a),
        Action::Sample(a) => sample::sample(a),
        Action::Verify(a) => sample::verify(a),
        Action::Battle(a) => battle::battle(a),
        Action::Arena(a) => arena::arena(a),
        Action::Score(a) => score::score(a),
        Action::Bench(a) => bench::bench(a),
        Action::Devices(a) => bench::devices(a),
        Action::Embed(a) => text::embed(a),
        Action::Generate(a) => text::generate(a),
        Action::Interpolate(a) => text::interpolate(a),
    }
}

/// Options that build a run config from a preset or file plus overrides.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// A shipped preset (see `easel presets`).
    #[arg(long, conflicts_with = "config")]
    preset: Option<String>,
    /// A run config file (TOML).
    #[arg(long)]
    config: Option<PathBuf>,
    /// GRAN's drawing steps T (1 = DCGAN).
    #[arg(long)]
    steps: Option<usize>,
    /// Data: shapes, fashion-mnist[:DIR], idx:DIR, cifar10:DIR or folder:DIR.
    #[arg(long)]
    data: Option<String>,
    /// Use only the first N training images.
    #[arg(long)]
    limit: Option<usize>,
    /// Images per batch.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Seed of weights, data order and noise.
    #[arg(long)]
    seed: Option<u64>,
    #[command(flatten)]
    backend: BackendArg,
    /// Data parallel: split each batch over these devices (`cpu,cpu`, `wgpu:0,wgpu:1`,
    /// `cuda:0,cuda:1`); the first holds the weights. BatchNorm then sees each device's share.
    #[arg(long, value_name = "DEVICE,DEVICE,…")]
    devices: Option<String>,
    /// Stop after this many training steps.
    #[arg(long)]
    max_steps: Option<u64>,
    /// Stop after this many epochs.
    #[arg(long)]
    epochs: Option<u64>,
    /// Stop after this many minutes of training: steps with their sample grids and
    /// checkpoints.
    #[arg(long)]
    minutes: Option<f64>,
    /// Set any field of the run config, as a dotted key of config.toml (repeatable; applied
    /// last, in order), e.g. `--set model.gran.steps=5 --set train.lr_d=1e-4`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<Override>,
}

/// Parses `--data`.
pub fn parse_data(spec: &str) -> Result<DataSource> {
    let (kind, path) = match spec.split_once(':') {
        Some((k, p)) => (k, Some(PathBuf::from(p))),
        None => (spec, None),
    };
    let need =
        |p: Option<PathBuf>| p.with_context(|| format!("--data {kind} needs a folder: {kind}:DIR"));
    Ok(match kind {
        "shapes" => DataSource::default(),
        "fashion-mnist" => DataSource::FashionMnist { path },
        "idx" => DataSource::Idx { path: need(path)? },
        "cifar10" => DataSource::Cifar10 { path: need(path)? },
        "folder" => DataSource::Folder { path: need(path)? },
        other => bail!(
            "unknown --data {other:?}; expected shapes, fashion-mnist[:DIR], idx:DIR, cifar10:DIR or folder:DIR"
        ),
    })
}

impl ConfigArgs {
    /// Where the config comes from, in words (`preset gran-shapes`, `config run.toml`), with
    /// the options given on top of it.
    pub fn describe(&self) -> String {
        let mut text = match (&self.preset, &self.config) {
            (_, Some(path)) => format!("config {}", path.display()),
            (Some(name), None) => format!("preset {name}"),
            (None, None) => format!("preset {}", easel_core::train::config::DEFAULT_PRESET),
        };
        for o in &self.overrides {
            text.push_str(&format!(" --set {o}"));
        }
        text
    }

    /// The config these options describe.
    pub fn build(&self) -> Result<RunConfig> {
        let mut config = match (&self.preset, &self.config) {
            (_, Some(path)) => RunConfig::load(path)?,
            (Some(name), None) => Preset::find(name)?.config,
            (None, None) => Preset::find(easel_core::train::config::DEFAULT_PRESET)?.config,
        };
        if let Some(t) = self.steps {
            match &mut config.model {
                ModelConfig::Gran(gran) => gran.steps = t,
                ModelConfig::Lapgan(_) => {
                    anyhow::bail!(
                        "--steps sets GRAN's drawing steps; LAPGAN's levels are set in its config"
                    )
                }
                ModelConfig::StackGan(_) => {
                    anyhow::bail!(
                        "--steps sets GRAN's drawing steps; StackGAN's stages and scales are set in its config"
                    )
                }
            }
        }
        if let Some(d) = &self.data {
            config.data = parse_data(d)?;
        }
        let t = &mut config.train;
        t.data_limit = self.limit.or(t.data_limit);
        t.batch_size = self.batch_size.unwrap_or(t.batch_size);
        t.max_steps = self.max_steps.or(t.max_steps);
        t.epochs = self.epochs.or(t.epochs);
        t.minutes = self.minutes.or(t.minutes);
        config.seed = self.seed.unwrap_or(config.seed);
        if let Some(b) = self.backend.chosen() {
            config.backend = b;
        }
        if let Some(list) = &self.devices {
            config.devices = easel_core::backend::DeviceSpec::parse_list(list)?;
            if let (Some(first), None) = (config.devices.first(), self.backend.chosen()) {
                config.backend = first.kind;
            }
        }
        config.validate()?;
        Ok(config.with_overrides(&self.overrides)?)
    }
}

/// A compute backend, as the command line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// burn's flex CPU backend, every core.
    Cpu,
    /// WGPU: Vulkan, Metal, DX12 or GL.
    Wgpu,
    /// CUDA (builds with `--features cuda`).
    Cuda,
}

impl From<Backend> for BackendKind {
    fn from(b: Backend) -> Self {
        match b {
            Backend::Cpu => BackendKind::Cpu,
            Backend::Wgpu => BackendKind::Wgpu,
            Backend::Cuda => BackendKind::Cuda,
        }
    }
}

/// `--backend`, flattened into every command that computes.
#[derive(Debug, Clone, Default, Args)]
pub struct BackendArg {
    /// Where to compute (default: the CPU; `train` and `resume`: the run's config).
    #[arg(long, value_enum)]
    backend: Option<Backend>,
}

impl BackendArg {
    /// The backend asked for, if any.
    pub fn chosen(&self) -> Option<BackendKind> {
        self.backend.map(BackendKind::from)
    }

    /// The backend asked for, else the CPU.
    pub fn or_cpu(&self) -> BackendKind {
        self.chosen().unwrap_or(BackendKind::Cpu)
    }
}
