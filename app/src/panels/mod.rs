//! The studio's panels, one per file, each a struct with its persisted state and a `ui` method.

pub mod arena;
mod arena_field;
mod arena_views;
pub mod canvas;
pub mod data;
pub mod export;
pub mod model;
mod model_stackgan;
pub mod pyramid;
pub mod runs;
pub mod text;
pub mod train;

use easel_core::train::{Curves, Metric};
use egui_plot::{Legend, Line, Plot};
use serde::{Deserialize, Serialize};

/// Plots `curves` (window means: at most [`Curves::MAX_POINTS`] points a line, however long the
/// run), one line per `(name, metric)`; `unit_range` keeps 0 and 1 in view (D's outputs).
pub(crate) fn curves_plot(
    ui: &mut egui::Ui,
    id: &str,
    curves: &Curves,
    lines: &[(&str, Metric)],
    height: f32,
    unit_range: bool,
) {
    let mut plot = Plot::new(id).height(height).legend(Legend::default());
    if unit_range {
        plot = plot.include_y(0.0).include_y(1.0);
    }
    plot.show(ui, |plot| {
        for (name, metric) in lines {
            plot.line(Line::new(*name, curves.points(*metric)));
        }
    });
}

/// The panels of the left navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PanelKind {
    /// Choose and preview data.
    Data,
    /// Configure the model and schedule.
    #[default]
    Model,
    /// Train and watch.
    Train,
    /// Scrub GRAN's drawing steps (LAPGAN's levels).
    Canvas,
    /// LAPGAN's levels: low-pass, residual and image, one level re-rolled at a time.
    Pyramid,
    /// StackGAN: images from a typed sentence, stage by stage; walks between sentences.
    Text,
    /// Browse run folders.
    Runs,
    /// Write images and bundles from a checkpoint.
    Export,
    /// GAM battles, round robins and quality scores.
    Arena,
}

impl PanelKind {
    /// All panels in navigation order.
    pub const ALL: [PanelKind; 9] = [
        PanelKind::Data,
        PanelKind::Model,
        PanelKind::Train,
        PanelKind::Canvas,
        PanelKind::Pyramid,
        PanelKind::Text,
        PanelKind::Runs,
        PanelKind::Export,
        PanelKind::Arena,
    ];

    /// The label in the navigation.
    pub fn label(self) -> &'static str {
        match self {
            PanelKind::Data => "Data",
            PanelKind::Model => "Model",
            PanelKind::Train => "Train",
            PanelKind::Canvas => "Canvas",
            PanelKind::Pyramid => "Pyramid",
            PanelKind::Text => "Text",
            PanelKind::Runs => "Runs",
            PanelKind::Export => "Export",
            PanelKind::Arena => "Arena",
        }
    }
}
