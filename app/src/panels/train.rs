//! The Train panel: start, pause, resume, stop, single D and G steps and save now; live curves of
//! the losses and of D's outputs; the fixed-z sample grid; progress with images/s and ETA; and
//! the divergence alarm.

use std::path::{Path, PathBuf};

use easel_core::train::{Command, Metric, RunConfig};
use egui::TextureHandle;

use crate::commands::{PanelContext, StudioCommand};
use crate::textures;
use crate::worker::{SessionStatus, TrainSession};

/// The Train panel's own state (the session itself belongs to the studio).
#[derive(Default)]
pub struct TrainPanel {
    samples: Option<(u64, TextureHandle)>,
    /// Why the last Start failed, if it did.
    pub start_error: Option<String>,
    /// A start held back by a question (the backend): what it will do once answered.
    pub held_back: Option<String>,
}

/// A folder name for a new run: `<preset>-<UTC date>-<time>`.
pub fn new_run_dir(root: &Path, preset: &str) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let base = format!(
        "{preset}-{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    let mut dir = root.join(&base);
    let mut n = 2;
    while dir.exists() {
        dir = root.join(format!("{base}-{n}"));
        n += 1;
    }
    dir
}

fn format_seconds(s: f64) -> String {
    let s = s.max(0.0) as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// The run Start would begin: the Model and Data panels' config (or why it is invalid), where
/// its folder goes and the preset that names it.
pub struct NextRun<'a> {
    /// The config, or why it is invalid.
    pub config: Result<RunConfig, String>,
    /// The runs root.
    pub runs_root: &'a Path,
    /// The preset the config started from.
    pub preset: &'a str,
}

