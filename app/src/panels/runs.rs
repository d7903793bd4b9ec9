//! The Runs panel: every run folder under the runs root and the recent list; a run's config,
//! curves and checkpoints (resume, open in Canvas, delete with confirmation); a history slider
//! over its fixed-z grids so progress and collapse show; two runs side by side.

use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use easel_core::train::follow::ago;
use easel_core::train::{Metric, RunDir, RunFollower, StopReason, Sweep, WriterState};
use egui::TextureHandle;

use crate::commands::{PanelContext, StudioCommand};
use crate::textures;

/// How often an opened run's folder is read again.
const POLL: Duration = Duration::from_millis(500);

/// One run as shown: followed, so a run another process writes updates as it does.
struct RunView {
    dir: PathBuf,
    config_toml: String,
    follower: RunFollower,
    polled: Instant,
    history_index: usize,
    shown: Option<(PathBuf, TextureHandle)>,
    error: Option<String>,
    /// A stop was asked of the writer.
    stop_asked: bool,
}

impl RunView {
    fn load(dir: &Path) -> Self {
        let mut view = RunView {
            dir: dir.to_path_buf(),
            config_toml: String::new(),
            follower: RunFollower::new(dir),
            polled: Instant::now(),
            history_index: 0,
            shown: None,
            error: None,
            stop_asked: false,
        };
        match RunDir::new(dir).load_config() {
            Ok(config) => view.config_toml = config.to_toml(),
            Err(e) => view.error = Some(e.to_string()),
        }
        view.poll();
        view.history_index = view.grids().len().saturating_sub(1);
        view
    }

