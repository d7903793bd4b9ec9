//! The Model panel: model kind and preset, every config field editable with validation (a bad
//! value is marked with the reason and Start is disabled), parameter count, FLOPs per image,
//! estimated training memory, and the backend.

use easel_core::backend::BackendKind;
use easel_core::model::Estimates;
use easel_core::model::gran::NoiseMode;
use easel_core::train::config::DEFAULT_PRESET;
use easel_core::train::{ModelConfig, Preset, RunConfig};
use serde::{Deserialize, Serialize};

use crate::commands::{PanelContext, StudioCommand};
use crate::panels::model_stackgan::stackgan_rows;

/// The Model panel.
#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct ModelPanel {
    /// The preset last picked.
    pub preset: String,
    /// The configuration being edited (its data section is the Data panel's).
    pub config: RunConfig,
    /// The decoder widths as typed.
    pub decoder_widths: String,
    /// The discriminator widths as typed.
    pub discriminator_widths: String,
    /// `train.max_steps` as typed (empty = none).
    pub max_steps: String,
    /// `train.minutes` as typed (empty = none).
    pub minutes: String,
    /// The data-parallel devices as typed (`cpu,cpu`; empty = one device of the backend).
    pub devices: String,
    /// The costs of the model last shown, with the model and batch they were counted for
    /// (counting parameters builds the networks: once per change, not every frame).
    #[serde(skip)]
    estimates: Option<(ModelConfig, usize, Estimates)>,
}

impl Default for ModelPanel {
    fn default() -> Self {
        let mut panel = Self {
            preset: String::new(),
            config: RunConfig::default(),
            decoder_widths: String::new(),
            discriminator_widths: String::new(),
            max_steps: String::new(),
            minutes: String::new(),
            devices: String::new(),
            estimates: None,
        };
        panel.apply_preset(DEFAULT_PRESET);
        panel
    }
}

fn widths_text(widths: &[usize]) -> String {
    widths
        .iter()
        .map(|w| w.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_widths(text: &str, field: &str) -> Result<Vec<usize>, (String, String)> {
    text.split([',', ' '])
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            (
                field.to_string(),
                format!("expected whole numbers separated by commas, found {text:?}"),
            )
        })
}

fn parse_optional<T: std::str::FromStr>(
    text: &str,
    field: &str,
) -> Result<Option<T>, (String, String)> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse().map(Some).map_err(|_| {
        (
            field.to_string(),
            format!("expected a number or nothing, found {t:?}"),
        )
    })
}

impl ModelPanel {
    /// The costs of `model` at `batch`, counted again only when either changed.
    fn costs(&mut self, model: &ModelConfig, batch: usize) -> Estimates {
        if !matches!(&self.estimates, Some((m, b, _)) if m == model && *b == batch) {
            self.estimates = Some((model.clone(), batch, model.estimates(batch)));
        }
        self.estimates
            .as_ref()
            .map(|(_, _, e)| *e)
            .expect("counted above")
    }

    /// Replaces the form with preset `name` (keeps nothing of the old form).
    pub fn apply_preset(&mut self, name: &str) {
        if let Ok(p) = Preset::find(name) {
            self.preset = name.to_string();
            self.config = p.config;
            let (g, d) = match &self.config.model {
                ModelConfig::Gran(g) => (g.decoder_widths.clone(), g.discriminator_widths.clone()),
                ModelConfig::Lapgan(l) => {
                    (l.generator_widths.clone(), l.discriminator_widths.clone())
                }
                ModelConfig::StackGan(s) => (vec![s.generator_width], vec![s.discriminator_width]),
            };
            self.decoder_widths = widths_text(&g);
            self.discriminator_widths = widths_text(&d);
            self.max_steps = self
                .config
                .train
                .max_steps
                .map(|v| v.to_string())
                .unwrap_or_default();
            self.minutes = self
                .config
                .train
                .minutes
                .map(|v| v.to_string())
                .unwrap_or_default();
        }
    }

