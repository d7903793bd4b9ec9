//! The studio: a native window (eframe, wgpu renderer) where a person trains and inspects GANs.

mod app;

pub use app::{Persisted, Studio};

/// Options of `easel studio`, for benchmarks and demonstrations.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StudioArgs {
    /// Open with this preset chosen in the Model and Data panels (see `easel presets`).
    #[arg(long)]
    pub preset: Option<String>,
    /// Continue training this run folder as soon as the window opens.
    #[arg(long, conflicts_with_all = ["preset", "autostart"])]
    pub resume: Option<std::path::PathBuf>,
    /// Open this run folder in the Runs panel (followed while another process writes it, e.g.
    /// a server's run mounted or synced here).
    #[arg(long, conflicts_with = "resume")]
    pub open: Option<std::path::PathBuf>,
    /// Press Start as soon as the window opens.
    #[arg(long)]
    pub autostart: bool,
    /// Close (saving a checkpoint) after this many seconds.
    #[arg(long)]
    pub quit_after_seconds: Option<f64>,
    /// Write frame-time figures (JSON) here when closing.
    #[arg(long)]
    pub frame_report: Option<std::path::PathBuf>,
    /// Append one JSON line of load figures here every `--load-log-every` seconds: that
    /// interval's frame times (p50, p99, max), resident memory, the training step and the
    /// curves' windows (for the long-session load test, `bench/studio_load.sh`).
    #[arg(long)]
    pub load_log: Option<std::path::PathBuf>,
    /// Seconds between `--load-log` lines.
    #[arg(long, default_value_t = 60.0, requires = "load_log")]
    pub load_log_every: f64,
    /// Visit every panel in turn, this many seconds each (for demonstrations and screenshots):
    /// previews the data, saves a checkpoint before the Canvas draws from it, opens the run in
    /// Runs and Export.
    #[arg(long)]
    pub tour: Option<f64>,
    /// With `--tour`, save a screenshot of each panel (PNG) into this folder.
    #[arg(long, requires = "tour")]
    pub screenshots: Option<std::path::PathBuf>,
}

/// Opens the studio window and runs until it is closed.
pub fn run(args: StudioArgs) -> anyhow::Result<()> {
    if let Some(name) = &args.preset {
        // Refuse a wrong name before opening a window.
        easel_core::train::Preset::find(name)?;
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Easel")
            .with_inner_size([1200.0, 800.0])
            .with_min_inner_size([720.0, 480.0]),
        ..Default::default()
    };
    eframe::run_native(
        "Easel",
        options,
        Box::new(|cc| {
            let mut studio = Studio::new(cc, Box::new(crate::picker::DialogPicker));
            if let Some(name) = &args.preset {
                studio.choose_preset(name)?;
            }
            studio.set_automation(args);
            Ok(Box::new(studio))
        }),
    )
    .map_err(|e| anyhow::anyhow!("could not open the studio window: {e}"))
}
