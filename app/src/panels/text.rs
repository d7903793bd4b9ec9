//! The Text panel (StackGAN): type a sentence and see a grid of images, one row per stage or
//! scale with the colour gap between adjacent scales; walk between two sentences with z fixed
//! (μ or a sampled ĉ, with σ read out) — or between two seeds for a model without text — as
//! strips with a slider; export the strips as PNG and the walk as a GIF.

use std::path::{Path, PathBuf};

use easel_core::data::DataSource;
use easel_core::export;
use easel_core::images::{ImageBatch, colour_gap};
use easel_core::interpolate::{self, Walk};
use easel_core::sample::LoadedModel;
use easel_core::train::{ModelConfig, RunDir};
use egui::TextureHandle;
use serde::{Deserialize, Serialize};

use crate::commands::PanelContext;
use crate::inference::Inference;
use crate::textures;
use crate::worker::Pending;

/// What a prompt job returns: the encoder's name (none without text), every stage's side, every
/// stage's images (at the finest side) and the prompt's words the encoder has never seen.
type Prompted = easel_core::Result<(Option<String>, Vec<usize>, Vec<ImageBatch>, Vec<String>)>;
/// What a walk job returns.
type Walked = easel_core::Result<Walk>;
/// A run's own first sentence and one to walk to ([`own_sentences`]).
type Adopted = easel_core::Result<Option<(String, String)>>;

struct DrawnPrompt {
    encoder: Option<String>,
    /// Words of the prompt the encoder has never seen.
    unknown: Vec<String>,
    sides: Vec<usize>,
    stages: Vec<ImageBatch>,
    /// Colour gap (‖Δμ‖², ‖ΔΣ‖²_F) of each stage to the one before it.
    gaps: Vec<Option<(f64, f64)>>,
    textures: Vec<TextureHandle>,
}

struct DrawnWalk {
    walk: Walk,
    strips: Vec<TextureHandle>,
    points: Vec<TextureHandle>,
}

/// The Text panel.
#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct TextPanel {
    /// The sentence drawn.
    pub prompt: String,
    /// Images per prompt.
    pub count: usize,
    /// Seed of z (and of Conditioning Augmentation's ε).
    pub seed: u64,
    /// The walk's first sentence.
    pub from: String,
    /// The walk's last sentence.
    pub to: String,
    /// Points on a walk.
    pub walk_steps: usize,
    /// Keep Conditioning Augmentation's noise on the walk (else the generator reads μ).
    pub sampled_c: bool,
    /// For a model without text: the seeds at the walk's ends.
    pub seeds: (u64, u64),
    /// The walk's point shown large.
    pub point: usize,
    #[serde(skip)]
    drawn: Option<DrawnPrompt>,
    #[serde(skip)]
    walked: Option<DrawnWalk>,
    #[serde(skip)]
    pending_prompt: Option<Pending<Prompted>>,
    #[serde(skip)]
    pending_walk: Option<Pending<Walked>>,
    #[serde(skip)]
    pending_adopt: Option<Pending<Adopted>>,
    #[serde(skip)]
    error: Option<String>,
    #[serde(skip)]
    notice: Option<String>,
    /// The run the sentences were last fitted to.
    #[serde(skip)]
    adopted: Option<PathBuf>,
}

/// The sentences a new Text panel starts with (the built-in shapes' captions).
const SHAPES_DEFAULTS: [&str; 3] = [
    "a large red circle on a white background",
    "a small red circle on a blue background",
    "a large yellow square on a black background",
];

impl Default for TextPanel {
    fn default() -> Self {
        Self {
            prompt: SHAPES_DEFAULTS[0].into(),
            count: 8,
            seed: 0,
            from: SHAPES_DEFAULTS[1].into(),
            to: SHAPES_DEFAULTS[2].into(),
            walk_steps: 8,
            sampled_c: false,
            seeds: (1, 2),
            point: 0,
            drawn: None,
            walked: None,
            pending_prompt: None,
            pending_walk: None,
            pending_adopt: None,
            error: None,
            notice: None,
            adopted: None,
        }
    }
}