    /// The config the form describes, or the first invalid field and why.
    pub fn build(&self) -> Result<RunConfig, (String, String)> {
        let mut config = self.config.clone();
        match &mut config.model {
            ModelConfig::Gran(g) => {
                g.decoder_widths = parse_widths(&self.decoder_widths, "model.decoder_widths")?;
                g.discriminator_widths =
                    parse_widths(&self.discriminator_widths, "model.discriminator_widths")?;
            }
            ModelConfig::Lapgan(l) => {
                l.generator_widths = parse_widths(&self.decoder_widths, "model.generator_widths")?;
                l.discriminator_widths =
                    parse_widths(&self.discriminator_widths, "model.discriminator_widths")?;
            }
            ModelConfig::StackGan(_) => {}
        }
        config.train.max_steps = parse_optional(&self.max_steps, "train.max_steps")?;
        config.train.minutes = parse_optional(&self.minutes, "train.minutes")?;
        config.devices = easel_core::backend::DeviceSpec::parse_list(&self.devices)
            .map_err(|e| ("devices".to_string(), e.to_string()))?;
        if let Some(first) = config.devices.first() {
            // The first device holds the weights: the run's backend is its.
            config.backend = first.kind;
        }
        config.validate().map_err(|e| match e {
            easel_core::Error::Config { field, reason } => (field, reason),
            other => ("config".into(), other.to_string()),
        })?;
        Ok(config)
    }

