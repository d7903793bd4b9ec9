//! The Pyramid panel (LAPGAN): for a few samples, every level from coarse to fine — the low-pass
//! image the level reads, its residual as a signed heatmap, and their sum; re-roll one level's
//! noise alone (the coarser structure stays, the details change); pick a class when the model is
//! class-conditional; export the strip as a PNG.

use std::path::{Path, PathBuf};

use easel_core::export;
use easel_core::images::ImageBatch;
use easel_core::sample::PyramidLevel;
use egui::TextureHandle;
use serde::{Deserialize, Serialize};

use crate::commands::PanelContext;
use crate::textures;
use crate::worker::Pending;

/// What a drawing job returns: the model's class count and the levels, coarse to fine.
type Drawing = easel_core::Result<(usize, Vec<PyramidLevel>)>;

struct Drawn {
    run: PathBuf,
    classes: usize,
    levels: Vec<PyramidLevel>,
    /// Per level: (low-pass, residual heatmap, image) textures.
    textures: Vec<(Option<TextureHandle>, Option<TextureHandle>, TextureHandle)>,
}

/// The Pyramid panel.
#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct PyramidPanel {
    /// Samples shown side by side.
    pub count: usize,
    /// One noise seed per level, finest first (the coarsest's seeds z_K).
    pub seeds: Vec<u64>,
    /// The class drawn by a class-conditional model.
    pub class: u32,
    #[serde(skip)]
    drawn: Option<Drawn>,
    #[serde(skip)]
    pending: Option<(PathBuf, Pending<Drawing>)>,
    #[serde(skip)]
    error: Option<String>,
    #[serde(skip)]
    notice: Option<String>,
}

impl Default for PyramidPanel {
    fn default() -> Self {
        Self {
            count: 6,
            seeds: Vec::new(),
            class: 0,
            drawn: None,
            pending: None,
            error: None,
            notice: None,
        }
    }
}

/// Nearest-neighbour enlargement of every image to `side`, as RGB.
fn to_rgb_at(batch: &ImageBatch, side: usize) -> ImageBatch {
    let (h, w, c) = (batch.height, batch.width, batch.channels);
    let mut pixels = Vec::with_capacity(batch.count * 3 * side * side);
    for i in 0..batch.count {
        let image = &batch.pixels[i * batch.image_len()..(i + 1) * batch.image_len()];
        for channel in 0..3 {
            let source = channel.min(c - 1);
            for y in 0..side {
                for x in 0..side {
                    let (sy, sx) = (y * h / side, x * w / side);
                    pixels.push(image[source * h * w + sy * w + sx]);
                }
            }
        }
    }
    ImageBatch {
        count: batch.count,
        channels: 3,
        height: side,
        width: side,
        pixels,
    }
}

/// The strip: one row per level and part (low-pass, residual, image), coarse to fine, every
/// sample a column, all at the finest side.
pub fn strip(levels: &[PyramidLevel]) -> ImageBatch {
    let side = levels.last().map_or(1, |l| l.side);
    let mut out = ImageBatch {
        count: 0,
        channels: 3,
        height: side,
        width: side,
        pixels: Vec::new(),
    };
    let mut push = |b: ImageBatch| {
        out.count += b.count;
        out.pixels.extend(b.pixels);
    };
    for level in levels {
        if let Some(low) = &level.low {
            push(to_rgb_at(low, side));
        }
        if let Some(residual) = &level.residual {
            push(to_rgb_at(&textures::heatmap(residual), side));
        }
        push(to_rgb_at(&level.image, side));
    }
    out
}

impl PyramidPanel {
    /// The levels drawn, coarse to fine (empty before a drawing).
    pub fn levels(&self) -> &[PyramidLevel] {
        self.drawn.as_ref().map_or(&[], |d| &d.levels)
    }

    /// Whether a drawing is being made.
    pub fn busy(&self) -> bool {
        self.pending.is_some()
    }

    /// Draws the pyramid of `run` with the current seeds (one per level, made up when missing).
    pub fn draw(&mut self, run: &Path, cx: &PanelContext) {
        let inference = cx.inference.clone();
        let (dir, count, class, seeds) = (
            run.to_path_buf(),
            self.count,
            self.class,
            self.seeds.clone(),
        );
        let pending = cx.spawn("easel-pyramid", move || {
            let model = inference.load(&dir, None)?;
            let levels = model.trained_steps();
            let mut seeds = seeds;
            seeds.resize(levels, 0);
            let classes = model.config.model.classes();
            let class = (classes > 0).then(|| class.min(classes as u32 - 1));
            Ok((classes, model.pyramid(count, &seeds, class)?))
        });
        self.pending = Some((run.to_path_buf(), pending));
        self.error = None;
        self.notice = None;
        if self.drawn.as_ref().is_none_or(|d| d.run != run) {
            self.drawn = None;
        }
    }

    /// Re-rolls level `level` (0 = coarsest as shown) and redraws.
    pub fn reroll(&mut self, run: &Path, level: usize, cx: &PanelContext) {
        let levels = self.levels().len().max(self.seeds.len());
        self.seeds.resize(levels, 0);
        // Shown coarse to fine; seeds are kept finest first.
        let index = levels - 1 - level;
        self.seeds[index] = self.seeds[index].wrapping_add(1);
        self.draw(run, cx);
    }