fn load_stackgan(
    run: &Path,
    inference: &Inference,
) -> easel_core::Result<(LoadedModel, Vec<usize>)> {
    let model = inference.load(run, None)?;
    let ModelConfig::StackGan(config) = &model.config.model else {
        return Err(easel_core::Error::config(
            "run",
            format!(
                "{} is {}: the Text panel draws StackGAN runs",
                run.display(),
                model.config.model.label()
            ),
        ));
    };
    let sides = config.sides();
    // A copy of the kept model (sharing its weights), which this drawing's sentences may change.
    Ok((LoadedModel::clone(&model), sides))
}

/// A text run's own first held-out caption and one of another class (or another sentence), when
/// the run reads captions other than the built-in shapes'.
fn own_sentences(run: &Path) -> Option<(String, String)> {
    let config = RunDir::new(run).load_config().ok()?;
    if matches!(config.data, DataSource::Shapes { .. }) {
        return None;
    }
    let (captions, labels) = config.data.held_out_captions(200).ok()?;
    if captions.is_empty() {
        return None;
    }
    let other = (1..captions.len())
        .find(|&i| match &labels {
            Some(l) => l[i] != l[0],
            None => captions.first(i) != captions.first(0),
        })
        .unwrap_or(0);
    Some((
        captions.first(0).to_string(),
        captions.first(other).to_string(),
    ))
}

impl TextPanel {
    /// Every stage's images of the last prompt drawn, coarse to fine (at the finest side).
    pub fn stages(&self) -> &[ImageBatch] {
        self.drawn.as_ref().map_or(&[], |d| &d.stages)
    }

    /// The last walk.
    pub fn walk(&self) -> Option<&Walk> {
        self.walked.as_ref().map(|w| &w.walk)
    }

    /// Whether a drawing or walk is being made.
    pub fn busy(&self) -> bool {
        self.pending_prompt.is_some() || self.pending_walk.is_some()
    }

    /// Whether the three sentences are still the shapes defaults a new panel starts with.
    fn untouched(&self) -> bool {
        [&self.prompt, &self.from, &self.to]
            .iter()
            .zip(SHAPES_DEFAULTS)
            .all(|(s, d)| s.as_str() == d)
    }

    /// On a run first seen with the sentences untouched, looks up (on a worker thread: a
    /// folder's captions take a walk over the folder) the run's own held-out sentences.
    fn adopt(&mut self, run: &Path, cx: &PanelContext) {
        if self.adopted.as_deref() == Some(run) {
            return;
        }
        self.adopted = Some(run.to_path_buf());
        if self.untouched() {
            let dir = run.to_path_buf();
            self.pending_adopt =
                Some(cx.spawn("easel-text-adopt", move || Ok(own_sentences(&dir))));
        }
    }

    /// Draws the prompt (a model without text draws from z alone).
    pub fn draw(&mut self, run: &Path, cx: &PanelContext) {
        self.adopt(run, cx);
        let inference = cx.inference.clone();
        let own = self.pending_adopt.is_some() && self.untouched();
        let (dir, prompt, count, seed) = (
            run.to_path_buf(),
            self.prompt.clone(),
            self.count,
            self.seed,
        );
        self.pending_prompt = Some(cx.spawn("easel-text", move || {
            // Asked before the run's own sentences arrived: look them up here too.
            let prompt = match own.then(|| own_sentences(&dir)).flatten() {
                Some((first, _)) => first,
                None => prompt,
            };
            let (mut model, sides) = load_stackgan(&dir, &inference)?;
            let encoder = model.encoder().map(|e| e.name().to_string());
            let unknown = model
                .encoder()
                .map(|e| e.unknown_words(&prompt))
                .unwrap_or_default();
            if model.reads_text() {
                model.set_prompts(&[prompt])?;
            }
            let drawn = model.sample(count, None, seed, true)?;
            Ok((encoder, sides, drawn.canvases, unknown))
        }));
        self.error = None;
        self.notice = None;
    }

