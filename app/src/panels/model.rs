//! The Model panel: model kind and preset, every config field editable with validation (a bad
//! value is marked with the reason and Start is disabled), parameter count, FLOPs per image,
//! estimated training memory, and the backend.

use easel_core::backend::BackendKind;

use crate::commands::{PanelContext, StudioCommand};
use easel_core::model::Estimates;
use easel_core::model::gran::NoiseMode;
use easel_core::model::stackgan::{DiscriminatorText, Mismatch, StackGanConfig, Version};
use easel_core::train::config::DEFAULT_PRESET;
use easel_core::train::{ModelConfig, Preset, RunConfig};
use serde::{Deserialize, Serialize};

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
        match &self.estimates {
            Some((m, b, e)) if m == model && *b == batch => *e,
            _ => {
                let e = model.estimates(batch);
                self.estimates = Some((model.clone(), batch, e));
                e
            }
        }
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

type Row<'a> =
    dyn FnMut(&mut egui::Ui, &str, &str, &mut dyn FnMut(&mut egui::Ui) -> egui::Response) + 'a;

/// StackGAN's fields in the form.
fn stackgan_rows(s: &mut StackGanConfig, row: &mut Row, ui: &mut egui::Ui) {
    row(ui, "Version", "model.version", &mut |ui| {
        ui.horizontal(|ui| {
            ui.radio_value(&mut s.version, Version::V1, "v1: Stage-I, then Stage-II");
            ui.radio_value(&mut s.version, Version::V2, "v2: a tree of scales");
        })
        .response
    });
    row(ui, "Image size", "model.image_size", &mut |ui| {
        ui.add(
            egui::DragValue::new(&mut s.image_size)
                .range(4..=1024)
                .suffix(" px"),
        )
    });
    row(ui, "Channels", "model.channels", &mut |ui| {
        ui.horizontal(|ui| {
            ui.radio_value(&mut s.channels, 1, "grey");
            ui.radio_value(&mut s.channels, 3, "RGB");
        })
        .response
    });
    match s.version {
        Version::V2 => row(ui, "Scales", "model.scales", &mut |ui| {
            ui.add(egui::DragValue::new(&mut s.scales).range(1..=4))
                .on_hover_text("Generators in the tree, each at twice the side of the last")
        }),
        Version::V1 => {
            row(
                ui,
                "Stage-II / Stage-I side",
                "model.stage_ratio",
                &mut |ui| {
                    ui.horizontal(|ui| {
                        ui.radio_value(&mut s.stage_ratio, 2, "×2");
                        ui.radio_value(&mut s.stage_ratio, 4, "×4 (paper)");
                    })
                    .response
                },
            );
            row(ui, "Stage-I steps", "model.stage1_steps", &mut |ui| {
                ui.add(egui::DragValue::new(&mut s.stage1_steps).range(0..=10_000_000))
                    .on_hover_text("Steps that train Stage-I before Stage-II takes over")
            });
        }
    }
    row(ui, "z dimensions", "model.z_dim", &mut |ui| {
        ui.add(egui::DragValue::new(&mut s.z_dim).range(1..=4096))
    });
    row(
        ui,
        "Condition c dimensions",
        "model.condition_dim",
        &mut |ui| ui.add(egui::DragValue::new(&mut s.condition_dim).range(1..=4096)),
    );
    row(ui, "Generator width", "model.generator_width", &mut |ui| {
        ui.add(egui::DragValue::new(&mut s.generator_width).range(2..=8192))
            .on_hover_text("Channels of the first 4×4 map; halved by every up-sampling")
    });
    row(
        ui,
        "Discriminator width",
        "model.discriminator_width",
        &mut |ui| ui.add(egui::DragValue::new(&mut s.discriminator_width).range(1..=1024)),
    );
    row(ui, "Residual blocks", "model.residual_blocks", &mut |ui| {
        ui.add(egui::DragValue::new(&mut s.residual_blocks).range(0..=16))
    });
    row(ui, "KL weight", "model.kl_weight", &mut |ui| {
        ui.add(
            egui::DragValue::new(&mut s.kl_weight)
                .speed(0.05)
                .range(0.0..=100.0),
        )
    });
    row(
        ui,
        "Unconditional weight",
        "model.uncond_weight",
        &mut |ui| {
            ui.add(
                egui::DragValue::new(&mut s.uncond_weight)
                    .speed(0.05)
                    .range(0.0..=100.0),
            )
        },
    );
    if s.conditional() {
        row(ui, "Mismatched text", "model.mismatch", &mut |ui| {
            ui.horizontal(|ui| {
                ui.radio_value(&mut s.mismatch, Mismatch::Next, "the next image's")
                    .on_hover_text(
                        "Each real image with the next image's caption (the papers' code)",
                    );
                ui.radio_value(
                    &mut s.mismatch,
                    Mismatch::NearestOtherClass,
                    "also the nearest of another class",
                )
                .on_hover_text(
                    "Also with the batch's caption closest to its own among images of another \
                     class, so D must read more than the easiest words (needs labelled images)",
                );
                ui.radio_value(
                    &mut s.mismatch,
                    Mismatch::Counterpart,
                    "also its counterpart's",
                )
                .on_hover_text(
                    "Also with the caption of its counterpart: the training image of another \
                     class whose caption is closest to its own (on the shapes: the same colours \
                     and size, another shape), so D must read the class (needs labelled images)",
                )
            })
            .response
        });
        row(
            ui,
            "D reads the text as",
            "model.discriminator_text",
            &mut |ui| {
                ui.horizontal(|ui| {
                    ui.radio_value(
                        &mut s.discriminator_text,
                        DiscriminatorText::Mu,
                        "G's μ (the codes)",
                    )
                    .on_hover_text(
                        "The generator's Conditioning Augmentation mean, detached, as both \
                     reference codes: it keeps what G already draws",
                    );
                    ui.radio_value(
                        &mut s.discriminator_text,
                        DiscriminatorText::Embedding,
                        "its own compression (the papers)",
                    )
                    .on_hover_text(
                        "Each discriminator compresses the sentence embedding with its own fully \
                     connected layer, trained with D, as both papers describe",
                    )
                })
                .response
            },
        );
    }
    if s.version == Version::V2 {
        row(
            ui,
            "Colour λ1 (means)",
            "model.colour_mean_weight",
            &mut |ui| {
                ui.add(
                    egui::DragValue::new(&mut s.colour_mean_weight)
                        .speed(0.1)
                        .range(0.0..=1000.0),
                )
            },
        );
        row(
            ui,
            "Colour λ2 (covariances)",
            "model.colour_cov_weight",
            &mut |ui| {
                ui.add(
                    egui::DragValue::new(&mut s.colour_cov_weight)
                        .speed(0.1)
                        .range(0.0..=1000.0),
                )
            },
        );
    }
    row(ui, "Instance noise σ", "model.instance_noise", &mut |ui| {
        ui.add(
            egui::DragValue::new(&mut s.instance_noise)
                .speed(0.01)
                .range(0.0..=2.0),
        )
        .on_hover_text(
            "Gaussian noise added to every image the discriminators read, real or fake \
             (images span −1 to 1); 0, as the papers, adds none",
        )
    });
    if s.instance_noise > 0.0 {
        row(
            ui,
            "Noise falls to 0 after",
            "model.instance_noise_steps",
            &mut |ui| {
                ui.add(
                    egui::DragValue::new(&mut s.instance_noise_steps)
                        .range(0..=10_000_000)
                        .suffix(" steps"),
                )
                .on_hover_text("Linearly, from σ at step 0; 0 keeps σ constant")
            },
        );
    }
    row(ui, "Mode seeking", "model.mode_seeking", &mut |ui| {
        ui.add(
            egui::DragValue::new(&mut s.mode_seeking)
                .speed(0.05)
                .range(0.0..=100.0),
        )
        .on_hover_text(
            "Weight of a term in G's loss that pushes two drawings of one caption apart \
             (Mao et al. 2019), against a generator that draws a caption the same whatever z; \
             each batch then holds half as many images, each twice. 0, as the papers, adds none",
        )
    });
}
