//! The Export panel: from a run and one of its checkpoints, draw `count` images with a seed and a
//! number of steps, and write a PNG grid, one PNG per sample and the GIF of the drawing — or a
//! bundle (config, checkpoint with its SHA-256, manifest, images) that `easel sample` and
//! `easel verify` can redraw. The drawing runs on a worker thread.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;

use easel_core::export::bundle::{self, ExportRequest};
use easel_core::model::gran::NoiseMode;
use easel_core::train::{RunDir, checkpoint};
use serde::{Deserialize, Serialize};

use crate::commands::{PanelContext, StudioCommand};
use crate::worker::Pending;

/// What an export wrote, in words, or why it failed.
type Outcome = Result<Done, String>;

/// A finished export.
#[derive(Debug, Clone)]
pub struct Done {
    /// The folder written.
    pub dir: PathBuf,
    /// Files written.
    pub files: usize,
    /// For a bundle: the checkpoint's SHA-256 and the command that redraws it.
    pub bundle: Option<(String, String)>,
}

/// Which noise the export draws with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum NoiseChoice {
    /// As the model was trained.
    #[default]
    AsTrained,
    /// One z per image.
    Once,
    /// A fresh z at every step.
    PerStep,
}

/// The Export panel.
#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct ExportPanel {
    /// Images to draw.
    pub count: usize,
    /// Seed of the noise.
    pub seed: u64,
    /// Drawing steps; 0 draws the T trained.
    pub steps: usize,
    /// Noise once or per step.
    pub noise: NoiseChoice,
    /// Write the grid PNG.
    pub grid: bool,
    /// Write one PNG per sample.
    pub each: bool,
    /// Write every C_t, ΔC_t and the GIF.
    pub frames: bool,
    /// The run exported from.
    pub run: Option<PathBuf>,
    #[serde(skip)]
    checkpoints: Vec<(u64, PathBuf)>,
    /// The checkpoint chosen (None: the newest intact one).
    #[serde(skip)]
    pub checkpoint: Option<PathBuf>,
    /// The output folder (empty: a new folder under the run's `exports/`).
    #[serde(skip)]
    pub out: String,
    #[serde(skip)]
    pending: Option<Pending<Outcome>>,
    #[serde(skip)]
    result: Option<Outcome>,
    #[serde(skip)]
    picking_run: Option<Receiver<Option<PathBuf>>>,
    #[serde(skip)]
    picking_out: Option<Receiver<Option<PathBuf>>>,
}

impl Default for ExportPanel {
    fn default() -> Self {
        let r = ExportRequest::default();
        Self {
            count: r.count,
            seed: r.seed,
            steps: 0,
            noise: NoiseChoice::AsTrained,
            grid: r.grid,
            each: r.each,
            frames: r.frames,
            run: None,
            checkpoints: Vec::new(),
            checkpoint: None,
            out: String::new(),
            pending: None,
            result: None,
            picking_run: None,
            picking_out: None,
        }
    }
}

/// A new, unused folder name under `run/exports/`.
fn default_out(run: &Path, bundle: bool) -> PathBuf {
    let stamp = chrono_like_stamp();
    let base = run.join("exports").join(format!(
        "{}-{stamp}",
        if bundle { "bundle" } else { "images" }
    ));
    let mut out = base.clone();
    let mut n = 1;
    while out.exists() {
        n += 1;
        out = PathBuf::from(format!("{}-{n}", base.display()));
    }
    out
}

