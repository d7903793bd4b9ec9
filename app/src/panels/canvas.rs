//! The Canvas panel (GRAN): a grid of samples and a slider over t = 1..T′ with T′ up to 3 × T
//! (steps past the trained T marked); the canvas C_t or the update ΔC_t as a signed heatmap;
//! play/pause; click a sample for its strip of steps; z once or per step; reseed; export the strip
//! as PNG and the drawing as a looping GIF.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use easel_core::export;
use easel_core::images::ImageBatch;
use easel_core::model::gran::NoiseMode;
use easel_core::sample::Samples;
use easel_core::train::RunFollower;
use egui::TextureHandle;
use serde::{Deserialize, Serialize};

use crate::commands::PanelContext;
use crate::heatmap::{self, HeatmapRenderer, SignedGrid};
use crate::inference::Inference;
use crate::textures;
use crate::worker::Pending;

/// Seconds each step shows while playing.
const FRAME_SECONDS: f64 = 0.5;

struct Drawn {
    run: PathBuf,
    /// Where the model came from and computed, in words.
    source: String,
    /// Where its weights stood, briefly.
    step_of: String,
    trained_steps: usize,
    samples: Samples,
    canvases: Vec<TextureHandle>,
    deltas: Vec<SignedGrid>,
    columns: usize,
}

type Drawing = easel_core::Result<(String, String, usize, Samples)>;

/// How often the Canvas looks for a newer checkpoint of a run trained elsewhere.
const NEWEST_POLL: Duration = Duration::from_secs(1);

/// A run drawn from its newest checkpoint, watched for newer ones.
struct NewestWatch {
    follower: RunFollower,
    polled: Instant,
    /// The newest intact checkpoint's step when the drawing was asked for.
    drawn_from: Option<u64>,
}

/// The Canvas panel.
#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct CanvasPanel {
    /// Seed of the samples' noise.
    pub seed: u64,
    /// Draw with a fresh z at every step (else one z per image).
    pub noise_per_step: bool,
    /// Show ΔC_t instead of C_t.
    pub show_delta: bool,
    /// The step shown, 1-based.
    pub t: usize,
    /// Samples in the grid.
    pub count: usize,
    /// How far past T the slider goes (T′ = factor × T).
    pub extra_factor: usize,
    #[serde(skip)]
    drawn: Option<Drawn>,
    #[serde(skip)]
    pending: Option<(PathBuf, Pending<Drawing>)>,
    #[serde(skip)]
    error: Option<String>,
    #[serde(skip)]
    playing: bool,
    #[serde(skip)]
    last_advance: f64,
    #[serde(skip)]
    selected: Option<usize>,
    #[serde(skip)]
    strip: Option<TextureHandle>,
    #[serde(skip)]
    notice: Option<String>,
    /// Where ΔC heatmaps are coloured (set by the studio from the renderer it runs on).
    #[serde(skip)]
    pub renderer: HeatmapRenderer,
    #[serde(skip)]
    delta_texture: Option<(u64, TextureHandle)>,
    #[serde(skip)]
    generation: u64,
    /// The checkpoint drawn from (None: the newest intact one).
    #[serde(skip)]
    pub checkpoint: Option<PathBuf>,
    #[serde(skip)]
    newest: Option<NewestWatch>,
}

impl Default for CanvasPanel {
    fn default() -> Self {
        Self {
            seed: 0,
            noise_per_step: false,
            show_delta: false,
            t: 1,
            count: 16,
            extra_factor: 3,
            drawn: None,
            pending: None,
            error: None,
            playing: false,
            last_advance: 0.0,
            selected: None,
            strip: None,
            notice: None,
            renderer: HeatmapRenderer::Cpu,
            delta_texture: None,
            generation: 0,
            checkpoint: None,
            newest: None,
        }
    }
}

fn one_image(batch: &ImageBatch, index: usize) -> ImageBatch {
    let n = batch.image_len();
    ImageBatch {
        count: 1,
        pixels: batch.pixels[index * n..(index + 1) * n].to_vec(),
        ..batch.clone()
    }
}

impl CanvasPanel {
    /// The number of steps the slider reaches (T′).
    pub fn max_steps(&self) -> Option<usize> {
        self.drawn.as_ref().map(|d| d.samples.canvases.len())
    }

    /// Where the shown samples were drawn from, in words ("the live model at step 12, on cpu").
    pub fn source(&self) -> Option<&str> {
        self.drawn.as_ref().map(|d| d.source.as_str())
    }

    /// Whether samples are drawn and shown.
    pub fn has_drawing(&self) -> bool {
        self.drawn.is_some()
    }