    fn poll(&mut self, ctx: &egui::Context) {
        let Some((_, pending)) = &self.pending else {
            return;
        };
        let Some(result) = pending.poll_result() else {
            return;
        };
        let Some((run, _)) = self.pending.take() else {
            return;
        };
        match result {
            Ok((classes, levels)) => {
                let columns = self.count.max(1);
                let textures = levels
                    .iter()
                    .enumerate()
                    .map(|(k, l)| {
                        let tex = |name: &str, b: &ImageBatch| {
                            textures::upload_grid(ctx, &format!("pyramid-{k}-{name}"), b, columns)
                        };
                        (
                            l.low.as_ref().map(|b| tex("low", b)),
                            l.residual
                                .as_ref()
                                .map(|b| tex("residual", &textures::heatmap(b))),
                            tex("image", &l.image),
                        )
                    })
                    .collect();
                self.seeds.resize(levels.len(), 0);
                self.drawn = Some(Drawn {
                    run,
                    classes,
                    levels,
                    textures,
                });
            }
            Err(e) => self.error = Some(e),
        }
    }

    fn export(&self, run: &Path) -> Result<PathBuf, String> {
        let levels = self.levels();
        let dir = run.join("pyramid");
        export::create_dir(&dir).map_err(|e| e.to_string())?;
        let seeds: Vec<String> = self.seeds.iter().map(u64::to_string).collect();
        let path = dir.join(format!(
            "strip-seeds{}-class{}.png",
            seeds.join("-"),
            self.class
        ));
        let strip = strip(levels);
        export::save_png(&strip.to_grid(self.count.max(1), 1), &path).map_err(|e| e.to_string())?;
        Ok(path)
    }

    /// Draws the panel; `run` is the run to draw from (the current or the opened one).
    pub fn ui(&mut self, ui: &mut egui::Ui, run: Option<&Path>, cx: &PanelContext) {
        self.poll(ui.ctx());
        ui.heading("Pyramid");
        let Some(run) = run else {
            ui.label("Train a LAPGAN or open a LAPGAN run in the Runs panel to see its pyramid.");
            return;
        };
        let busy = self.busy();
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!busy, egui::Button::new("Draw the pyramid"))
                .clicked()
            {
                self.draw(run, cx);
            }
            ui.add(
                egui::DragValue::new(&mut self.count)
                    .range(1..=16)
                    .prefix("samples "),
            );
            if let Some(classes) = self.drawn.as_ref().map(|d| d.classes).filter(|&c| c > 0) {
                let before = self.class;
                ui.add(
                    egui::DragValue::new(&mut self.class)
                        .range(0..=classes as u32 - 1)
                        .prefix("class "),
                );
                if self.class != before && !busy {
                    self.draw(run, cx);
                }
            }
            if ui
                .add_enabled(self.drawn.is_some(), egui::Button::new("Export strip"))
                .clicked()
            {
                match self.export(run) {
                    Ok(path) => self.notice = Some(format!("Wrote {}", path.display())),
                    Err(e) => self.error = Some(e),
                }
            }
            if busy {
                ui.spinner();
            }
        });
        ui.label(format!("From {}", run.display()));
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, format!("Could not draw: {e}"));
        }
        if let Some(n) = &self.notice {
            ui.label(n.as_str());
        }
        let Some(drawn) = &self.drawn else {
            return;
        };
        let mut reroll = None;
        // Three image columns beside the level column; every image at most 48 points wide.
        let per_image = ((ui.available_width() - 200.0) / 3.0 / self.count.max(1) as f32 - 2.0)
            .clamp(12.0, 48.0);
        egui::ScrollArea::both().show(ui, |ui| {
            egui::Grid::new("pyramid-levels")
                .num_columns(4)
                .spacing([16.0, 8.0])
                .show(ui, |ui| {
                    ui.strong("level");
                    ui.strong("low-pass l_k (from the coarser level)");
                    ui.strong("residual h_k (blue −, red +)");
                    ui.strong("image = l_k + h_k");
                    ui.end_row();
                    let n = drawn.levels.len();
                    for (k, (level, (low, residual, image))) in
                        drawn.levels.iter().zip(&drawn.textures).enumerate()
                    {
                        // Every level's strip shown equally wide (gaps included), so the
                        // levels line up.
                        let width = per_image * level.image.count.max(1) as f32;
                        let show = |ui: &mut egui::Ui, tex: &Option<TextureHandle>| match tex {
                            Some(t) => {
                                let size = t.size_vec2();
                                ui.image((t.id(), size * (width / size.x.max(1.0))));
                            }
                            None => {
                                ui.label("—");
                            }
                        };
                        ui.vertical(|ui| {
                            let name = if k == 0 {
                                "coarsest"
                            } else if k + 1 == n {
                                "finest"
                            } else {
                                ""
                            };
                            ui.add(
                                egui::Label::new(format!("{} × {} {name}", level.side, level.side))
                                    .wrap_mode(egui::TextWrapMode::Extend),
                            );
                            if ui
                                .add_enabled(
                                    !busy,
                                    egui::Button::new("Re-roll this level")
                                        .wrap_mode(egui::TextWrapMode::Extend),
                                )
                                .on_hover_text("New noise for this level only: coarser levels stay")
                                .clicked()
                            {
                                reroll = Some(k);
                            }
                        });
                        show(ui, low);
                        show(ui, residual);
                        show(ui, &Some(image.clone()));
                        ui.end_row();
                    }
                });
        });
        if let Some(k) = reroll {
            self.reroll(run, k, cx);
        }
    }
}