    /// Reads what the writer added; the history slider follows new grids when it stood at the
    /// newest.
    fn poll(&mut self) {
        let at_newest = self.history_index + 1 >= self.grids().len();
        self.polled = Instant::now();
        match self.follower.poll() {
            Ok(changes) => {
                if changes.grids && at_newest {
                    self.history_index = self.grids().len().saturating_sub(1);
                }
                if !self.follower.log.state.is_live() {
                    self.stop_asked = false;
                }
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    fn grids(&self) -> &[(u64, PathBuf)] {
        self.follower.grids()
    }

    fn texture(&mut self, ctx: &egui::Context, salt: &str) -> Option<&TextureHandle> {
        let index = self.history_index.min(self.grids().len().checked_sub(1)?);
        let path = self.grids()[index].1.clone();
        if self.shown.as_ref().map(|(p, _)| p) != Some(&path) {
            match image::open(&path) {
                Ok(img) => {
                    self.shown = Some((
                        path,
                        textures::upload(ctx, &format!("runs-{salt}"), &img.to_rgba8()),
                    ))
                }
                // A grid another process is still writing (copied in place by a sync tool)
                // shows at a later poll; the one shown stays meanwhile.
                Err(_) if self.follower.log.state.is_live() => {}
                Err(e) => self.error = Some(format!("{}: {e}", path.display())),
            }
        }
        self.shown.as_ref().map(|(_, t)| t)
    }
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

/// Sweep folders directly under `root`, then those among `recent` (opened elsewhere).
pub fn list_sweeps(root: &Path, recent: &[PathBuf]) -> Vec<PathBuf> {
    let mut sweeps: Vec<PathBuf> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| Sweep::is_sweep(p))
        .collect();
    sweeps.sort();
    for r in recent {
        if !sweeps.contains(r) && Sweep::is_sweep(r) {
            sweeps.push(r.clone());
        }
    }
    sweeps
}

/// How often the runs of a sweep shown in the list are read again.
const SWEEP_POLL: Duration = Duration::from_secs(2);

/// A sweep in the run list: its runs, each followed for its state.
struct SweepGroup {
    sweep: Result<Sweep, String>,
    followers: Vec<RunFollower>,
    polled: Option<Instant>,
}

impl SweepGroup {
    fn open(dir: &Path) -> Self {
        let sweep = Sweep::open(dir).map_err(|e| e.to_string());
        let followers = sweep
            .as_ref()
            .map(|s| s.run_dirs().into_iter().map(RunFollower::new).collect())
            .unwrap_or_default();
        Self {
            sweep,
            followers,
            polled: None,
        }
    }

    fn poll(&mut self) {
        if self.polled.is_some_and(|t| t.elapsed() < SWEEP_POLL) {
            return;
        }
        self.polled = Some(Instant::now());
        for f in &mut self.followers {
            let _ = f.poll();
        }
    }
}

/// A run's state in a few words, for the run list.
fn state_in_words(f: &RunFollower) -> String {
    let log = &f.log;
    let at = match log.target_step {
        Some(t) => format!("{}/{t}", log.step),
        None => log.step.to_string(),
    };
    match &log.state {
        WriterState::NotStarted => "not started".into(),
        WriterState::Training => format!("training, step {at}"),
        WriterState::Paused => format!("paused, step {at}"),
        WriterState::Finished(StopReason::Requested) => format!("stopped, step {at}"),
        WriterState::Finished(_) => format!("finished, step {at}"),
        WriterState::Failed(_) => format!("failed, step {at}"),
    }
}

/// Keeps an open sweep's states fresh without input.
fn ctx_repaint(ui: &egui::Ui, after: Duration) {
    ui.ctx().request_repaint_after(after);
}

/// The Runs panel.
#[derive(Default)]
pub struct RunsPanel {
    sweeps: std::collections::HashMap<PathBuf, SweepGroup>,
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
        self.left
            .as_ref()
            .map(|v| (v.history_index, v.grids().len()))
    }

    /// The error shown for the left run, if any.
    pub fn error(&self) -> Option<&str> {
        self.left.as_ref().and_then(|v| v.error.as_deref())
    }

    /// The left run's newest logged step, and whether its writer is under way.
    pub fn followed(&self) -> Option<(u64, bool)> {
        self.left
            .as_ref()
            .map(|v| (v.follower.log.step, v.follower.log.state.is_live()))
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
                } else if Sweep::is_sweep(&dir) {
                    self.notice = Some(format!(
                        "Opened the sweep {}: its runs are listed under it",
                        dir.display()
                    ));
                    action = Some(StudioCommand::Remember(dir));
                } else {
                    self.notice = Some(format!(
                        "{} is not an Easel run or sweep folder (no config.toml or sweep.toml)",
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
        let sweeps = list_sweeps(root, recent);
        self.sweeps.retain(|dir, _| sweeps.contains(dir));
        let opened = self.opened().map(Path::to_path_buf);
        let mut open: Option<(PathBuf, bool)> = None;
        let row =
            |ui: &mut egui::Ui, run: &Path, name: String, open: &mut Option<(PathBuf, bool)>| {
                ui.horizontal(|ui| {
                    let selected = opened.as_deref() == Some(run);
                    if ui.selectable_label(selected, name).clicked() {
                        *open = Some((run.to_path_buf(), false));
                    }
                    if ui
                        .small_button("compare")
                        .on_hover_text("Show beside the opened run")
                        .clicked()
                    {
                        *open = Some((run.to_path_buf(), true));
                    }
                });
            };
        egui::ScrollArea::vertical()
            .id_salt("run-list")
            .max_height(180.0)
            .show(ui, |ui| {
                if runs.is_empty() && sweeps.is_empty() {
                    ui.label("No runs yet: start one in the Train panel.");
                }
                for run in &runs {
                    let name = run.file_name().map_or_else(
                        || run.display().to_string(),
                        |n| n.to_string_lossy().into_owned(),
                    );
                    row(ui, run, name, &mut open);
                }
                for dir in &sweeps {
                    let group = self
                        .sweeps
                        .entry(dir.clone())
                        .or_insert_with(|| SweepGroup::open(dir));
                    let name = dir.file_name().map_or_else(
                        || dir.display().to_string(),
                        |n| n.to_string_lossy().into_owned(),
                    );
                    let title = match &group.sweep {
                        Ok(s) => format!("sweep {name} ({} runs)", s.spec.runs.len()),
                        Err(_) => format!("sweep {name} (unreadable)"),
                    };
                    egui::CollapsingHeader::new(title)
                        .id_salt(("sweep", dir))
                        .show(ui, |ui| {
                            group.poll();
                            match &group.sweep {
                                Ok(sweep) => {
                                    for (run, f) in sweep.spec.runs.iter().zip(&group.followers) {
                                        let label = format!("{} · {}", run.name, state_in_words(f));
                                        row(ui, &f.run().root, label, &mut open);
                                    }
                                }
                                Err(e) => {
                                    ui.colored_label(ui.visuals().error_fg_color, e);
                                }
                            }
                            ctx_repaint(ui, SWEEP_POLL);
                        });
                }
            });
        if let Some((run, side_by_side)) = open {
            self.open(&run, side_by_side);
            if !side_by_side {
                action = Some(StudioCommand::Remember(run));
            }
        }
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
        for view in [&mut self.left, &mut self.right].into_iter().flatten() {
            if view.polled.elapsed() >= POLL {
                view.poll();
            }
            // Read again while its writer is under way, even with no input.
            if view.follower.log.state.is_live() {
                ctx.request_repaint_after(POLL);
            }
        }
        let mut confirm = None;
        ui.columns(if self.right.is_some() { 2 } else { 1 }, |cols| {
            if let Some(view) = &mut self.left {
                run_ui(&mut cols[0], view, cx, "left", &mut action, &mut confirm);
            }
            if let Some(view) = &mut self.right {
                run_ui(&mut cols[1], view, cx, "right", &mut action, &mut confirm);
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

/// The writer's state in words, and the stop button while it trains elsewhere.
fn writer_ui(ui: &mut egui::Ui, view: &mut RunView, cx: &PanelContext) {
    let log = &view.follower.log;
    let at = match log.target_step {
        Some(t) => format!("step {} of {t}", log.step),
        None => format!("step {}", log.step),
    };
    let written = view
        .follower
        .last_write()
        .map_or_else(String::new, |t| format!(", last write {} ago", ago(t)));
    match &log.state {
        WriterState::NotStarted => {
            ui.label("Not started: no training session has written to this run yet.");
        }
        WriterState::Training | WriterState::Paused if cx.inference.trains(&view.dir) => {
            ui.label(format!("Training in this studio: {at}"));
        }
        state @ (WriterState::Training | WriterState::Paused) => {
            let paused = if *state == WriterState::Paused {
                " (paused)"
            } else {
                ""
            };
            let text = format!("Following: writer at {at}{paused}{written}");
            ui.horizontal(|ui| {
                ui.colored_label(ui.visuals().selection.bg_fill, text);
                let button = egui::Button::new(if view.stop_asked {
                    "Stop asked…"
                } else {
                    "Stop run"
                });
                if ui
                    .add_enabled(!view.stop_asked, button)
                    .on_hover_text(
                        "Ask the process training this run (here or elsewhere, sharing the \
                         folder) to save a checkpoint and stop",
                    )
                    .clicked()
                {
                    match RunDir::new(&view.dir).request_stop() {
                        Ok(()) => view.stop_asked = true,
                        Err(e) => view.error = Some(e.to_string()),
                    }
                }
            });
        }
        WriterState::Finished(StopReason::Requested) => {
            ui.label(format!("Stopped at step {}{written}", log.step));
        }
        WriterState::Finished(reason) => {
            ui.label(format!(
                "Finished at step {} ({reason:?}){written}",
                log.step
            ));
        }
        WriterState::Failed(message) => {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("Failed at step {}: {message}", log.step),
            );
        }
    }
}

fn run_ui(
    ui: &mut egui::Ui,
    view: &mut RunView,
    cx: &PanelContext,
    salt: &str,
    action: &mut Option<StudioCommand>,
    confirm: &mut Option<PathBuf>,
) {
    let ctx = ui.ctx().clone();
    ui.strong(view.dir.display().to_string());
    if let Some(e) = &view.error {
        ui.colored_label(ui.visuals().error_fg_color, e);
    }
    writer_ui(ui, view, cx);
    let has_checkpoint = !view.follower.checkpoints().is_empty();
    // A run another process trains is not resumed here as well.
    let elsewhere = view.follower.log.state.is_live() && !cx.inference.trains(&view.dir);
    ui.horizontal(|ui| {
        if ui
            .add_enabled(
                has_checkpoint && !elsewhere,
                egui::Button::new("Resume training"),
            )
            .on_disabled_hover_text("Another process is training this run")
            .clicked()
        {
            *action = Some(StudioCommand::Resume(view.dir.clone()));
        }
        if ui
            .add_enabled(has_checkpoint, egui::Button::new("Open in Canvas"))
            .clicked()
        {
            *action = Some(StudioCommand::OpenInCanvas(view.dir.clone(), None));
        }
    });
    if !view.grids().is_empty() {
        let last = view.grids().len() - 1;
        let count = view.grids().len();
        ui.add(
            egui::Slider::new(&mut view.history_index, 0..=last)
                .text("history")
                .custom_formatter(move |v, _| format!("{} of {count}", v as usize + 1)),
        );
        let step = view.grids()[view.history_index.min(last)].0;
        ui.label(format!("Fixed-z samples at step {step}"));
        if let Some(texture) = view.texture(&ctx, salt) {
            let size = texture.size_vec2();
            let scale = (ui.available_width().min(420.0) / size.x).clamp(0.5, 4.0);
            ui.add(egui::Image::new(texture).fit_to_exact_size(size * scale));
        }
    }
    let curves = &view.follower.log.curves;
    if curves.steps() > 0 {
        let lines = [
            ("D loss", Metric::DLoss),
            ("G loss", Metric::GLoss),
            ("mean D(G(z))", Metric::DFake),
        ];
        super::curves_plot(
            ui,
            &format!("run-curves-{salt}"),
            curves,
            &lines,
            140.0,
            false,
        );
    }
    egui::CollapsingHeader::new("Checkpoints")
        .id_salt(format!("ckpts-{salt}"))
        .default_open(true)
        .show(ui, |ui| {
            for (step, path) in view.follower.checkpoints() {
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