    /// The image (side, channels) the model works at.
    pub fn image_shape(&self) -> (usize, usize) {
        self.config.model.image_shape()
    }

    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &PanelContext) {
        let mut picked = None;
        ui.heading("Model");
        ui.horizontal(|ui| {
            ui.label(match self.config.model {
                ModelConfig::Gran(_) => "Model: GRAN (T = 1 is DCGAN)",
                ModelConfig::Lapgan(_) => "Model: LAPGAN (Laplacian pyramid)",
                ModelConfig::StackGan(_) => "Model: StackGAN (text to image)",
            });
            egui::ComboBox::from_label("Preset")
                .selected_text(self.preset.clone())
                .show_ui(ui, |ui| {
                    for p in Preset::all() {
                        if ui
                            .selectable_label(self.preset == p.name, p.name)
                            .on_hover_text(&p.description)
                            .clicked()
                        {
                            picked = Some(p);
                        }
                    }
                });
        });
        if let Some(p) = &picked {
            self.apply_preset(p.name);
            cx.send(StudioCommand::UseData(p.config.data.clone()));
        }
        let result = self.build();
        let invalid = result.as_ref().err().cloned();
        let mark = |ui: &mut egui::Ui, field: &str| {
            if let Some((f, reason)) = &invalid
                && f == field
            {
                ui.colored_label(ui.visuals().error_fg_color, reason.as_str());
            }
        };
        egui::Grid::new("model-fields").num_columns(3).spacing([12.0, 6.0]).show(ui, |ui| {
            let row = |ui: &mut egui::Ui, label: &str, field: &str, add: &mut dyn FnMut(&mut egui::Ui) -> egui::Response| {
                let label = ui.label(label);
                add(ui).labelled_by(label.id);
                mark(ui, field);
                ui.end_row();
            };
            match &mut self.config.model {
                ModelConfig::Gran(g) => {
                row(ui, "Image size", "model.image_size", &mut |ui| {
                    ui.add(egui::DragValue::new(&mut g.image_size).range(4..=1024).suffix(" px"))
                });
                row(ui, "Channels", "model.channels", &mut |ui| {
                    ui.horizontal(|ui| {
                        ui.radio_value(&mut g.channels, 1, "grey");
                        ui.radio_value(&mut g.channels, 3, "RGB");
                    })
                    .response
                });
                row(ui, "Drawing steps T", "model.steps", &mut |ui| {
                    ui.add(egui::DragValue::new(&mut g.steps).range(1..=64))
                });
                row(ui, "z dimensions", "model.z_dim", &mut |ui| {
                    ui.add(egui::DragValue::new(&mut g.z_dim).range(1..=4096))
                });
                row(ui, "Noise", "model.noise", &mut |ui| {
                    ui.horizontal(|ui| {
                        ui.radio_value(&mut g.noise, NoiseMode::Once, "z once");
                        ui.radio_value(&mut g.noise, NoiseMode::PerStep, "z per step");
                    })
                    .response
                });
                row(ui, "h_z dimensions", "model.hz_dim", &mut |ui| {
                    ui.add(egui::DragValue::new(&mut g.hz_dim).range(1..=4096))
                });
                row(ui, "h_c dimensions", "model.hc_dim", &mut |ui| {
                    ui.add(egui::DragValue::new(&mut g.hc_dim).range(1..=4096))
                });
                row(ui, "Decoder widths", "model.decoder_widths", &mut |ui| {
                    ui.add(egui::TextEdit::singleline(&mut self.decoder_widths).desired_width(160.0))
                        .on_hover_text("Channels from f's first map to the image; the last is the image's channels")
                });
                row(ui, "Discriminator widths", "model.discriminator_widths", &mut |ui| {
                    ui.add(egui::TextEdit::singleline(&mut self.discriminator_widths).desired_width(160.0))
                });
                row(ui, "Kernel size", "model.kernel_size", &mut |ui| {
                    ui.add(egui::DragValue::new(&mut g.kernel_size).range(2..=9))
                });
                row(ui, "BatchNorm", "model.batch_norm", &mut |ui| {
                    ui.checkbox(&mut g.batch_norm, "in f, g and D")
                });
                row(ui, "Latent BatchNorm", "model.latent_norm", &mut |ui| {
                    ui.checkbox(&mut g.latent_norm, "before the tanh of h_z and h_c")
                        .on_hover_text("As in the authors' code; without it GRAN with T > 1 tends to ignore z")
                });
                }
                ModelConfig::Lapgan(l) => {
                    row(ui, "Image size", "model.image_size", &mut |ui| {
                        ui.add(egui::DragValue::new(&mut l.image_size).range(4..=1024).suffix(" px"))
                    });
                    row(ui, "Channels", "model.channels", &mut |ui| {
                        ui.horizontal(|ui| {
                            ui.radio_value(&mut l.channels, 1, "grey");
                            ui.radio_value(&mut l.channels, 3, "RGB");
                        })
                        .response
                    });
                    row(ui, "Pyramid levels", "model.levels", &mut |ui| {
                        ui.add(egui::DragValue::new(&mut l.levels).range(1..=8))
                            .on_hover_text("Levels, the finest included: 3 is 28, 14 and 7")
                    });
                    row(ui, "z dimensions", "model.z_dim", &mut |ui| {
                        ui.add(egui::DragValue::new(&mut l.z_dim).range(1..=16384))
                    });
                    row(ui, "Coarsest MLP width", "model.coarse_hidden", &mut |ui| {
                        ui.add(egui::DragValue::new(&mut l.coarse_hidden).range(1..=16384))
                    });
                    row(ui, "Generator widths", "model.generator_widths", &mut |ui| {
                        ui.add(egui::TextEdit::singleline(&mut self.decoder_widths).desired_width(160.0))
                            .on_hover_text("Channels of each finer level's generator, finest first")
                    });
                    row(ui, "Discriminator widths", "model.discriminator_widths", &mut |ui| {
                        ui.add(egui::TextEdit::singleline(&mut self.discriminator_widths).desired_width(160.0))
                    });
                    row(ui, "Generator kernel", "model.generator_kernel", &mut |ui| {
                        ui.add(egui::DragValue::new(&mut l.generator_kernel).range(3..=9))
                    });
                    row(ui, "Classes", "model.classes", &mut |ui| {
                        ui.add(egui::DragValue::new(&mut l.classes).range(0..=1000))
                            .on_hover_text("0: unconditional; otherwise every level reads the label")
                    });
                    row(ui, "Dropout in D", "model.dropout", &mut |ui| {
                        ui.add(egui::DragValue::new(&mut l.dropout).speed(0.01).range(0.0..=0.95))
                    });
                    row(ui, "Uniform noise", "model.uniform_noise", &mut |ui| {
                        ui.checkbox(&mut l.uniform_noise, "U(-1, 1) at every level")
                            .on_hover_text("As the reference code; off: N(0, 1)")
                    });
                }
                ModelConfig::StackGan(s) => stackgan_rows(s, &mut |ui, label, field, add| row(ui, label, field, add), ui),
            }
            let t = &mut self.config.train;
            row(ui, "Batch size", "train.batch_size", &mut |ui| {
                ui.add(egui::DragValue::new(&mut t.batch_size).range(1..=4096))
            });
            row(ui, "D learning rate", "train.lr_d", &mut |ui| {
                ui.add(egui::DragValue::new(&mut t.lr_d).speed(1e-5).range(1e-7..=0.5))
            });
            row(ui, "G learning rate", "train.lr_g", &mut |ui| {
                ui.add(egui::DragValue::new(&mut t.lr_g).speed(1e-5).range(1e-7..=0.5))
            });
            row(ui, "D Adam β1", "train.beta1_d", &mut |ui| {
                ui.add(egui::DragValue::new(&mut t.beta1_d).speed(0.01).range(0.0..=0.999))
            });
            row(ui, "G Adam β1", "train.beta1_g", &mut |ui| {
                ui.add(egui::DragValue::new(&mut t.beta1_g).speed(0.01).range(0.0..=0.999))
            });
            row(ui, "Stop after steps", "train.max_steps", &mut |ui| {
                ui.add(egui::TextEdit::singleline(&mut self.max_steps).desired_width(100.0).hint_text("no limit"))
            });
            row(ui, "Stop after minutes", "train.minutes", &mut |ui| {
                ui.add(egui::TextEdit::singleline(&mut self.minutes).desired_width(100.0).hint_text("no limit"))
                    .on_hover_text("Minutes of training in this session: steps with their sample grids and checkpoints; time paused is not counted")
            });
            row(ui, "Samples every", "train.sample_every", &mut |ui| {
                ui.add(egui::DragValue::new(&mut t.sample_every).range(1..=1_000_000).suffix(" steps"))
            });
            row(ui, "Checkpoint every", "train.checkpoint_every", &mut |ui| {
                ui.add(egui::DragValue::new(&mut t.checkpoint_every).range(1..=1_000_000).suffix(" steps"))
            });
            row(ui, "Seed", "seed", &mut |ui| {
                ui.add(egui::DragValue::new(&mut self.config.seed))
            });
            row(ui, "Backend", "backend", &mut |ui| {
                let backend = &mut self.config.backend;
                egui::ComboBox::from_id_salt("backend")
                    .selected_text(backend.name())
                    .show_ui(ui, |ui| {
                    for b in BackendKind::ALL {
                        let usable = b.usable();
                        let label = ui.add_enabled(usable.is_ok(), egui::Button::selectable(*backend == b, b.name()));
                        let label = match &usable {
                            Ok(_) => label,
                            Err(e) => label.on_disabled_hover_text(e),
                        };
                        if label.clicked() {
                            *backend = b;
                        }
                    }
                    })
                    .response
            });
            row(ui, "Devices", "devices", &mut |ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut self.devices)
                        .desired_width(200.0)
                        .hint_text("one, of the backend"),
                )
                .on_hover_text(
                    "Data parallel: the devices each batch is split over, e.g. cuda:0,cuda:1 or \
                     wgpu:0,wgpu:1 (cpu,cpu splits it on the CPU). The first holds the weights.",
                )
            });
        });
        ui.separator();
        match &result {
            Ok(config) => {
                let e = self.costs(&config.model, config.train.batch_size);
                let detail = match &config.model {
                    ModelConfig::Gran(_) => String::new(),
                    ModelConfig::Lapgan(l) => {
                        format!("levels {:?} · ", l.sides().unwrap_or_default())
                    }
                    ModelConfig::StackGan(s) => format!("scales {:?} · ", s.sides()),
                };
                let mut line = format!(
                    "{}: {detail}G {:.2} M parameters, D {:.2} M · {:.1} MFLOP to draw one image, {:.1} MFLOP per image per training step",
                    config.model.label(),
                    e.generator_parameters as f64 / 1e6,
                    e.critic_parameters as f64 / 1e6,
                    e.draw_flops as f64 / 1e6,
                    e.step_flops as f64 / 1e6,
                );
                if let Some(bytes) = e.training_bytes {
                    line += &format!(
                        " · about {:.0} MB to train at batch {}",
                        bytes as f64 / 1e6,
                        config.train.batch_size
                    );
                }
                ui.label(line);
                if config.shards_batch_norm() {
                    let n = config.devices.len();
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        format!(
                            "Split over {n} devices, BatchNorm normalises each device's {} images \
                             by their own statistics, not the whole batch's {}: training differs \
                             a little from one device's.",
                            config.train.batch_size / n,
                            config.train.batch_size
                        ),
                    );
                }
            }
            Err((field, reason)) => {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    format!("Invalid {field}: {reason}. Start is disabled."),
                );
            }
        }
    }
}

pub(super) type Row<'a> =
    dyn FnMut(&mut egui::Ui, &str, &str, &mut dyn FnMut(&mut egui::Ui) -> egui::Response) + 'a;