    /// Walks between the two sentences (or seeds).
    pub fn walk_between(&mut self, run: &Path, cx: &PanelContext) {
        self.adopt(run, cx);
        let inference = cx.inference.clone();
        let own = self.pending_adopt.is_some() && self.untouched();
        let dir = run.to_path_buf();
        let (from, to, steps, seed, sampled, seeds) = (
            self.from.clone(),
            self.to.clone(),
            self.walk_steps,
            self.seed,
            self.sampled_c,
            self.seeds,
        );
        self.pending_walk = Some(cx.spawn("easel-walk", move || {
            let (from, to) = own
                .then(|| own_sentences(&dir))
                .flatten()
                .unwrap_or((from, to));
            let (model, _) = load_stackgan(&dir, &inference)?;
            if model.reads_text() {
                interpolate::between_texts(&model, &from, &to, steps, seed, sampled)
            } else {
                interpolate::between_seeds(&model, seeds.0, seeds.1, steps)
            }
        }));
        self.error = None;
        self.notice = None;
    }

    fn poll(&mut self, ctx: &egui::Context) {
        if let Some(result) = self.pending_adopt.as_ref().and_then(Pending::poll_result) {
            self.pending_adopt = None;
            if let (Ok(Some((first, other))), true) = (result, self.untouched()) {
                self.prompt = first.clone();
                self.from = first;
                self.to = other;
            }
        }
        if let Some(result) = self.pending_prompt.as_ref().and_then(Pending::poll_result) {
            self.pending_prompt = None;
            match result {
                Ok((encoder, sides, stages, unknown)) => {
                    let columns = self.count.max(1);
                    let textures = stages
                        .iter()
                        .enumerate()
                        .map(|(k, b)| textures::upload_grid(ctx, &format!("text-{k}"), b, columns))
                        .collect();
                    let gaps = (0..stages.len())
                        .map(|k| (k > 0).then(|| colour_gap(&stages[k], &stages[k - 1])))
                        .collect();
                    self.drawn = Some(DrawnPrompt {
                        encoder,
                        unknown,
                        sides,
                        stages,
                        gaps,
                        textures,
                    });
                }
                Err(e) => self.error = Some(e),
            }
        }
        if let Some(result) = self.pending_walk.as_ref().and_then(Pending::poll_result) {
            self.pending_walk = None;
            match result {
                Ok(walk) => {
                    let n = walk.images().count.max(1);
                    let strips = walk
                        .stages
                        .iter()
                        .enumerate()
                        .map(|(k, b)| textures::upload_grid(ctx, &format!("walk-{k}"), b, n))
                        .collect();
                    let points = (0..walk.images().count)
                        .map(|i| {
                            textures::upload(
                                ctx,
                                &format!("walk-point-{i}"),
                                &walk.images().to_rgba(i),
                            )
                        })
                        .collect();
                    self.point = self.point.min(n - 1);
                    self.walked = Some(DrawnWalk {
                        walk,
                        strips,
                        points,
                    });
                }
                Err(e) => self.error = Some(e),
            }
        }
    }

    /// Writes the walk's strips (one PNG per stage) and its GIF into `run/text/`.
    pub fn export_walk(&self, run: &Path) -> Result<PathBuf, String> {
        let walk = self.walk().ok_or("no walk to export")?;
        let dir = run.join("text");
        export::create_dir(&dir).map_err(|e| e.to_string())?;
        let n = walk.images().count;
        let stem = format!(
            "walk-seed{}-{}",
            self.seed,
            if self.sampled_c { "c" } else { "mu" }
        );
        for (k, stage) in walk.stages.iter().enumerate() {
            export::save_grid(stage, n, &dir.join(format!("{stem}-stage{}.png", k + 1)))
                .map_err(|e| e.to_string())?;
        }
        let frames: Vec<_> = (0..n).map(|i| walk.images().to_rgba(i)).collect();
        let gif = dir.join(format!("{stem}.gif"));
        export::save_gif(&frames, 150, &gif).map_err(|e| e.to_string())?;
        Ok(gif)
    }