    /// Draws new samples of `run`: from [`Self::checkpoint`] when set, else from the live
    /// model while `run` trains, else from its newest checkpoint (see [`Inference::load`]).
    pub fn draw(&mut self, run: &Path, cx: &PanelContext) {
        let checkpoint = self.checkpoint.clone();
        let inference = cx.inference.clone();
        let (run_dir, seed, count, factor, per_step) = (
            run.to_path_buf(),
            self.seed,
            self.count,
            self.extra_factor,
            self.noise_per_step,
        );
        let pending = cx.spawn("easel-sample", move || {
            let model = inference.load(&run_dir, checkpoint.as_deref())?;
            let trained = model.trained_steps();
            let noise = if per_step {
                NoiseMode::PerStep
            } else {
                NoiseMode::Once
            };
            // GRAN may draw past its T; LAPGAN's steps are its pyramid levels, fixed.
            let steps = if model.config.model.gran().is_some() {
                trained * factor
            } else {
                trained
            };
            let samples = model.sample_with_noise(count, Some(steps), seed, true, noise)?;
            let source = Inference::describe(&model);
            Ok((source, Inference::step_of(&model), trained, samples))
        });
        self.error = None;
        self.pending = Some((run.to_path_buf(), pending));
    }

    /// While another process trains `run` and the drawing is from its newest checkpoint, draws
    /// again from each newer intact checkpoint as it appears (looked for every second).
    fn follow_newest(&mut self, run: &Path, cx: &PanelContext, ctx: &egui::Context) {
        let drawn_here = self.drawn.as_ref().is_some_and(|d| d.run == run);
        if self.checkpoint.is_some() || cx.inference.trains(run) || !drawn_here {
            self.newest = None;
            return;
        }
        if self
            .newest
            .as_ref()
            .is_none_or(|w| w.follower.run().root != run)
        {
            self.newest = Some(NewestWatch {
                follower: RunFollower::new(run),
                polled: Instant::now() - NEWEST_POLL,
                drawn_from: None,
            });
        }
        let watch = self.newest.as_mut().expect("set above");
        if self.pending.is_some() || watch.polled.elapsed() < NEWEST_POLL {
            ctx.request_repaint_after(NEWEST_POLL);
            return;
        }
        watch.polled = Instant::now();
        if watch.follower.poll().is_err() {
            return;
        }
        let newest = watch.follower.checkpoints().last().map(|(step, _)| *step);
        if watch.follower.log.state.is_live() {
            ctx.request_repaint_after(NEWEST_POLL);
        }
        match watch.drawn_from {
            None => watch.drawn_from = newest,
            Some(drawn) if newest.is_some_and(|n| n != drawn) => {
                watch.drawn_from = newest;
                self.draw(run, cx);
            }
            Some(_) => {}
        }
    }

