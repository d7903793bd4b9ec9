//! How the Arena panel draws its results: a battle's banner and Table 1 grid with example
//! images, a round robin's leaderboard and r_sample heatmap, and a score's figures with the
//! probed samples' nearest training images.

use easel_core::eval::arena::Arena;
use easel_core::eval::gam::{ErrorRate, Ratio, Winner};

use super::arena::{BattleView, ScoreView};

fn cell_text(e: &ErrorRate) -> String {
    format!("ε = {:.3}  ({} of {})", e.rate(), e.errors, e.total)
}

fn ratio_text(r: &Ratio) -> String {
    match r {
        Ratio::Value(v) => format!("{v:.3}"),
        Ratio::Infinite => "∞ (denominator 0)".into(),
        Ratio::Undefined => "undefined (0/0)".into(),
    }
}

pub(crate) fn battle_ui(ui: &mut egui::Ui, ctx: &egui::Context, b: &mut BattleView) {
    let textures = b.textures.get_or_insert_with(|| {
        [0, 1].map(|d| {
            [0, 1].map(|g| {
                let grid = &b.examples[d][g];
                crate::textures::upload_grid(ctx, &format!("arena-d{d}-g{g}"), grid, grid.count)
            })
        })
    });
    let v = &b.battle.verdict;
    let t = &b.battle.table;
    let banner = match v.winner {
        Winner::M1 => format!("M1 ({}) wins", b.names[0]),
        Winner::M2 => format!("M2 ({}) wins", b.names[1]),
        Winner::Tie => "Tie".into(),
    };
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.heading(banner);
        ui.label(format!(
            "r_test = {}   r_sample = {}",
            ratio_text(&v.r_test),
            ratio_text(&v.r_sample)
        ));
        ui.label(&v.reason);
    });
    ui.label("Table 1: each discriminator's error on each generator's samples (the fraction it calls real), with the samples that fooled it most.");
    let cells = [[&t.d1_on_g1, &t.d1_on_g2], [&t.d2_on_g1, &t.d2_on_g2]];
    egui::Grid::new("arena-table1")
        .num_columns(3)
        .spacing([16.0, 8.0])
        .show(ui, |ui| {
            ui.label("");
            ui.strong(format!("G1 samples ({})", b.names[0]));
            ui.strong(format!("G2 samples ({})", b.names[1]));
            ui.end_row();
            for d in 0..2 {
                ui.strong(format!("D{} ({})", d + 1, b.names[d]));
                for g in 0..2 {
                    ui.vertical(|ui| {
                        ui.label(cell_text(cells[d][g]));
                        let size = textures[d][g].size_vec2();
                        ui.add(egui::Image::new(&textures[d][g]).fit_to_exact_size(size * 2.0));
                    });
                }
                ui.end_row();
            }
            ui.label("on training images");
            ui.label(cell_text(&t.d1_on_train));
            ui.label(cell_text(&t.d2_on_train));
            ui.end_row();
            ui.label("on held-out test images");
            ui.label(cell_text(&t.d1_on_test));
            ui.label(cell_text(&t.d2_on_test));
            ui.end_row();
        });
}

