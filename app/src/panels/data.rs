//! The Data panel: pick the built-in shapes, Fashion-MNIST (found automatically), an IDX or
//! CIFAR-10 folder or an image folder; preview it with labels or captions, its counts and size.

use std::path::PathBuf;
use std::sync::mpsc::Receiver;

use easel_core::data::{DataSource, Dataset, FASHION_MNIST_DIR, fashion_mnist_installed};
use egui::{RichText, TextureHandle};
use serde::{Deserialize, Serialize};

use crate::commands::PanelContext;
use crate::textures;
use crate::worker::Pending;

/// Images shown in the preview.
const PREVIEW_COUNT: usize = 32;

/// The kinds of data on offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DataChoice {
    /// The procedural shapes.
    #[default]
    Shapes,
    /// Fashion-MNIST from Debian's package.
    FashionMnist,
    /// An MNIST-layout IDX folder.
    Idx,
    /// CIFAR-10 binary batches.
    Cifar10,
    /// A folder of images.
    Folder,
}

impl DataChoice {
    fn label(self) -> &'static str {
        match self {
            DataChoice::Shapes => "Built-in shapes",
            DataChoice::FashionMnist => "Fashion-MNIST",
            DataChoice::Idx => "IDX folder",
            DataChoice::Cifar10 => "CIFAR-10 folder",
            DataChoice::Folder => "Image folder",
        }
    }

    fn needs_folder(self) -> bool {
        matches!(
            self,
            DataChoice::Idx | DataChoice::Cifar10 | DataChoice::Folder
        )
    }
}

struct Preview {
    source: DataSource,
    shape: (usize, usize),
    name: String,
    train: usize,
    test: usize,
    classes: Vec<String>,
    texture: TextureHandle,
    notes: Vec<String>,
}

/// The Data panel.
/// A dataset being loaded off the UI thread: its source, the size and channels asked for, and the
/// result to come.
type Loading = (
    DataSource,
    (usize, usize),
    Pending<easel_core::Result<Dataset>>,
);

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DataPanel {
    /// The kind chosen.
    pub choice: DataChoice,
    /// The folder, for the kinds that need one.
    pub folder: String,
    #[serde(skip)]
    preview: Option<Preview>,
    #[serde(skip)]
    loading: Option<Loading>,
    #[serde(skip)]
    error: Option<String>,
    #[serde(skip)]
    picking: Option<Receiver<Option<PathBuf>>>,
}

impl DataPanel {
    /// The data source chosen, or why there is none yet.
    pub fn source(&self) -> Result<DataSource, String> {
        let folder = || -> Result<PathBuf, String> {
            let f = self.folder.trim();
            if f.is_empty() {
                Err(format!("{}: choose a folder", self.choice.label()))
            } else {
                Ok(PathBuf::from(f))
            }
        };
        Ok(match self.choice {
            DataChoice::Shapes => DataSource::default(),
            DataChoice::FashionMnist => DataSource::FashionMnist { path: None },
            DataChoice::Idx => DataSource::Idx { path: folder()? },
            DataChoice::Cifar10 => DataSource::Cifar10 { path: folder()? },
            DataChoice::Folder => DataSource::Folder { path: folder()? },
        })
    }

    /// Sets the choice from a run's config (e.g. when a preset is picked).
    pub fn set_source(&mut self, source: &DataSource) {
        (self.choice, self.folder) = match source {
            DataSource::Shapes { .. } => (DataChoice::Shapes, String::new()),
            DataSource::FashionMnist { .. } => (DataChoice::FashionMnist, String::new()),
            DataSource::Idx { path } => (DataChoice::Idx, path.display().to_string()),
            DataSource::Cifar10 { path } => (DataChoice::Cifar10, path.display().to_string()),
            DataSource::Folder { path } => (DataChoice::Folder, path.display().to_string()),
        };
    }

    /// The load error shown, if any.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Whether a preview is loaded for the current choice.
    pub fn preview_counts(&self) -> Option<(usize, usize)> {
        self.preview.as_ref().map(|p| (p.train, p.test))
    }

    fn start_loading(&mut self, shape: (usize, usize), cx: &PanelContext) {
        match self.source() {
            Ok(source) => {
                self.error = None;
                let s = source.clone();
                let pending = cx.spawn("easel-data", move || s.load(shape.0, shape.1, None));
                self.loading = Some((source, shape, pending));
            }
            Err(e) => self.error = Some(e),
        }
    }