    fn poll(&mut self, ctx: &egui::Context) {
        let Some((_, pending)) = &self.pending else {
            return;
        };
        let Some(result) = pending.poll_result() else {
            return;
        };
        let (run, _) = self.pending.take().expect("checked above");
        match result {
            Ok((source, step_of, trained_steps, samples)) => {
                let columns = samples.images.square_columns();
                let canvases = samples
                    .canvases
                    .iter()
                    .enumerate()
                    .map(|(t, c)| textures::upload_grid(ctx, &format!("canvas-{t}"), c, columns))
                    .collect();
                self.generation += 1;
                let generation = self.generation;
                let deltas = samples
                    .delta_canvases
                    .iter()
                    .enumerate()
                    .map(|(t, d)| SignedGrid::from_batch(d, columns, (generation << 16) + t as u64))
                    .collect();
                self.t = self.t.clamp(1, samples.canvases.len());
                self.drawn = Some(Drawn {
                    run,
                    source,
                    step_of,
                    trained_steps,
                    samples,
                    canvases,
                    deltas,
                    columns,
                });
                self.strip = None;
                self.refresh_strip(ctx);
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    fn strip_batch(&self, drawn: &Drawn, index: usize) -> ImageBatch {
        let frames: Vec<ImageBatch> = if self.show_delta {
            drawn
                .samples
                .delta_canvases
                .iter()
                .map(|d| textures::heatmap(&one_image(d, index)))
                .collect()
        } else {
            drawn
                .samples
                .canvases
                .iter()
                .map(|c| one_image(c, index))
                .collect()
        };
        let mut strip = frames[0].clone();
        for f in &frames[1..] {
            strip.count += 1;
            strip.pixels.extend_from_slice(&f.pixels);
        }
        strip
    }

    fn refresh_strip(&mut self, ctx: &egui::Context) {
        self.strip = match (&self.drawn, self.selected) {
            (Some(d), Some(i)) if i < d.samples.images.count => {
                let strip = self.strip_batch(d, i);
                Some(textures::upload(
                    ctx,
                    "canvas-strip",
                    &strip.upscaled_grid(strip.count, 4),
                ))
            }
            _ => None,
        };
    }

    /// Writes the selected sample's strip (PNG) and the whole grid's drawing (GIF) to
    /// `<run>/exports/`; returns the files written.
    pub fn export(&self) -> Result<Vec<PathBuf>, String> {
        let drawn = self.drawn.as_ref().ok_or("draw samples first")?;
        let dir = drawn.run.join("exports");
        export::create_dir(&dir).map_err(|e| e.to_string())?;
        let mut written = Vec::new();
        if let Some(i) = self.selected {
            let strip = self.strip_batch(drawn, i);
            let path = dir.join(format!("strip-seed{}-sample{i}.png", self.seed));
            export::save_png(&strip.upscaled_grid(strip.count, 4), &path)
                .map_err(|e| e.to_string())?;
            written.push(path);
        }
        let frames: Vec<_> = drawn
            .samples
            .canvases
            .iter()
            .map(|c| c.upscaled_grid(drawn.columns, 3))
            .collect();
        let path = dir.join(format!("drawing-seed{}.gif", self.seed));
        export::save_gif(&frames, 400, &path).map_err(|e| e.to_string())?;
        written.push(path);
        Ok(written)
    }

    /// Draws the panel; `run` is the run to draw from (the current or the opened one).
    pub fn ui(&mut self, ui: &mut egui::Ui, run: Option<&Path>, cx: &PanelContext) {
        self.poll(ui.ctx());
        ui.heading("Canvas");
        let Some(run) = run else {
            ui.label("Train a model or open a run in the Runs panel to scrub its drawing steps.");
            return;
        };
        self.follow_newest(run, cx, ui.ctx());
        ui.horizontal(|ui| {
            let busy = self.pending.is_some();
            if ui
                .add_enabled(!busy, egui::Button::new("Draw samples"))
                .clicked()
            {
                self.draw(run, cx);
            }
            if ui.add_enabled(!busy, egui::Button::new("Reseed")).clicked() {
                self.seed += 1;
                self.draw(run, cx);
            }
            ui.label(format!("seed {}", self.seed));
            if ui
                .checkbox(&mut self.noise_per_step, "z per step")
                .changed()
                && !busy
            {
                self.draw(run, cx);
            }
            if busy {
                ui.spinner();
            }
        });
        ui.label(format!("From {}", run.display()));
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, format!("Could not draw: {e}"));
        }
        let Some(drawn) = &self.drawn else { return };
        ui.label(format!("Drawn from {}", drawn.source));
        let max = drawn.canvases.len();
        let trained = drawn.trained_steps;
        let mut changed_view = false;
        ui.horizontal(|ui| {
            if ui
                .button(if self.playing { "Pause" } else { "Play" })
                .clicked()
            {
                self.playing = !self.playing;
                self.last_advance = ui.input(|i| i.time);
            }
            ui.add(egui::Slider::new(&mut self.t, 1..=max).text("step t"));
            if self.t > trained {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!("beyond the trained T = {trained}"),
                );
            } else {
                ui.label(format!("of T = {trained} trained"));
            }
            changed_view |= ui
                .checkbox(&mut self.show_delta, "show ΔC_t (update) instead of C_t")
                .changed();
        });
        if self.playing {
            let now = ui.input(|i| i.time);
            if now - self.last_advance >= FRAME_SECONDS {
                self.t = self.t % max + 1;
                self.last_advance = now;
            }
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_secs_f64(FRAME_SECONDS / 4.0));
        }
        ui.label(format!(
            "{} at t = {} ({}); click a sample for its strip of steps",
            if self.show_delta {
                "ΔC_t: blue negative, white 0, red positive (each image scaled by its largest change)"
            } else {
                "C_t = sigmoid(Σ ΔC)"
            },
            self.t,
            drawn.step_of
        ));
        let texture = &drawn.canvases[self.t - 1];
        let size = texture.size_vec2();
        let scale = (420.0 / size.x).clamp(1.0, 8.0);
        let response = if self.show_delta {
            heatmap::show(
                ui,
                self.renderer,
                "canvas-delta",
                &drawn.deltas[self.t - 1],
                size * scale,
                &mut self.delta_texture,
            )
        } else {
            ui.add(
                egui::Image::new(texture)
                    .fit_to_exact_size(size * scale)
                    .sense(egui::Sense::click()),
            )
        };
        if response.clicked()
            && let Some(pos) = response.interact_pointer_pos()
        {
            let cell = response.rect.width() / drawn.columns as f32;
            let (col, row) = (
                ((pos.x - response.rect.left()) / cell) as usize,
                ((pos.y - response.rect.top()) / cell) as usize,
            );
            let index = row * drawn.columns + col.min(drawn.columns - 1);
            if index < drawn.samples.images.count {
                self.selected = Some(index);
                changed_view = true;
            }
        }
        if changed_view {
            self.refresh_strip(ui.ctx());
        }
        if let (Some(strip), Some(i)) = (&self.strip, self.selected) {
            ui.label(format!("Sample {i}, steps 1 to {max}"));
            let size = strip.size_vec2();
            let scale = (ui.available_width() / size.x).min(2.0);
            ui.add(egui::Image::new(strip).fit_to_exact_size(size * scale));
        }
        if ui.button("Export strip (PNG) and drawing (GIF)").clicked() {
            self.notice = Some(match self.export() {
                Ok(files) => format!(
                    "Wrote {}",
                    files
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Err(e) => format!("Export failed: {e}"),
            });
        }
        if let Some(n) = &self.notice {
            ui.label(n);
        }
    }
}
