//! The Runs panel: every run folder under the runs root and the recent list; a run's config,
//! curves and checkpoints (resume, open in Canvas, delete with confirmation); a history slider
//! over its fixed-z grids so progress and collapse show; two runs side by side.

use std::path::{Path, PathBuf};

use easel_core::train::checkpoint;
use easel_core::train::{Curves, Metric, RunDir};
use egui::TextureHandle;

use crate::commands::{PanelContext, StudioCommand};
use crate::textures;

/// One run as loaded for display.
struct RunView {
    dir: PathBuf,
    config_toml: String,
    curves: Curves,
    checkpoints: Vec<(u64, PathBuf)>,
    grids: Vec<(u64, PathBuf)>,
    history_index: usize,
    shown: Option<(usize, TextureHandle)>,
    error: Option<String>,
}

impl RunView {
    fn load(dir: &Path) -> Self {
        let run = RunDir::new(dir);
        let mut view = RunView {
            dir: dir.to_path_buf(),
            config_toml: String::new(),
            curves: Curves::default(),
            checkpoints: Vec::new(),
            grids: Vec::new(),
            history_index: 0,
            shown: None,
            error: None,
        };
        let loaded = (|| -> easel_core::Result<()> {
            view.config_toml = run.load_config()?.to_toml();
            view.curves = run.read_curves()?;
            view.checkpoints = checkpoint::list(&run.checkpoints())?;
            view.grids = list_grids(&run.samples());
            view.history_index = view.grids.len().saturating_sub(1);
            Ok(())
        })();
        if let Err(e) = loaded {
            view.error = Some(e.to_string());
        }
        view
    }

    fn texture(&mut self, ctx: &egui::Context, salt: &str) -> Option<&TextureHandle> {
        let index = self.history_index.min(self.grids.len().checked_sub(1)?);
        if self.shown.as_ref().map(|(i, _)| *i) != Some(index) {
            let path = &self.grids[index].1;
            match image::open(path) {
                Ok(img) => {
                    self.shown = Some((
                        index,
                        textures::upload(ctx, &format!("runs-{salt}"), &img.to_rgba8()),
                    ))
                }
                Err(e) => {
                    self.error = Some(format!("{}: {e}", path.display()));
                    return None;
                }
            }
        }
        self.shown.as_ref().map(|(_, t)| t)
    }
}

fn list_grids(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut grids: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let step = name
                .strip_prefix("step-")?
                .strip_suffix(".png")?
                .parse()
                .ok()?;
            Some((step, e.path()))
        })
        .collect();
    grids.sort();
    grids
}

/// Run folders directly under `root`, newest name last.
pub fn list_runs(root: &Path) -> Vec<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| RunDir::is_run(p))
        .collect();
    runs.sort();
    runs
}

/// The Runs panel.
#[derive(Default)]
pub struct RunsPanel {
    left: Option<RunView>,
    right: Option<RunView>,
    confirm_delete: Option<PathBuf>,
    picking: Option<std::sync::mpsc::Receiver<Option<PathBuf>>>,
    notice: Option<String>,
}

impl RunsPanel {
    /// Opens `dir` on the left (or, with `side_by_side`, on the right).
    pub fn open(&mut self, dir: &Path, side_by_side: bool) {
        let view = RunView::load(dir);
        if side_by_side {
            self.right = Some(view);
        } else {
            self.left = Some(view);
        }
    }

    /// The run open on the left.
    pub fn opened(&self) -> Option<&Path> {
        self.left.as_ref().map(|v| v.dir.as_path())
    }

