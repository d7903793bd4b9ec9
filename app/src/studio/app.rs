//! The studio's top level: navigation, the panels, the training session, persistence, the status
//! bar with its frame-time readout, and the question asked when closing during training.

mod backend;
mod execute;
mod tour;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::Instant;

use easel_core::train::{Command, JobStart, RunConfig};
use serde::{Deserialize, Serialize};

use crate::commands::{Commands, PanelContext, StudioCommand};
use crate::inference::{Inference, ModelCache};
use crate::panels::PanelKind;
use crate::panels::arena::ArenaPanel;
use crate::panels::canvas::CanvasPanel;
use crate::panels::data::DataPanel;
use crate::panels::export::ExportPanel;
use crate::panels::model::ModelPanel;
use crate::panels::pyramid::PyramidPanel;
use crate::panels::runs::RunsPanel;
use crate::panels::text::TextPanel;
use crate::panels::train::{NextRun, TrainPanel};
use crate::picker::{FolderPicker, Wake};
use crate::worker::{Jobs, TrainSession};

/// Frames kept for the frame-time readout.
const FRAME_WINDOW: usize = 600;
/// Runs kept in the recent list.
const MAX_RECENT: usize = 12;

/// What survives a restart (eframe storage).
#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct Persisted {
    /// The panel shown.
    pub panel: PanelKind,
    /// Where new runs go.
    pub runs_root: PathBuf,
    /// Runs opened or trained lately, newest first.
    pub recent_runs: Vec<PathBuf>,
    /// The Data panel.
    pub data: DataPanel,
    /// The Model panel.
    pub model: ModelPanel,
    /// The Canvas panel.
    pub canvas: CanvasPanel,
    /// The Pyramid panel (LAPGAN).
    pub pyramid: PyramidPanel,
    /// The Text panel (StackGAN).
    pub text: TextPanel,
    /// The Export panel.
    pub export: ExportPanel,
    /// The Arena panel.
    pub arena: ArenaPanel,
    /// Show the frame-time readout in the status bar.
    pub frame_time_readout: bool,
}

