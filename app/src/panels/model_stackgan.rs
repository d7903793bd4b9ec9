//! The Model panel's StackGAN rows: version, scales, widths, the loss weights, the mismatched
//! pairs, the text the discriminators read, instance noise and mode seeking.

use easel_core::model::stackgan::{DiscriminatorText, Mismatch, StackGanConfig, Version};

use super::model::Row;

/// StackGAN's fields in the form.
pub(super) fn stackgan_rows(s: &mut StackGanConfig, row: &mut Row, ui: &mut egui::Ui) {
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