impl TrainPanel {
    /// Draws the panel: `session` is the training job, `next` the run Start would begin, `seed`
    /// the Model panel's seed.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        session: Option<&TrainSession>,
        next: NextRun,
        seed: &mut u64,
        cx: &PanelContext,
    ) {
        let NextRun {
            config,
            runs_root,
            preset,
        } = next;
        ui.heading("Train");
        let live = session.is_some_and(TrainSession::is_live);
        let status = session.map(|s| s.status.clone());
        let running = status == Some(SessionStatus::Running);
        let paused = status == Some(SessionStatus::Paused);
        ui.horizontal(|ui| {
            let can_start = !live && config.is_ok();
            let start = ui.add_enabled(can_start, egui::Button::new("Start"));
            if start.clicked()
                && let Ok(c) = &config
            {
                cx.send(StudioCommand::Start(
                    new_run_dir(runs_root, preset),
                    Box::new(c.clone()),
                ));
            }
            let send = |c: Command| cx.send(StudioCommand::Job(c));
            if ui
                .add_enabled(running, egui::Button::new("Pause"))
                .clicked()
            {
                send(Command::Pause);
            }
            if ui
                .add_enabled(paused, egui::Button::new("Resume"))
                .clicked()
            {
                send(Command::Resume);
            }
            if ui
                .add_enabled(live, egui::Button::new("Stop"))
                .on_hover_text("Saves a checkpoint, then stops")
                .clicked()
            {
                send(Command::Stop);
            }
            if ui
                .add_enabled(paused, egui::Button::new("Step D"))
                .on_hover_text("One discriminator update")
                .clicked()
            {
                send(Command::StepD);
            }
            if ui
                .add_enabled(paused, egui::Button::new("Step G"))
                .on_hover_text("One generator update")
                .clicked()
            {
                send(Command::StepG);
            }
            if ui
                .add_enabled(live, egui::Button::new("Save now"))
                .clicked()
            {
                send(Command::SaveNow);
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("Seed");
            ui.add_enabled(!live, egui::DragValue::new(seed))
                .labelled_by(label.id)
                .on_hover_text(
                    "Seeds the weights, the data order and the noise: the same seed gives the same run on the CPU",
                );
        });
        if let Some(e) = &self.start_error {
            ui.colored_label(ui.visuals().error_fg_color, format!("Could not start: {e}"));
        }
        if let Err(reason) = &config
            && !live
        {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("Start is disabled: {reason}"),
            );
        }
        if let Some(held) = &self.held_back {
            ui.label(held);
        } else if let Ok(c) = &config
            && !live
        {
            let (size, channels) = c.model.image_shape();
            ui.label(format!(
                "Start trains {} ({}×{} {}) on {}, batch {}, into a new folder under {}",
                c.model.label(),
                size,
                size,
                if channels == 1 { "grey" } else { "RGB" },
                c.data.describe(),
                c.train.batch_size,
                runs_root.display()
            ));
        }
        let Some(session) = session else {
            return;
        };
        self.status_ui(ui, session, cx);
        if (session.samples_changed
            || self.samples.as_ref().map(|(s, _)| *s) != session.samples.as_ref().map(|(s, _)| *s))
            && let Some((step, images)) = &session.samples
        {
            let texture =
                textures::upload_grid(ui.ctx(), "train-samples", images, images.square_columns());
            self.samples = Some((*step, texture));
        }
        ui.columns(2, |cols| {
            curves_ui(&mut cols[0], session);
            if let Some((step, texture)) = &self.samples {
                cols[1].label(format!("Fixed-z samples at step {step}"));
                let size = texture.size_vec2();
                let scale = (cols[1].available_width() / size.x).clamp(0.5, 6.0);
                cols[1].add(egui::Image::new(texture).fit_to_exact_size(size * scale));
                if let Some(&(_, diversity)) = session.diversity.last() {
                    let mut line = format!("Diversity {diversity:.2} of real images'");
                    if let Some((covered, classes)) = session.coverage {
                        line += &format!(" · covers {covered} of {classes} classes");
                    }
                    cols[1].label(line).on_hover_text(
                        "Mean distance between the grid's images divided by that between as \
                         many training images; the class count comes from the dataset's cached \
                         classifier (made by Score or `easel score`).",
                    );
                }
            }
        });
    }

    fn status_ui(&self, ui: &mut egui::Ui, session: &TrainSession, cx: &PanelContext) {
        let step = session.latest().map_or(0, |s| s.step);
        let text = match &session.status {
            SessionStatus::Starting => "Loading data and building the model…".to_string(),
            SessionStatus::Running => "Training".into(),
            SessionStatus::Paused => "Paused".into(),
            SessionStatus::Finished(reason) => format!("Finished ({reason:?})"),
            SessionStatus::Failed(e) => format!("Stopped by an error: {e}"),
        };
        if let SessionStatus::Failed(_) = session.status {
            ui.colored_label(ui.visuals().error_fg_color, text);
        } else {
            ui.label(format!("{text} · run folder {}", session.run_dir.display()));
        }
        if let (SessionStatus::Starting, Some((what, fraction))) =
            (&session.status, &session.preparing)
        {
            ui.horizontal(|ui| {
                ui.spinner();
                match fraction {
                    Some(f) => {
                        ui.add(
                            egui::ProgressBar::new(*f)
                                .desired_width(240.0)
                                .text(format!("{what}: {:.0}%", 100.0 * f)),
                        );
                    }
                    None => {
                        ui.label(format!("{what}…"));
                    }
                }
            });
        }
        if let Some(d) = &session.divergence {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!(
                    "Paused: training diverged at step {}: {} is {}. Nothing from that step was \
                     kept.",
                    d.step, d.what, d.value
                ),
            );
            ui.horizontal(|ui| match d.last_good {
                Some(good) => {
                    if ui
                        .button(format!(
                            "Roll back to step {good} with half the learning rates"
                        ))
                        .on_hover_text(
                            "Reloads the newest intact checkpoint (weights, optimizers, data \
                             order, noise), halves both learning rates in the run's config.toml \
                             and continues",
                        )
                        .clicked()
                    {
                        cx.send(StudioCommand::Job(Command::RollBack { lr_scale: 0.5 }));
                        cx.send(StudioCommand::Job(Command::Resume));
                    }
                }
                None => {
                    ui.label("There is no checkpoint to roll back to: start again with a lower learning rate.");
                }
            });
        }
        if let Some(note) = &session.rolled_back {
            ui.label(note);
        }
        for alarm in session.alarm.iter().chain(&session.collapse_alarm) {
            ui.colored_label(ui.visuals().warn_fg_color, alarm);
        }
        for w in &session.warnings {
            ui.colored_label(ui.visuals().warn_fg_color, w);
        }
        if let Some(s) = session.latest() {
            let (fraction, eta) = match session.target_step {
                Some(t) if t > 0 => {
                    let left = t.saturating_sub(step) as f64;
                    let per_step = s.elapsed_seconds / s.step.max(1) as f64;
                    (
                        step as f32 / t as f32,
                        format!(" · ETA {}", format_seconds(left * per_step)),
                    )
                }
                _ => (s.epoch_progress as f32, String::new()),
            };
            let label = format!(
                "Step {step}{} · epoch {} ({:.0}%) · {:.0} images/s{eta}",
                session
                    .target_step
                    .map(|t| format!(" / {t}"))
                    .unwrap_or_default(),
                s.epoch,
                s.epoch_progress * 100.0,
                s.images_per_second
            );
            ui.add(egui::ProgressBar::new(fraction.clamp(0.0, 1.0)).text(label));
        }
    }
}

fn curves_ui(ui: &mut egui::Ui, session: &TrainSession) {
    ui.label("Losses");
    let losses = [("D loss", Metric::DLoss), ("G loss", Metric::GLoss)];
    super::curves_plot(ui, "losses", &session.curves, &losses, 160.0, false);
    ui.label("Discriminator outputs");
    let outputs = [
        ("mean D(x)", Metric::DReal),
        ("mean D(G(z))", Metric::DFake),
    ];
    super::curves_plot(ui, "d-outputs", &session.curves, &outputs, 160.0, true);
}