impl Default for Persisted {
    fn default() -> Self {
        Self {
            panel: PanelKind::default(),
            runs_root: std::env::current_dir().unwrap_or_default().join("runs"),
            recent_runs: Vec::new(),
            data: DataPanel::default(),
            model: ModelPanel::default(),
            canvas: CanvasPanel::default(),
            pyramid: PyramidPanel::default(),
            text: TextPanel::default(),
            export: ExportPanel::default(),
            arena: ArenaPanel::default(),
            frame_time_readout: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    /// Not closing.
    No,
    /// Asking whether to save.
    Asking,
    /// Allowed: the next close request goes through.
    Allowed,
}

/// The studio application.
pub struct Studio {
    /// Persisted state.
    pub state: Persisted,
    train: TrainPanel,
    runs: RunsPanel,
    session: Option<TrainSession>,
    canvas_run: Option<PathBuf>,
    picker: Box<dyn FolderPicker>,
    /// The models loaded for inference, kept across frames.
    models: ModelCache,
    /// The one-shot background jobs the panels started.
    jobs: Jobs,
    /// Where panels queue their commands, and the end drained once per frame.
    commands: Commands,
    queued: Receiver<StudioCommand>,
    frame_seconds: VecDeque<f32>,
    all_frame_seconds: Vec<f32>,
    /// `--load-log`: this interval's frame times, and when it began.
    load_interval: (Vec<f32>, Instant),
    closing: Closing,
    automation: super::StudioArgs,
    opened_at: Instant,
    /// `--tour`: the stops entered and the stops photographed so far.
    tour_progress: (usize, usize),
    /// A start waiting for the user to agree to the CPU.
    backend_question: Option<backend::BackendQuestion>,
}

impl Studio {
    /// The studio, restored from eframe storage when there is any.
    pub fn new(cc: &eframe::CreationContext<'_>, picker: Box<dyn FolderPicker>) -> Self {
        let state = cc
            .storage
            .and_then(|s| eframe::get_value::<Persisted>(s, eframe::APP_KEY))
            .unwrap_or_default();
        let mut studio = Self::with_state(state, picker);
        studio.state.canvas.renderer = crate::heatmap::install(cc.wgpu_render_state.as_ref());
        studio
    }

    /// The studio with given state (tests).
    pub fn with_state(state: Persisted, picker: Box<dyn FolderPicker>) -> Self {
        let (commands, queued) = Commands::channel();
        Self {
            models: ModelCache::default(),
            jobs: Jobs::default(),
            commands,
            queued,
            state,
            train: TrainPanel::default(),
            runs: RunsPanel::default(),
            session: None,
            canvas_run: None,
            picker,
            frame_seconds: VecDeque::with_capacity(FRAME_WINDOW),
            all_frame_seconds: Vec::new(),
            load_interval: (Vec::new(), Instant::now()),
            closing: Closing::No,
            automation: super::StudioArgs::default(),
            opened_at: Instant::now(),
            tour_progress: (0, 0),
            backend_question: None,
        }
    }

    /// Chooses a preset in the Model panel, and its data in the Data panel.
    pub fn choose_preset(&mut self, name: &str) -> easel_core::Result<()> {
        let preset = easel_core::train::Preset::find(name)?;
        self.state.model.apply_preset(name);
        self.state.data.set_source(&preset.config.data);
        Ok(())
    }

    /// Sets the benchmark options (`--autostart`, `--quit-after-seconds`, `--frame-report`).
    pub fn set_automation(&mut self, args: super::StudioArgs) {
        self.automation = args;
        self.opened_at = Instant::now();
        self.load_interval = (Vec::new(), self.opened_at);
    }

    fn automate(&mut self, ctx: &egui::Context) {
        if let Some(dir) = self.automation.open.take() {
            self.runs.open(&dir, false);
            self.remember(dir);
            self.state.panel = PanelKind::Runs;
        }
        if let Some(run_dir) = self.automation.resume.take() {
            self.start(
                JobStart::Resume {
                    run_dir,
                    backend: None,
                },
                ctx,
            );
        }
        if self.automation.autostart && self.session.is_none() {
            match self.config() {
                Ok(config) => {
                    let dir = crate::panels::train::new_run_dir(
                        &self.state.runs_root,
                        &self.state.model.preset,
                    );
                    self.start(
                        JobStart::New {
                            run_dir: dir,
                            config: Box::new(config),
                        },
                        ctx,
                    );
                }
                Err(e) => eprintln!("--autostart: the configuration is invalid: {e}"),
            }
            self.automation.autostart = false;
        }
        self.tour(ctx);
        let Some(limit) = self.automation.quit_after_seconds else {
            return;
        };
        if self.opened_at.elapsed().as_secs_f64() < limit {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
            return;
        }
        self.automation.quit_after_seconds = None;
        if let Some(path) = self.automation.frame_report.take() {
            let mut v = self.all_frame_seconds.clone();
            v.sort_by(f32::total_cmp);
            let at = |q: f64| {
                v.get(((v.len().max(1) - 1) as f64 * q).round() as usize)
                    .map_or(0.0, |s| s * 1e3)
            };
            let step = self
                .session
                .as_ref()
                .and_then(|s| s.latest())
                .map_or(0, |l| l.step);
            let report = serde_json::json!({
                "frames": v.len(), "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": at(1.0),
                "training_steps": step, "seconds": limit,
            });
            if let Err(e) = std::fs::write(&path, report.to_string()) {
                eprintln!("could not write {}: {e}", path.display());
            }
        }
        if let Some(s) = &mut self.session {
            s.send(Command::Stop);
            s.wait();
        }
        self.closing = Closing::Allowed;
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    }

    /// `--load-log`: adds a frame's time and, once an interval has passed, appends its line.
    fn log_load(&mut self, frame_seconds: f32) {
        let Some(path) = &self.automation.load_log else {
            return;
        };
        let (frames, began) = &mut self.load_interval;
        frames.push(frame_seconds);
        if began.elapsed().as_secs_f64() < self.automation.load_log_every {
            return;
        }
        frames.sort_by(f32::total_cmp);
        let at = |q: f64| frames[((frames.len() - 1) as f64 * q).round() as usize] * 1e3;
        let session = self.session.as_ref();
        let line = serde_json::json!({
            "seconds": self.opened_at.elapsed().as_secs_f64().round(),
            "frames": frames.len(),
            "p50_ms": at(0.5),
            "p99_ms": at(0.99),
            "max_ms": at(1.0),
            "resident_mib": resident_mib(),
            "step": session.and_then(|s| s.latest()).map(|l| l.step),
            "curve_windows": session.map(|s| s.curves.windows()),
            "curve_steps": session.map(|s| s.curves.steps()),
        });
        frames.clear();
        *began = Instant::now();
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| {
                use std::io::Write;
                writeln!(f, "{line}")
            });
        if let Err(e) = written {
            eprintln!("could not append to {}: {e}", path.display());
            self.automation.load_log = None;
        }
    }

    /// Inference as it stands this frame: on the Model panel's backend (the CPU where that one
    /// cannot be used here), drawing the run in training from the networks its job last handed
    /// over.
    pub fn inference(&self) -> Inference {
        let live = self
            .session
            .as_ref()
            .filter(|s| s.is_live())
            .map(|s| (s.run_dir.clone(), s.live()));
        Inference::new(self.state.model.config.backend, live, self.models.clone())
    }

    /// The training session, if one was started.
    pub fn session(&self) -> Option<&TrainSession> {
        self.session.as_ref()
    }

    /// The Canvas panel.
    pub fn canvas(&self) -> &CanvasPanel {
        &self.state.canvas
    }

    /// The Pyramid panel.
    pub fn pyramid(&self) -> &PyramidPanel {
        &self.state.pyramid
    }

    /// The Text panel.
    pub fn text(&self) -> &TextPanel {
        &self.state.text
    }

    /// The Export panel.
    pub fn export(&self) -> &ExportPanel {
        &self.state.export
    }

    /// The Arena panel.
    pub fn arena(&self) -> &ArenaPanel {
        &self.state.arena
    }

    /// The runs the Export and Arena panels offer: the live one, then the recent ones (sweeps
    /// remembered in the recent list are offered whole by the Arena instead).
    fn known_runs(&self) -> Vec<PathBuf> {
        let mut runs: Vec<PathBuf> = self.session.iter().map(|s| s.run_dir.clone()).collect();
        for r in &self.state.recent_runs {
            if !runs.contains(r) && !easel_core::train::Sweep::is_sweep(r) {
                runs.push(r.clone());
            }
        }
        runs
    }

    /// The Runs panel.
    pub fn runs(&self) -> &RunsPanel {
        &self.runs
    }

    /// The config the Model and Data panels describe, or why it cannot be trained.
    pub fn config(&self) -> Result<RunConfig, String> {
        let mut config = self
            .state
            .model
            .build()
            .map_err(|(field, reason)| format!("{field}: {reason}"))?;
        config.data = self.state.data.source()?;
        Ok(config)
    }

    /// Frame-time percentiles (p50, p99) in milliseconds over the last frames.
    pub fn frame_time_ms(&self) -> Option<(f32, f32)> {
        if self.frame_seconds.is_empty() {
            return None;
        }
        let mut v: Vec<f32> = self.frame_seconds.iter().copied().collect();
        v.sort_by(f32::total_cmp);
        let at = |q: f32| v[((v.len() - 1) as f32 * q).round() as usize] * 1e3;
        Some((at(0.5), at(0.99)))
    }

    fn remember(&mut self, run: PathBuf) {
        self.state.recent_runs.retain(|r| r != &run);
        self.state.recent_runs.insert(0, run);
        self.state.recent_runs.truncate(MAX_RECENT);
    }

    fn start(&mut self, start: JobStart, ctx: &egui::Context) {
        let start = match Self::unusable_backend(start) {
            Ok(start) => start,
            Err(question) => {
                self.train.held_back = Some(question.describe());
                self.backend_question = Some(question);
                return;
            }
        };
        let run = match &start {
            JobStart::New { run_dir, .. } | JobStart::Resume { run_dir, .. } => run_dir.clone(),
        };
        let repaint = ctx.clone();
        match TrainSession::start(start, move || repaint.request_repaint()) {
            Ok(session) => {
                self.train.start_error = None;
                self.state.canvas.checkpoint = None; // draw from the live run's newest
                self.session = Some(session);
                self.canvas_run = Some(run.clone());
                self.remember(run);
                self.state.panel = PanelKind::Train;
            }
            Err(e) => {
                self.train.start_error = Some(format!("no training thread: {e}"));
                self.state.panel = PanelKind::Train;
            }
        }
    }

    fn nav_ui(&mut self, ui: &mut egui::Ui) {
        ui.add_space(6.0);
        ui.heading("Easel");
        ui.add_space(6.0);
        for kind in PanelKind::ALL {
            if ui
                .selectable_label(self.state.panel == kind, kind.label())
                .clicked()
            {
                self.state.panel = kind;
            }
        }
    }

    fn status_ui(&self, ui: &mut egui::Ui, inference: &Inference) {
        ui.horizontal(|ui| {
            match &self.session {
                Some(s) => {
                    let step = s.latest().map_or(0, |l| l.step);
                    ui.label(format!("{:?} · step {step}", s.status));
                }
                None => {
                    ui.label("No training running");
                }
            }
            ui.separator();
            ui.label(format!("backend {}", self.state.model.config.backend));
            if inference.fell_back.is_some() {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!("(unusable here: drawing on {})", inference.backend),
                );
            }
            let running = self.jobs.running();
            if !running.is_empty() {
                ui.separator();
                ui.spinner();
                ui.label(format!("working: {}", running.join(", ")))
                    .on_hover_text("Background jobs the panels started");
            }
            if self.state.frame_time_readout
                && let Some((p50, p99)) = self.frame_time_ms()
            {
                ui.separator();
                ui.label(format!("frame {p50:.1} ms (p99 {p99:.1} ms)"))
                    .on_hover_text("Time spent building each frame over the last 600 frames");
            }
        });
    }