/// Seconds since the epoch as a sortable name part (no clock crate needed).
fn chrono_like_stamp() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl ExportPanel {
    /// The outcome of the last export, if any.
    pub fn result(&self) -> Option<&Outcome> {
        self.result.as_ref()
    }

    /// Whether an export is running.
    pub fn is_busy(&self) -> bool {
        self.pending.is_some()
    }

    /// Chooses the run to export from (and lists its checkpoints).
    pub fn set_run(&mut self, run: &Path) {
        if self.run.as_deref() != Some(run) || self.checkpoints.is_empty() {
            self.checkpoints =
                checkpoint::list(&RunDir::new(run).checkpoints()).unwrap_or_default();
            self.checkpoint = None;
        }
        self.run = Some(run.to_path_buf());
    }

    fn request(&self) -> ExportRequest {
        ExportRequest {
            count: self.count,
            seed: self.seed,
            steps: (self.steps > 0).then_some(self.steps),
            noise: match self.noise {
                NoiseChoice::AsTrained => None,
                NoiseChoice::Once => Some(NoiseMode::Once),
                NoiseChoice::PerStep => Some(NoiseMode::PerStep),
            },
            grid: self.grid,
            each: self.each,
            frames: self.frames,
        }
    }

    fn start(&mut self, as_bundle: bool, cx: &PanelContext) {
        let Some(run) = self.run.clone() else { return };
        let out = if self.out.trim().is_empty() {
            default_out(&run, as_bundle)
        } else {
            PathBuf::from(self.out.trim())
        };
        let request = self.request();
        let checkpoint = self.checkpoint.clone();
        let inference = cx.inference.clone();
        self.result = None;
        self.pending = Some(cx.spawn("easel-export", move || -> Outcome {
            let work = || -> easel_core::Result<Done> {
                // A bundle holds a checkpoint file; images may come from the live model.
                let model = if as_bundle {
                    inference.load_checkpoint(&run, checkpoint.as_deref())?
                } else {
                    inference.load(&run, checkpoint.as_deref())?
                };
                if as_bundle {
                    let report = bundle::export_bundle(&model, &request, &out)?;
                    Ok(Done {
                        dir: out,
                        files: report.manifest.files.len(),
                        bundle: Some((
                            report.manifest.checkpoint_sha256,
                            report.manifest.regenerate,
                        )),
                    })
                } else {
                    let samples = request.draw(&model)?;
                    let written = bundle::write_samples(&samples, &request, &out)?;
                    Ok(Done {
                        dir: out,
                        files: written.len(),
                        bundle: None,
                    })
                }
            };
            work().map_err(|e| e.to_string())
        }));
    }

    fn poll(&mut self, picker_runs: &mut Vec<PathBuf>) {
        if let Some(p) = &self.pending
            && let Some(outcome) = p.poll_result()
        {
            self.pending = None;
            self.result = Some(outcome);
        }
        if let Some(rx) = &self.picking_run
            && let Ok(answer) = rx.try_recv()
        {
            self.picking_run = None;
            if let Some(dir) = answer {
                if RunDir::is_run(&dir) {
                    self.set_run(&dir);
                    picker_runs.push(dir);
                } else {
                    self.result = Some(Err(format!(
                        "{} is not an Easel run folder (no config.toml)",
                        dir.display()
                    )));
                }
            }
        }
        if let Some(rx) = &self.picking_out
            && let Ok(answer) = rx.try_recv()
        {
            self.picking_out = None;
            if let Some(dir) = answer {
                self.out = dir.display().to_string();
            }
        }
    }

    /// Draws the panel. `runs` are the runs to offer (the live one and the recent ones); a run
    /// the user opens with the dialog goes to the recent list.
    pub fn ui(&mut self, ui: &mut egui::Ui, runs: &[PathBuf], cx: &PanelContext) {
        let (picker, wake) = (cx.picker, cx.wake.clone());
        let mut opened = Vec::new();
        self.poll(&mut opened);
        if self.run.is_none()
            && let Some(first) = runs.first()
        {
            self.set_run(first);
        }
        if let Some(run) = self.run.clone()
            && self.checkpoints.is_empty()
        {
            self.set_run(&run);
        }
        ui.heading("Export");
        egui::Grid::new("export-fields")
            .num_columns(2)
            .spacing([12.0, 6.0])
            .show(ui, |ui| {
                let label = ui.label("Run");
                ui.horizontal(|ui| {
                    let shown = self
                        .run
                        .as_ref()
                        .map_or("none chosen".to_string(), |r| r.display().to_string());
                    let mut chosen = None;
                    egui::ComboBox::from_id_salt("export-run")
                        .selected_text(shown)
                        .width(360.0)
                        .show_ui(ui, |ui| {
                            for r in runs {
                                if ui
                                    .selectable_label(
                                        self.run.as_ref() == Some(r),
                                        r.display().to_string(),
                                    )
                                    .clicked()
                                {
                                    chosen = Some(r.clone());
                                }
                            }
                        })
                        .response
                        .labelled_by(label.id);
                    if let Some(r) = chosen {
                        self.set_run(&r);
                    }
                    if ui
                        .add_enabled(
                            self.picking_run.is_none(),
                            egui::Button::new("Choose run folder…"),
                        )
                        .clicked()
                    {
                        self.picking_run =
                            Some(picker.pick_folder("Export from which run?", wake.clone()));
                    }
                });
                ui.end_row();

                let label = ui.label("Checkpoint");
                let shown = match &self.checkpoint {
                    None => "newest intact".to_string(),
                    Some(p) => self
                        .checkpoints
                        .iter()
                        .find(|(_, c)| c == p)
                        .map_or_else(|| p.display().to_string(), |(s, _)| format!("step {s}")),
                };
                egui::ComboBox::from_id_salt("export-checkpoint")
                    .selected_text(shown)
                    .show_ui(ui, |ui| {
                        if ui
                            .selectable_label(self.checkpoint.is_none(), "newest intact")
                            .clicked()
                        {
                            self.checkpoint = None;
                        }
                        for (step, path) in self.checkpoints.iter().rev() {
                            if ui
                                .selectable_label(
                                    self.checkpoint.as_ref() == Some(path),
                                    format!("step {step}"),
                                )
                                .clicked()
                            {
                                self.checkpoint = Some(path.clone());
                            }
                        }
                    })
                    .response
                    .labelled_by(label.id);
                ui.end_row();

                let label = ui.label("Images");
                ui.add(egui::DragValue::new(&mut self.count).range(1..=100_000))
                    .labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Seed");
                ui.add(egui::DragValue::new(&mut self.seed))
                    .labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Drawing steps");
                ui.add(
                    egui::DragValue::new(&mut self.steps)
                        .range(0..=256)
                        .custom_formatter(|v, _| {
                            if v == 0.0 {
                                "as trained".into()
                            } else {
                                format!("{v}")
                            }
                        }),
                )
                .labelled_by(label.id)
                .on_hover_text("0 draws the T the model was trained with; more steps draw past it");
                ui.end_row();
                ui.label("Noise");
                ui.horizontal(|ui| {
                    ui.radio_value(&mut self.noise, NoiseChoice::AsTrained, "as trained");
                    ui.radio_value(&mut self.noise, NoiseChoice::Once, "z once");
                    ui.radio_value(&mut self.noise, NoiseChoice::PerStep, "z per step");
                });
                ui.end_row();
                ui.label("Files");
                ui.vertical(|ui| {
                    ui.checkbox(&mut self.grid, "grid PNG");
                    ui.checkbox(&mut self.each, "one PNG per sample");
                    ui.checkbox(
                        &mut self.frames,
                        "drawing: every C_t and ΔC_t, and a looping GIF",
                    );
                });
                ui.end_row();
                let label = ui.label("Output folder");
                ui.horizontal(|ui| {
                    ui.add(
                        egui::TextEdit::singleline(&mut self.out)
                            .desired_width(360.0)
                            .hint_text("a new folder under the run's exports/"),
                    )
                    .labelled_by(label.id);
                    if ui
                        .add_enabled(
                            self.picking_out.is_none(),
                            egui::Button::new("Choose output folder…"),
                        )
                        .clicked()
                    {
                        self.picking_out =
                            Some(picker.pick_folder("Export into which folder?", wake.clone()));
                    }
                });
                ui.end_row();
            });
        let invalid = match (&self.run, self.request().validate()) {
            (None, _) => Some("choose a run that has a checkpoint".to_string()),
            (Some(_), _) if self.checkpoints.is_empty() => {
                Some("this run has no checkpoint yet".to_string())
            }
            (_, Err(e)) => Some(e.to_string()),
            _ => None,
        };
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            let ready = invalid.is_none() && self.pending.is_none();
            if ui.add_enabled(ready, egui::Button::new("Export images")).clicked() {
                self.start(false, cx);
            }
            if ui
                .add_enabled(ready, egui::Button::new("Export bundle"))
                .on_hover_text("A folder with the config, the checkpoint and its SHA-256, the seed and the images: `easel verify <folder>` redraws them")
                .clicked()
            {
                self.start(true, cx);
            }
            if self.pending.is_some() {
                ui.spinner();
                ui.label("Drawing…");
            }
        });
        if let Some(reason) = &invalid {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("Export is disabled: {reason}"),
            );
        }
        match &self.result {
            Some(Ok(done)) => {
                ui.label(format!(
                    "Wrote {} files to {}",
                    done.files,
                    done.dir.display()
                ));
                if let Some((sha, command)) = &done.bundle {
                    ui.label(format!("Checkpoint SHA-256 {sha}"));
                    ui.label("Redraw with:");
                    ui.code(command);
                }
            }
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, format!("Export failed: {e}"));
            }
            None => {}
        }
        for dir in opened {
            cx.send(StudioCommand::Remember(dir));
        }
    }
}