    /// Draws the panel; `run` is the run to draw from (the current or the opened one).
    pub fn ui(&mut self, ui: &mut egui::Ui, run: Option<&Path>, cx: &PanelContext) {
        self.poll(ui.ctx());
        ui.heading("Text");
        let Some(run) = run else {
            ui.label(
                "Train a StackGAN or open a StackGAN run in the Runs panel to draw from text.",
            );
            return;
        };
        egui::ScrollArea::vertical().show(ui, |ui| self.body(ui, run, cx));
    }

    fn body(&mut self, ui: &mut egui::Ui, run: &Path, cx: &PanelContext) {
        self.adopt(run, cx);
        let busy = self.busy();
        ui.label(format!("From {}", run.display()));
        ui.horizontal(|ui| {
            let label = ui.label("Prompt");
            ui.add(egui::TextEdit::singleline(&mut self.prompt).desired_width(360.0))
                .labelled_by(label.id);
            ui.add(
                egui::DragValue::new(&mut self.count)
                    .range(1..=32)
                    .prefix("samples "),
            );
            if ui.add_enabled(!busy, egui::Button::new("Draw")).clicked() {
                self.draw(run, cx);
            }
            if ui
                .add_enabled(!busy, egui::Button::new("New z"))
                .on_hover_text("Another seed for z and ε")
                .clicked()
            {
                self.seed = self.seed.wrapping_add(1);
                self.draw(run, cx);
            }
            if busy {
                ui.spinner();
            }
        });
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, format!("Could not draw: {e}"));
        }
        if let Some(n) = &self.notice {
            ui.label(n.as_str());
        }
        if let Some(d) = &self.drawn {
            ui.label(match &d.encoder {
                Some(name) => format!("Encoder: {name} · seed {}", self.seed),
                None => format!("This model draws without text · seed {}", self.seed),
            });
            if !d.unknown.is_empty() {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!(
                        "Words this encoder never saw in training (read as one unknown word): {}",
                        d.unknown.join(", ")
                    ),
                );
            }
            let per_image =
                ((ui.available_width() - 220.0) / self.count.max(1) as f32 - 2.0).clamp(16.0, 64.0);
            egui::Grid::new("text-stages")
                .num_columns(2)
                .spacing([16.0, 8.0])
                .show(ui, |ui| {
                    for (k, (tex, gap)) in d.textures.iter().zip(&d.gaps).enumerate() {
                        ui.vertical(|ui| {
                            let side = d.sides.get(k).copied().unwrap_or_default();
                            let line = |ui: &mut egui::Ui, text: String| {
                                ui.add(egui::Label::new(text).wrap_mode(egui::TextWrapMode::Extend))
                            };
                            line(ui, format!("stage {} · {side} × {side}", k + 1));
                            if let Some((mean, cov)) = gap {
                                line(ui, format!("colour gap |Δμ|² {mean:.4}")).on_hover_text(
                                    "Against the stage above (StackGAN++'s colour consistency)",
                                );
                                line(ui, format!("|ΔΣ|² {cov:.5}"));
                            }
                        });
                        let size = tex.size_vec2();
                        let width = per_image * self.count.max(1) as f32;
                        ui.image((tex.id(), size * (width / size.x.max(1.0))));
                        ui.end_row();
                    }
                });
        }
        ui.separator();
        ui.strong("Interpolate");
        let text_model = self.drawn.as_ref().is_none_or(|d| d.encoder.is_some());
        if text_model {
            ui.horizontal(|ui| {
                let label = ui.label("From");
                ui.add(egui::TextEdit::singleline(&mut self.from).desired_width(300.0))
                    .labelled_by(label.id);
                let label = ui.label("to");
                ui.add(egui::TextEdit::singleline(&mut self.to).desired_width(300.0))
                    .labelled_by(label.id);
            });
        } else {
            ui.horizontal(|ui| {
                ui.add(egui::DragValue::new(&mut self.seeds.0).prefix("from seed "));
                ui.add(egui::DragValue::new(&mut self.seeds.1).prefix("to seed "));
            });
        }
        ui.horizontal(|ui| {
            ui.add(
                egui::DragValue::new(&mut self.walk_steps)
                    .range(2..=interpolate::MAX_STEPS)
                    .prefix("points "),
            );
            if text_model {
                ui.checkbox(
                    &mut self.sampled_c,
                    "sampled c = μ + σ·ε (Conditioning Augmentation on)",
                )
                .on_hover_text("Off: the generator reads μ of each embedding");
            }
            if ui.add_enabled(!busy, egui::Button::new("Walk")).clicked() {
                self.walk_between(run, cx);
            }
            if ui
                .add_enabled(self.walked.is_some(), egui::Button::new("Export walk"))
                .clicked()
            {
                match self.export_walk(run) {
                    Ok(path) => {
                        self.notice = Some(format!("Wrote {} and its strips", path.display()))
                    }
                    Err(e) => self.error = Some(e),
                }
            }
        });
        let Some(w) = &self.walked else {
            return;
        };
        let n = w.points.len();
        let width = (ui.available_width() - 80.0).clamp(200.0, 64.0 * n.max(1) as f32);
        for (k, strip) in w.strips.iter().enumerate() {
            let size = strip.size_vec2();
            ui.horizontal(|ui| {
                ui.label(format!("stage {}", k + 1));
                ui.image((strip.id(), size * (width / size.x.max(1.0))));
            });
        }
        ui.add(egui::Slider::new(&mut self.point, 0..=n.saturating_sub(1)).text("point"));
        let point = self.point.min(n.saturating_sub(1));
        ui.horizontal(|ui| {
            if let Some(tex) = w.points.get(point) {
                ui.image((tex.id(), egui::vec2(128.0, 128.0)));
            }
            if let Some(sigma) = w.walk.sigma.get(point) {
                ui.label(format!(
                    "t = {:.2} · mean σ of Conditioning Augmentation {sigma:.3}",
                    point as f32 / (n.max(2) - 1) as f32
                ));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_on(data: DataSource) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let config = easel_core::train::RunConfig {
            data,
            ..easel_core::train::Preset::find("stackgan2-fmnist")
                .unwrap()
                .config
        };
        RunDir::new(dir.path()).create(&config).unwrap();
        dir
    }

    #[test]
    fn a_run_on_other_captions_starts_from_its_own_sentences() {
        let fashion = run_on(DataSource::FashionMnist { path: None });
        let ctx = egui::Context::default();
        let adopted = |mut panel: TextPanel, run: &Path| {
            let (commands, _queued) = crate::commands::Commands::channel();
            let cx = PanelContext {
                inference: &crate::inference::Inference::default(),
                commands: &commands,
                picker: &crate::picker::FixedPicker(None),
                jobs: &crate::worker::Jobs::default(),
                wake: std::sync::Arc::new(|| {}),
            };
            panel.adopt(run, &cx);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while panel.pending_adopt.is_some() {
                assert!(std::time::Instant::now() < deadline);
                std::thread::sleep(std::time::Duration::from_millis(5));
                panel.poll(&ctx);
            }
            panel
        };
        let panel = adopted(TextPanel::default(), fashion.path());
        // The first held-out image of Fashion-MNIST is an ankle boot; the walk goes to another class.
        assert!(panel.prompt.contains("ankle boot"), "{}", panel.prompt);
        assert_eq!(panel.from, panel.prompt);
        assert!(!panel.to.contains("ankle boot"), "{}", panel.to);

        // Sentences the user typed are kept; a shapes run keeps the shapes defaults.
        let typed = TextPanel {
            prompt: "a photo of a bag".into(),
            ..TextPanel::default()
        };
        assert_eq!(adopted(typed, fashion.path()).prompt, "a photo of a bag");
        let shapes = run_on(DataSource::default());
        let panel = adopted(TextPanel::default(), shapes.path());
        assert_eq!(panel.prompt, SHAPES_DEFAULTS[0]);
    }
}
