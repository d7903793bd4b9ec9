//! The Arena panel: the seed paper's GAM made visual. A battle between two runs draws Table 1 as a
//! 2×2 grid of error rates (each discriminator on each generator's samples, with the samples that
//! fooled it most) above D's errors on real images, and r_test, r_sample and the verdict with its
//! reason in one banner. A round robin of several runs shows the leaderboard and a heatmap of
//! r_sample. Score shows one run's quality figures beside real held-out images' and its samples'
//! nearest training images. Each run plays at its newest (its live model while it trains) or at
//! any checkpoint it keeps, so a run can meet its own past. Work runs on worker threads; results
//! save as JSON or CSV.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use easel_core::eval::arena::{self, Arena};
use easel_core::eval::classifier;
use easel_core::eval::gam::{self, Battle, BattleConfig, DEFAULT_TOLERANCE};
use easel_core::eval::score::{self, ScoreConfig, ScoreReport};
use easel_core::images::ImageBatch;
use easel_core::sample::LoadedModel;
use easel_core::train::{Sweep, checkpoint};
use egui::TextureHandle;
use serde::{Deserialize, Serialize};

use super::arena_field::{choices, configuration_of, contestant, name_of};
use super::arena_views as views;
use crate::commands::PanelContext;
use crate::inference::Inference;
use crate::worker::Pending;

/// Example images shown per Table 1 cell.
const EXAMPLES: usize = 4;

/// What the panel computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ArenaMode {
    /// Two runs, one GAM battle.
    #[default]
    Battle,
    /// Several runs, every pair.
    RoundRobin,
    /// One run's quality figures.
    Score,
}

/// A battle with the images that illustrate it.
pub struct BattleView {
    /// The two runs' names.
    pub names: [String; 2],
    /// Table 1 and the verdict.
    pub battle: Battle,
    /// `examples[d][g]`: G_g's samples that fooled D_d most.
    pub examples: [[ImageBatch; 2]; 2],
    pub(crate) textures: Option<[[TextureHandle; 2]; 2]>,
}

/// A score with its images.
pub struct ScoreView {
    /// The run's name.
    pub name: String,
    /// The figures.
    pub report: ScoreReport,
    /// Per probed sample: the sample then its nearest training images by pixels.
    pub neighbour_rows: Vec<ImageBatch>,
    pub(crate) textures: Option<Vec<TextureHandle>>,
}

/// A finished computation.
pub enum Outcome {
    /// A battle.
    Battle(Box<BattleView>),
    /// A round robin.
    RoundRobin(Box<Arena>),
    /// A score.
    Score(Box<ScoreView>),
}

/// The Arena panel.
#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct ArenaPanel {
    /// What to compute.
    pub mode: ArenaMode,
    /// Samples drawn per generator.
    pub samples: usize,
    /// Seed of the generators' noise.
    pub seed: u64,
    /// r_test counts as ≈ 1 within this.
    pub tolerance: f64,
    /// M1 of a battle.
    pub m1: Option<PathBuf>,
    /// M2 of a battle.
    pub m2: Option<PathBuf>,
    /// The runs of a round robin.
    pub field: Vec<PathBuf>,
    /// The run scored.
    pub scored: Option<PathBuf>,
    #[serde(skip)]
    progress: Arc<AtomicU32>,
    #[serde(skip)]
    pending: Option<Pending<Result<Outcome, String>>>,
    #[serde(skip)]
    outcome: Option<Result<Outcome, String>>,
    #[serde(skip)]
    saved: Option<Result<PathBuf, String>>,
}

impl Default for ArenaPanel {
    fn default() -> Self {
        Self {
            mode: ArenaMode::Battle,
            samples: BattleConfig::default().samples,
            seed: 0,
            tolerance: DEFAULT_TOLERANCE,
            m1: None,
            m2: None,
            field: Vec::new(),
            scored: None,
            progress: Arc::default(),
            pending: None,
            outcome: None,
            saved: None,
        }
    }
}

/// Loads a contestant (see [`contestant`]).
fn load(path: &Path, inference: &Inference) -> easel_core::Result<Arc<LoadedModel>> {
    let (run, checkpoint) = contestant(path);
    inference.load(&run, checkpoint.as_deref())
}

fn pick(images: &ImageBatch, indices: &[usize]) -> ImageBatch {
    let len = images.channels * images.height * images.width;
    ImageBatch {
        count: indices.len(),
        channels: images.channels,
        height: images.height,
        width: images.width,
        pixels: indices
            .iter()
            .flat_map(|&i| images.pixels[i * len..(i + 1) * len].iter().copied())
            .collect(),
    }
}