    /// The history position of the left run (index into its grids, grid count).
    pub fn history(&self) -> Option<(usize, usize)> {
        self.left.as_ref().map(|v| (v.history_index, v.grids.len()))
    }

    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut egui::Ui, root: &Path, recent: &[PathBuf], cx: &PanelContext) {
        let (picker, wake) = (cx.picker, cx.wake.clone());
        let mut action = None;
        if let Some(rx) = &self.picking
            && let Ok(answer) = rx.try_recv()
        {
            self.picking = None;
            if let Some(dir) = answer {
                if RunDir::is_run(&dir) {
                    self.open(&dir, false);
                    action = Some(StudioCommand::Remember(dir));
                } else {
                    self.notice = Some(format!(
                        "{} is not an Easel run folder (no config.toml)",
                        dir.display()
                    ));
                }
            }
        }
        ui.heading("Runs");
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    self.picking.is_none(),
                    egui::Button::new("Open run folder…"),
                )
                .clicked()
            {
                self.picking = Some(picker.pick_folder("Open an Easel run folder", wake.clone()));
            }
            ui.label(format!("Runs in {}", root.display()));
        });
        if let Some(n) = &self.notice {
            ui.colored_label(ui.visuals().warn_fg_color, n);
        }
        let mut runs = list_runs(root);
        for r in recent {
            if !runs.contains(r) && RunDir::is_run(r) {
                runs.push(r.clone());
            }
        }
        egui::ScrollArea::vertical()
            .id_salt("run-list")
            .max_height(140.0)
            .show(ui, |ui| {
                if runs.is_empty() {
                    ui.label("No runs yet: start one in the Train panel.");
                }
                for run in &runs {
                    ui.horizontal(|ui| {
                        let name = run.file_name().map_or_else(
                            || run.display().to_string(),
                            |n| n.to_string_lossy().into_owned(),
                        );
                        let selected = self.opened() == Some(run.as_path());
                        if ui.selectable_label(selected, &name).clicked() {
                            self.open(run, false);
                            action = Some(StudioCommand::Remember(run.clone()));
                        }
                        if ui
                            .small_button("compare")
                            .on_hover_text("Show beside the opened run")
                            .clicked()
                        {
                            self.open(run, true);
                        }
                    });
                }
            });
        ui.separator();
        if let Some(dir) = self.confirm_delete.clone() {
            egui::Modal::new(egui::Id::unique("confirm-delete")).show(ui.ctx(), |ui| {
                ui.label(format!("Delete checkpoint {}?", dir.display()));
                ui.label("This cannot be undone.");
                ui.horizontal(|ui| {
                    if ui.button("Delete").clicked() {
                        self.notice = Some(match std::fs::remove_file(&dir) {
                            Ok(()) => format!("Deleted {}", dir.display()),
                            Err(e) => format!("Could not delete {}: {e}", dir.display()),
                        });
                        self.confirm_delete = None;
                        if let Some(left) = &self.left {
                            let d = left.dir.clone();
                            self.open(&d, false);
                        }
                    }
                    if ui.button("Cancel").clicked() {
                        self.confirm_delete = None;
                    }
                });
            });
        }
        let ctx = ui.ctx().clone();
        let mut confirm = None;
        ui.columns(if self.right.is_some() { 2 } else { 1 }, |cols| {
            if let Some(view) = &mut self.left {
                run_ui(&mut cols[0], view, &ctx, "left", &mut action, &mut confirm);
            }
            if let Some(view) = &mut self.right {
                run_ui(&mut cols[1], view, &ctx, "right", &mut action, &mut confirm);
            }
        });
        if confirm.is_some() {
            self.confirm_delete = confirm;
        }
        if let Some(command) = action {
            cx.send(command);
        }
    }
}

fn run_ui(
    ui: &mut egui::Ui,
    view: &mut RunView,
    ctx: &egui::Context,
    salt: &str,
    action: &mut Option<StudioCommand>,
    confirm: &mut Option<PathBuf>,
) {
    ui.strong(view.dir.display().to_string());
    if let Some(e) = &view.error {
        ui.colored_label(ui.visuals().error_fg_color, e);
    }
    ui.horizontal(|ui| {
        if ui
            .add_enabled(
                !view.checkpoints.is_empty(),
                egui::Button::new("Resume training"),
            )
            .clicked()
        {
            *action = Some(StudioCommand::Resume(view.dir.clone()));
        }
        if ui
            .add_enabled(
                !view.checkpoints.is_empty(),
                egui::Button::new("Open in Canvas"),
            )
            .clicked()
        {
            *action = Some(StudioCommand::OpenInCanvas(view.dir.clone(), None));
        }
    });
    if !view.grids.is_empty() {
        let last = view.grids.len() - 1;
        let count = view.grids.len();
        ui.add(
            egui::Slider::new(&mut view.history_index, 0..=last)
                .text("history")
                .custom_formatter(move |v, _| format!("{} of {count}", v as usize + 1)),
        );
        let step = view.grids[view.history_index.min(last)].0;
        ui.label(format!("Fixed-z samples at step {step}"));
        if let Some(texture) = view.texture(ctx, salt) {
            let size = texture.size_vec2();
            let scale = (ui.available_width().min(420.0) / size.x).clamp(0.5, 4.0);
            ui.add(egui::Image::new(texture).fit_to_exact_size(size * scale));
        }
    }
    if view.curves.steps() > 0 {
        let lines = [
            ("D loss", Metric::DLoss),
            ("G loss", Metric::GLoss),
            ("mean D(G(z))", Metric::DFake),
        ];
        super::curves_plot(
            ui,
            &format!("run-curves-{salt}"),
            &view.curves,
            &lines,
            140.0,
            false,
        );
    }
    egui::CollapsingHeader::new("Checkpoints")
        .id_salt(format!("ckpts-{salt}"))
        .default_open(true)
        .show(ui, |ui| {
            for (step, path) in &view.checkpoints {
                ui.horizontal(|ui| {
                    ui.label(format!("step {step}"));
                    if ui
                        .small_button("view")
                        .on_hover_text("Draw from this checkpoint in the Canvas panel")
                        .clicked()
                    {
                        *action = Some(StudioCommand::OpenInCanvas(
                            view.dir.clone(),
                            Some(path.clone()),
                        ));
                    }
                    if ui.small_button("delete…").clicked() {
                        *confirm = Some(path.clone());
                    }
                });
            }
        });
    egui::CollapsingHeader::new("Config")
        .id_salt(format!("config-{salt}"))
        .show(ui, |ui| {
            ui.monospace(&view.config_toml);
        });
}