    fn poll(&mut self, ctx: &egui::Context) {
        if let Some(rx) = &self.picking
            && let Ok(answer) = rx.try_recv()
        {
            if let Some(path) = answer {
                self.folder = path.display().to_string();
                self.preview = None;
            }
            self.picking = None;
        }
        let Some((_, _, pending)) = &self.loading else {
            return;
        };
        let Some(result) = pending.poll_result() else {
            return;
        };
        let (source, shape, _) = self.loading.take().expect("checked above");
        match result {
            Ok(data) => {
                let mut notes = Vec::new();
                let set = &data.train;
                let shown = PREVIEW_COUNT.min(set.len());
                for i in 0..shown {
                    let text = match (&set.captions, &set.labels) {
                        (Some(c), _) => c.first(i).to_string(),
                        (None, Some(l)) => set
                            .class_names
                            .get(l[i] as usize)
                            .cloned()
                            .unwrap_or_default(),
                        _ => String::new(),
                    };
                    notes.push(text);
                }
                let indices: Vec<usize> = (0..shown).collect();
                let batch = easel_core::images::ImageBatch {
                    count: shown,
                    channels: set.channels,
                    height: set.height,
                    width: set.width,
                    pixels: set.batch_f32(&indices),
                };
                self.preview = Some(Preview {
                    texture: textures::upload_grid(ctx, "data-preview", &batch, 8),
                    source,
                    shape,
                    name: data.name.clone(),
                    train: data.train.len(),
                    test: data.test.len(),
                    classes: data.train.class_names.clone(),
                    notes,
                });
            }
            Err(e) => {
                self.preview = None;
                self.error = Some(e.to_string());
            }
        }
    }

    /// Draws the panel; `shape` is the model's (image side, channels).
    pub fn ui(&mut self, ui: &mut egui::Ui, shape: (usize, usize), cx: &PanelContext) {
        let (picker, wake) = (cx.picker, cx.wake.clone());
        self.poll(ui.ctx());
        ui.heading("Data");
        let before = (self.choice, self.folder.clone());
        ui.horizontal(|ui| {
            for choice in [
                DataChoice::Shapes,
                DataChoice::FashionMnist,
                DataChoice::Idx,
                DataChoice::Cifar10,
                DataChoice::Folder,
            ] {
                let available = choice != DataChoice::FashionMnist || fashion_mnist_installed();
                let response = ui.add_enabled(
                    available,
                    egui::RadioButton::new(self.choice == choice, choice.label()),
                );
                let response = if available {
                    response
                } else {
                    response.on_disabled_hover_text(format!(
                        "Not found in {FASHION_MNIST_DIR}: apt-get install dataset-fashion-mnist"
                    ))
                };
                if response.clicked() {
                    self.choice = choice;
                }
            }
        });
        if self.choice.needs_folder() {
            ui.horizontal(|ui| {
                ui.label("Folder:");
                ui.add(egui::TextEdit::singleline(&mut self.folder).desired_width(360.0));
                if ui
                    .add_enabled(self.picking.is_none(), egui::Button::new("Browse…"))
                    .clicked()
                {
                    self.picking = Some(picker.pick_folder("Choose a data folder", wake.clone()));
                }
            });
        }
        if (self.choice, self.folder.clone()) != before {
            self.preview = None;
            self.error = None;
        }
        let stale = self
            .preview
            .as_ref()
            .is_some_and(|p| Ok(&p.source) != self.source().as_ref() || p.shape != shape);
        if stale {
            self.preview = None;
        }
        ui.horizontal(|ui| {
            let loading = self.loading.is_some();
            if ui
                .add_enabled(!loading, egui::Button::new("Load preview"))
                .clicked()
            {
                self.start_loading(shape, cx);
            }
            if loading {
                ui.spinner();
                ui.label("loading…");
            }
        });
        // Data that needs no folder previews as soon as it is chosen.
        if !self.choice.needs_folder()
            && self.preview.is_none()
            && self.loading.is_none()
            && self.error.is_none()
        {
            self.start_loading(shape, cx);
        }
        if let Some(e) = &self.error {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("Could not load the data: {e}"),
            );
        }
        if let Some(p) = &self.preview {
            ui.label(format!(
                "{}: {} training images, {} held-out test images, {}×{} {}, {} classes",
                p.name,
                p.train,
                p.test,
                p.shape.0,
                p.shape.0,
                if p.shape.1 == 1 { "grey" } else { "RGB" },
                p.classes.len()
            ));
            let size = p.texture.size_vec2();
            let scale = (560.0 / size.x).clamp(1.0, 4.0);
            let response = ui.add(
                egui::Image::new(&p.texture)
                    .fit_to_exact_size(size * scale)
                    .sense(egui::Sense::hover()),
            );
            if let Some(pos) = response.hover_pos() {
                let cell = response.rect.width() / 8.0;
                let (col, row) = (
                    ((pos.x - response.rect.left()) / cell) as usize,
                    ((pos.y - response.rect.top()) / cell) as usize,
                );
                if let Some(note) = p.notes.get(row * 8 + col) {
                    response.on_hover_text(note.clone());
                }
            }
            ui.label(RichText::new("Hover an image for its label or caption.").weak());
            let shown: Vec<&str> = p.notes.iter().take(4).map(String::as_str).collect();
            ui.label(format!("First labels: {}", shown.join(" · ")));
        }
    }
}