fn play_battle(
    m1: &Path,
    m2: &Path,
    config: &BattleConfig,
    inference: &Inference,
    progress: &AtomicU32,
) -> easel_core::Result<BattleView> {
    let models = [load(m1, inference)?, load(m2, inference)?];
    let data = models[0].dataset()?;
    let cross = gam::cross_table(&[&models[0], &models[1]], &data, config, &mut |d, t| {
        progress.store((900 * d / t.max(1)) as u32, Ordering::Relaxed)
    })?;
    let table = cross.pair(0, 1);
    // The cross table sampled each generator with this seed: draw the same samples again to
    // show the ones each discriminator found most real.
    let mut examples: [[ImageBatch; 2]; 2] = Default::default();
    for (g, model) in models.iter().enumerate() {
        let drawn = model
            .sample(config.samples, None, config.seed, false)?
            .images;
        for (d, judge) in models.iter().enumerate() {
            let best = gam::most_convincing(&judge.networks, &judge.device, &drawn, EXAMPLES);
            examples[d][g] = pick(&drawn, &best);
        }
    }
    progress.store(1000, Ordering::Relaxed);
    Ok(BattleView {
        names: [name_of(m1), name_of(m2)],
        battle: Battle {
            config: config.clone(),
            verdict: gam::decide(&table, config.tolerance),
            table,
        },
        examples,
        textures: None,
    })
}

fn play_round_robin(
    runs: &[PathBuf],
    config: &BattleConfig,
    inference: &Inference,
    progress: &AtomicU32,
) -> easel_core::Result<Arena> {
    let models = runs
        .iter()
        .map(|r| load(r, inference))
        .collect::<easel_core::Result<Vec<_>>>()?;
    let data = models[0].dataset()?;
    let names: Vec<String> = runs.iter().map(|r| name_of(r)).collect();
    let refs: Vec<&LoadedModel> = models.iter().map(AsRef::as_ref).collect();
    let mut result = arena::round_robin(&refs, &names, &data, config, &mut |d, t| {
        progress.store((1000 * d / t.max(1)) as u32, Ordering::Relaxed)
    })?;
    // A sweep's seeds of one configuration are rated together, where some configuration has
    // several.
    let groups: Vec<Option<String>> = runs.iter().map(|r| configuration_of(r)).collect();
    if groups
        .iter()
        .flatten()
        .any(|g| groups.iter().flatten().filter(|h| *h == g).count() > 1)
    {
        result.group(&groups);
    }
    Ok(result)
}

fn take_score(
    run: &Path,
    samples: usize,
    seed: u64,
    inference: &Inference,
    progress: &AtomicU32,
) -> easel_core::Result<ScoreView> {
    let model = load(run, inference)?;
    let data = model.dataset()?;
    let trained = classifier::load_or_train(&data, &model.device, &mut |f| {
        progress.store((500.0 * f) as u32, Ordering::Relaxed)
    })?;
    let config = ScoreConfig {
        samples,
        seed,
        ..ScoreConfig::default()
    };
    let report = score::score(&model, &data, &trained, &config, &mut |f| {
        progress.store(500 + (500.0 * f) as u32, Ordering::Relaxed)
    })?;
    let drawn = model
        .sample(config.probes.min(samples), None, seed, false)?
        .images;
    let set = &data.train;
    let neighbour_rows = report
        .neighbours
        .iter()
        .map(|n| {
            let mut row = pick(&drawn, &[n.sample]);
            let indices: Vec<usize> = n.by_pixels.iter().map(|x| x.0).collect();
            row.pixels.extend(set.batch_f32(&indices));
            row.count += indices.len();
            row
        })
        .collect();
    Ok(ScoreView {
        name: name_of(run),
        report,
        neighbour_rows,
        textures: None,
    })
}

impl ArenaPanel {
    /// Whether a computation is running.
    pub fn is_busy(&self) -> bool {
        self.pending.is_some()
    }

    /// The last result, if any.
    pub fn outcome(&self) -> Option<&Result<Outcome, String>> {
        self.outcome.as_ref()
    }

    /// Where the last save went, or why it failed.
    pub fn saved(&self) -> Option<&Result<PathBuf, String>> {
        self.saved.as_ref()
    }

    fn battle_config(&self) -> BattleConfig {
        BattleConfig {
            samples: self.samples,
            seed: self.seed,
            tolerance: self.tolerance,
            ..BattleConfig::default()
        }
    }