pub(crate) fn round_robin_ui(ui: &mut egui::Ui, a: &Arena) {
    ui.heading("Leaderboard");
    egui::Grid::new("arena-board")
        .num_columns(6)
        .striped(true)
        .show(ui, |ui| {
            for h in ["", "run", "W", "T", "L", "rating (± s.e.)"] {
                ui.strong(h);
            }
            ui.end_row();
            for (i, s) in a.leaderboard.iter().enumerate() {
                ui.label(format!("{}", i + 1));
                ui.label(&s.name);
                ui.label(s.wins.to_string());
                ui.label(s.ties.to_string());
                ui.label(s.losses.to_string());
                ui.label(format!("{:.0} ± {:.0}", s.rating, s.rating_se));
                ui.end_row();
            }
        });
    if !a.groups.is_empty() {
        ui.add_space(8.0);
        ui.heading("By configuration");
        ui.label(
            "Each configuration's mean rating over its seeds, ± the standard error of that mean.",
        );
        egui::Grid::new("arena-groups")
            .num_columns(4)
            .striped(true)
            .show(ui, |ui| {
                for h in ["", "configuration", "seeds", "mean rating (± s.e.)"] {
                    ui.strong(h);
                }
                ui.end_row();
                for (i, g) in a.groups.iter().enumerate() {
                    ui.label(format!("{}", i + 1));
                    ui.label(&g.name);
                    ui.label(g.models.len().to_string());
                    ui.label(match g.se {
                        Some(se) => format!("{:.0} ± {se:.0}", g.mean),
                        None if g.grouped => format!("{:.0} (one seed)", g.mean),
                        None => format!("{:.0} (not in a sweep)", g.mean),
                    });
                    ui.end_row();
                }
            });
    }
    ui.add_space(8.0);
    ui.heading("r_sample (row as M1, column as M2)");
    ui.label("Blue: the row model's discriminator is fooled less (r_sample < 1, the row wins on samples); red: more.");
    let n = a.names.len();
    let cell = 56.0;
    let label_width = 140.0;
    let (rect, _) = ui.allocate_exact_size(
        egui::vec2(label_width + cell * n as f32, cell * (n as f32 + 0.5)),
        egui::Sense::hover(),
    );
    let painter = ui.painter_at(rect);
    let text_color = ui.visuals().text_color();
    for (j, name) in a.names.iter().enumerate() {
        painter.text(
            rect.min + egui::vec2(label_width + cell * (j as f32 + 0.5), cell * 0.25),
            egui::Align2::CENTER_CENTER,
            format!("{}", j + 1),
            egui::FontId::proportional(12.0),
            text_color,
        );
        painter.text(
            rect.min + egui::vec2(0.0, cell * (j as f32 + 1.0)),
            egui::Align2::LEFT_CENTER,
            format!("{} {name}", j + 1),
            egui::FontId::proportional(12.0),
            text_color,
        );
    }
    for i in 0..n {
        for j in 0..n {
            let min = rect.min + egui::vec2(label_width + cell * j as f32, cell * (i as f32 + 0.5));
            let r = egui::Rect::from_min_size(min, egui::vec2(cell - 2.0, cell - 2.0));
            let (fill, text) = match a.r_sample[i][j] {
                _ if i == j => (egui::Color32::from_gray(90), "—".to_string()),
                Ratio::Value(v) => {
                    // log2 ratio mapped to [0, 1]: 0.25 → blue, 1 → white, 4 → red.
                    let x = (v.max(1e-6).log2() / 4.0 + 0.5) as f32;
                    let [r, g, b] = crate::textures::diverging(x);
                    (egui::Color32::from_rgb(r, g, b), format!("{v:.2}"))
                }
                Ratio::Infinite => (egui::Color32::from_rgb(255, 60, 50), "∞".into()),
                Ratio::Undefined => (egui::Color32::from_gray(160), "0/0".into()),
            };
            painter.rect_filled(r, 2.0, fill);
            painter.text(
                r.center(),
                egui::Align2::CENTER_CENTER,
                text,
                egui::FontId::proportional(12.0),
                egui::Color32::BLACK,
            );
        }
    }
}

pub(crate) fn score_ui(ui: &mut egui::Ui, ctx: &egui::Context, s: &mut ScoreView) {
    let textures = s.textures.get_or_insert_with(|| {
        s.neighbour_rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                crate::textures::upload_grid(ctx, &format!("arena-nn-{i}"), row, row.count)
            })
            .collect()
    });
    let r = &s.report;
    let k = r.classes.len();
    ui.label(format!(
        "{} on {}: classifier right on {:.1}% of held-out images ({k} classes)",
        s.name,
        r.dataset,
        100.0 * r.classifier_accuracy
    ));
    egui::Grid::new("arena-score")
        .num_columns(4)
        .striped(true)
        .show(ui, |ui| {
            for h in [
                "",
                "classifier score",
                "Fréchet distance",
                "classes covered",
            ] {
                ui.strong(h);
            }
            ui.end_row();
            for (name, f) in [
                (format!("{} samples", r.samples.count), &r.samples),
                (format!("{} held-out images", r.real.count), &r.real),
            ] {
                ui.label(name);
                ui.label(format!("{:.3}", f.classifier_score));
                ui.label(format!("{:.3}", f.frechet_distance));
                ui.label(format!("{} of {k}", f.coverage.covered));
                ui.end_row();
            }
        });
    ui.label(format!(
        "Samples per class: {}",
        r.classes
            .iter()
            .zip(&r.samples.coverage.histogram)
            .map(|(c, n)| format!("{c} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for line in r.text_lines() {
        // The report's lines start lower case for the terminal; a label reads as a sentence.
        let mut chars = line.chars();
        let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
        ui.label(format!("{}{}", first.unwrap_or_default(), chars.as_str()));
    }
    ui.label(format!(
        "Memorisation: a sample's nearest training image is {:.2}× as far as a held-out image's (well below 1 suggests copying).",
        r.memorisation_ratio
    ));
    ui.strong("Nearest training images (pixel distance): the sample first, then its neighbours");
    for t in textures.iter() {
        let size = t.size_vec2();
        ui.add(egui::Image::new(t).fit_to_exact_size(size * 2.0));
    }
}