    fn close_ui(&mut self, ctx: &egui::Context) {
        let live = self.session.as_ref().is_some_and(TrainSession::is_live);
        if ctx.input(|i| i.viewport().close_requested()) && live && self.closing != Closing::Allowed
        {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.closing = Closing::Asking;
        }
        if self.closing != Closing::Asking {
            return;
        }
        egui::Modal::new(egui::Id::unique("close-while-training")).show(ctx, |ui| {
            ui.heading("Training is running");
            ui.label("Save a checkpoint before closing? Without one, the steps since the last checkpoint are lost.");
            ui.horizontal(|ui| {
                if ui.button("Save and close").clicked() {
                    if let Some(s) = &mut self.session {
                        s.send(Command::Stop);
                        s.wait();
                    }
                    self.closing = Closing::Allowed;
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
                if ui.button("Close without saving").clicked() {
                    self.closing = Closing::Allowed;
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
                if ui.button("Cancel").clicked() {
                    self.closing = Closing::No;
                }
            });
        });
    }

    /// Draws one frame (also what tests drive).
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        let started = Instant::now();
        let ctx = ui.ctx().clone();
        if let Some(s) = &mut self.session {
            s.poll();
        }
        let repaint = ctx.clone();
        let wake: Wake = Arc::new(move || repaint.request_repaint());
        let inference = self.inference();
        let commands = self.commands.clone();
        egui::Panel::left("nav")
            .resizable(false)
            .exact_size(120.0)
            .show(ui, |ui| self.nav_ui(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui, &inference));
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical()
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    let cx = PanelContext {
                        inference: &inference,
                        commands: &commands,
                        picker: self.picker.as_ref(),
                        jobs: &self.jobs,
                        wake: wake.clone(),
                    };
                    let run = self.canvas_run.clone();
                    match self.state.panel {
                        PanelKind::Data => {
                            let shape = self.state.model.image_shape();
                            self.state.data.ui(ui, shape, &cx);
                        }
                        PanelKind::Model => self.state.model.ui(ui, &cx),
                        PanelKind::Train => {
                            let config = self.config();
                            let preset = self.state.model.preset.clone();
                            let root = self.state.runs_root.clone();
                            let next = NextRun {
                                config,
                                runs_root: &root,
                                preset: &preset,
                            };
                            let seed = &mut self.state.model.config.seed;
                            self.train.ui(ui, self.session.as_ref(), next, seed, &cx);
                        }
                        PanelKind::Canvas => self.state.canvas.ui(ui, run.as_deref(), &cx),
                        PanelKind::Pyramid => self.state.pyramid.ui(ui, run.as_deref(), &cx),
                        PanelKind::Text => self.state.text.ui(ui, run.as_deref(), &cx),
                        PanelKind::Runs => {
                            let root = self.state.runs_root.clone();
                            let recent = self.state.recent_runs.clone();
                            self.runs.ui(ui, &root, &recent, &cx);
                        }
                        PanelKind::Arena => {
                            let runs = self.known_runs();
                            let sweeps = crate::panels::runs::list_sweeps(
                                &self.state.runs_root,
                                &self.state.recent_runs,
                            );
                            self.state.arena.ui(ui, &runs, &sweeps, &cx);
                        }
                        PanelKind::Export => {
                            let runs = self.known_runs();
                            self.state.export.ui(ui, &runs, &cx);
                        }
                    }
                });
        });
        // What the panels asked for, carried out once, in order.
        while let Ok(command) = self.queued.try_recv() {
            self.execute(command, &ctx, &inference, &wake);
        }
        self.close_ui(&ctx);
        self.backend_question_ui(&ctx);
        let seconds = started.elapsed().as_secs_f32();
        if self.frame_seconds.len() == FRAME_WINDOW {
            self.frame_seconds.pop_front();
        }
        self.frame_seconds.push_back(seconds);
        if self.automation.frame_report.is_some() {
            self.all_frame_seconds.push(seconds);
        }
        self.log_load(seconds);
        self.automate(&ctx);
    }
}

impl eframe::App for Studio {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame_ui(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.state);
    }
}

/// This process's resident memory in MiB (Linux's `/proc/self/status`; `None` elsewhere).
fn resident_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}