    /// What is missing before the computation of the current mode can start, in words.
    pub fn missing(&self) -> Option<&'static str> {
        match self.mode {
            ArenaMode::Battle if self.m1.is_none() || self.m2.is_none() => {
                Some("Choose M1 and M2.")
            }
            ArenaMode::RoundRobin if self.field.len() < 2 => {
                Some("Tick two or more runs trained on the same data.")
            }
            ArenaMode::Score if self.scored.is_none() => Some("Choose a run to score."),
            _ if self.samples < 2 => Some("Draw at least 2 samples."),
            _ => None,
        }
    }

    /// Starts the computation of the current mode.
    pub fn start(&mut self, cx: &PanelContext) {
        if self.missing().is_some() || self.is_busy() {
            return;
        }
        self.progress.store(0, Ordering::Relaxed);
        self.outcome = None;
        self.saved = None;
        let progress = self.progress.clone();
        let config = self.battle_config();
        let (mode, m1, m2, field, scored) = (
            self.mode,
            self.m1.clone(),
            self.m2.clone(),
            self.field.clone(),
            self.scored.clone(),
        );
        let wake = cx.wake.clone();
        let inference = cx.inference.clone();
        self.pending = Some(cx.spawn("easel-arena", move || {
            let done = match mode {
                ArenaMode::Battle => play_battle(
                    m1.as_deref().expect("checked by missing()"),
                    m2.as_deref().expect("checked by missing()"),
                    &config,
                    &inference,
                    &progress,
                )
                .map(|b| Outcome::Battle(Box::new(b))),
                ArenaMode::RoundRobin => play_round_robin(&field, &config, &inference, &progress)
                    .map(|a| Outcome::RoundRobin(Box::new(a))),
                ArenaMode::Score => take_score(
                    scored.as_deref().expect("checked by missing()"),
                    config.samples,
                    config.seed,
                    &inference,
                    &progress,
                )
                .map(|s| Outcome::Score(Box::new(s))),
            };
            wake();
            done.map_err(|e| e.to_string())
        }));
    }

    fn poll(&mut self) {
        if let Some(p) = &self.pending
            && let Some(result) = p.poll()
        {
            self.pending = None;
            self.outcome = Some(result.and_then(|r| r));
        }
    }

    /// Writes the last result beside the first run involved: `arena/<kind>-<seconds>.json`,
    /// and for a round robin also the leaderboard as CSV.
    pub fn save(&mut self) {
        let Some(Ok(outcome)) = &self.outcome else {
            return;
        };
        let (home, kind, json, csv) = match outcome {
            Outcome::Battle(b) => (
                self.m1.clone(),
                "battle",
                serde_json::to_string_pretty(&b.battle),
                None,
            ),
            Outcome::RoundRobin(a) => (
                self.field.first().cloned(),
                "round-robin",
                serde_json::to_string_pretty(a.as_ref()),
                Some(a.leaderboard_csv()),
            ),
            Outcome::Score(s) => (
                self.scored.clone(),
                "score",
                serde_json::to_string_pretty(&s.report),
                None,
            ),
        };
        let Some(home) = home.map(|h| contestant(&h).0) else {
            return;
        };
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let dir = home.join("arena");
        let path = dir.join(format!("{kind}-{stamp}.json"));
        let write = || -> Result<PathBuf, String> {
            let json = json.map_err(|e| e.to_string())?;
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            std::fs::write(&path, json).map_err(|e| format!("{}: {e}", path.display()))?;
            if let Some(csv) = csv {
                let csv_path = path.with_extension("csv");
                std::fs::write(&csv_path, csv)
                    .map_err(|e| format!("{}: {e}", csv_path.display()))?;
            }
            Ok(path.clone())
        };
        self.saved = Some(write());
    }

    /// Draws the panel; `runs` are the runs to offer (the live one and the recent ones).
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        runs: &[PathBuf],
        sweeps: &[PathBuf],
        cx: &PanelContext,
    ) {
        self.poll();
        ui.heading("Arena");
        ui.horizontal(|ui| {
            for (mode, label) in [
                (ArenaMode::Battle, "Battle"),
                (ArenaMode::RoundRobin, "Round robin"),
                (ArenaMode::Score, "Score"),
            ] {
                ui.selectable_value(&mut self.mode, mode, label);
            }
        });
        ui.separator();
        self.choose_ui(ui, runs, sweeps);
        ui.horizontal(|ui| {
            let l = ui.label("Samples per generator");
            ui.add(egui::DragValue::new(&mut self.samples).range(2..=20_000))
                .labelled_by(l.id);
            let l = ui.label("Seed");
            ui.add(egui::DragValue::new(&mut self.seed))
                .labelled_by(l.id);
            if self.mode != ArenaMode::Score {
                let l = ui
                    .label("r_test tolerance")
                    .on_hover_text(gam::TOLERANCE_RULE);
                ui.add(
                    egui::DragValue::new(&mut self.tolerance)
                        .range(0.0..=10.0)
                        .speed(0.01),
                )
                .labelled_by(l.id);
            }
        });
        let action = match self.mode {
            ArenaMode::Battle => "Start the battle",
            ArenaMode::RoundRobin => "Play the round robin",
            ArenaMode::Score => "Score the run",
        };
        ui.horizontal(|ui| {
            let ready = self.missing().is_none() && !self.is_busy();
            if ui.add_enabled(ready, egui::Button::new(action)).clicked() {
                self.start(cx);
            }
            if let Some(why) = self.missing() {
                ui.label(why);
            }
            if matches!(self.outcome, Some(Ok(_))) && ui.button("Save results").clicked() {
                self.save();
            }
        });
        if self.is_busy() {
            let done = self.progress.load(Ordering::Relaxed) as f32 / 1000.0;
            ui.add(egui::ProgressBar::new(done).show_percentage());
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(200));
        }
        match &self.saved {
            Some(Ok(path)) => {
                ui.label(format!("Saved {}", path.display()));
            }
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            None => {}
        }
        ui.separator();
        let ctx = ui.ctx().clone();
        egui::ScrollArea::vertical().show(ui, |ui| match &mut self.outcome {
            Some(Ok(Outcome::Battle(b))) => views::battle_ui(ui, &ctx, b),
            Some(Ok(Outcome::RoundRobin(a))) => views::round_robin_ui(ui, a),
            Some(Ok(Outcome::Score(s))) => views::score_ui(ui, &ctx, s),
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e.as_str());
            }
            None => {}
        });
    }

    fn choose_ui(&mut self, ui: &mut egui::Ui, runs: &[PathBuf], sweeps: &[PathBuf]) {
        if runs.is_empty() && sweeps.is_empty() {
            ui.label("No runs yet: train one, or open one in Runs.");
            return;
        }
        let combo = |ui: &mut egui::Ui, id: &str, label: &str, slot: &mut Option<PathBuf>| {
            ui.horizontal(|ui| {
                let l = ui.label(label);
                let shown = slot.as_deref().map_or("none chosen".into(), name_of);
                egui::ComboBox::from_id_salt(id)
                    .selected_text(shown)
                    .width(320.0)
                    .show_ui(ui, |ui| {
                        for r in runs {
                            for (path, label) in choices(r) {
                                ui.selectable_value(slot, Some(path), label);
                            }
                        }
                    })
                    .response
                    .labelled_by(l.id);
            });
        };
        match self.mode {
            ArenaMode::Battle => {
                combo(ui, "arena-m1", "M1", &mut self.m1);
                combo(ui, "arena-m2", "M2", &mut self.m2);
            }
            ArenaMode::Score => combo(ui, "arena-scored", "Run", &mut self.scored),
            ArenaMode::RoundRobin => {
                for dir in sweeps {
                    let Ok(sweep) = Sweep::open(dir) else {
                        continue;
                    };
                    let members = sweep.run_dirs();
                    let name = dir
                        .file_name()
                        .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into());
                    if ui
                        .button(format!("Play the sweep {name} ({} runs)", members.len()))
                        .on_hover_text(
                            "Every run of the sweep at its newest; configurations are rated by \
                             the mean over their seeds",
                        )
                        .clicked()
                    {
                        // Runs with something to play: a checkpoint.
                        self.field = members
                            .into_iter()
                            .filter(|r| {
                                checkpoint::list(&r.join("checkpoints"))
                                    .is_ok_and(|c| !c.is_empty())
                            })
                            .collect();
                    }
                }
                ui.label(
                    "Runs in the round robin (trained on the same data), each at its newest \
                     or at a checkpoint it keeps:",
                );
                let extra: Vec<PathBuf> = self
                    .field
                    .iter()
                    .map(|p| contestant(p).0)
                    .filter(|r| !runs.contains(r))
                    .collect();
                let mut shown: Vec<PathBuf> = runs.to_vec();
                for r in extra {
                    if !shown.contains(&r) {
                        shown.push(r);
                    }
                }
                for r in &shown {
                    for (path, label) in choices(r) {
                        let mut on = self.field.contains(&path);
                        if ui.checkbox(&mut on, label).changed() {
                            if on {
                                self.field.push(path);
                            } else {
                                self.field.retain(|x| x != &path);
                            }
                        }
                    }
                }
            }
        }
    }
}
