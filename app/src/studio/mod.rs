//! The studio: a native window (eframe, wgpu renderer) where a person trains and inspects GANs.

mod app;

pub use app::{Persisted, Studio};

/// Options of `easel studio`, for benchmarks and demonstrations.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StudioArgs {
    /// Press Start as soon as the window opens.
    #[arg(long)]
    pub autostart: bool,
    /// Close (saving a checkpoint) after this many seconds.
    #[arg(long)]
    pub quit_after_seconds: Option<f64>,
    /// Write frame-time figures (JSON) here when closing.
    #[arg(long)]
    pub frame_report: Option<std::path::PathBuf>,
}

/// Opens the studio window and runs until it is closed.
pub fn run(args: StudioArgs) -> anyhow::Result<()> {
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
            studio.set_automation(args);
            Ok(Box::new(studio))
        }),
    )
    .map_err(|e| anyhow::anyhow!("could not open the studio window: {e}"))
}
