//! `--tour`: the studio walks itself through its panels at a fixed interval, doing at each stop
//! what a user would (draw samples, open the run, battle it), and photographs each stop near its
//! end: what `bench/studio_frames.sh` uses to show every panel in a real window. The Pyramid
//! stop comes for a LAPGAN run, the Text stop for a StackGAN run.

use std::sync::Arc;

use easel_core::train::{Command, ModelConfig, RunDir};

use super::Studio;
use crate::commands::PanelContext;
use crate::panels::PanelKind;
use crate::picker::Wake;

/// A stop: a panel, and for the Canvas whether ΔC_t is shown.
type Stop = (PanelKind, bool);

/// The stops for a run of `model` (none: no run yet).
fn stops(model: Option<&ModelConfig>) -> Vec<Stop> {
    let mut stops = vec![
        (PanelKind::Data, false),
        (PanelKind::Model, false),
        (PanelKind::Train, false),
        (PanelKind::Canvas, false),
        (PanelKind::Canvas, true),
    ];
    match model {
        Some(ModelConfig::Lapgan(_)) => stops.push((PanelKind::Pyramid, false)),
        Some(ModelConfig::StackGan(_)) => stops.push((PanelKind::Text, false)),
        _ => {}
    }
    stops.extend([
        (PanelKind::Runs, false),
        (PanelKind::Export, false),
        (PanelKind::Arena, false),
    ]);
    stops
}

impl Studio {
    /// The tour's stops for the run the studio shows.
    fn tour_stops(&self) -> Vec<Stop> {
        let config = self
            .canvas_run
            .as_ref()
            .and_then(|run| RunDir::new(run).load_config().ok())
            .or_else(|| self.state.model.build().ok());
        stops(config.as_ref().map(|c| &c.model))
    }

    /// At each interval, moves to the next stop; takes a screenshot near its end.
    pub(super) fn tour(&mut self, ctx: &egui::Context) {
        let Some(every) = self.automation.tour else {
            return;
        };
        ctx.request_repaint_after(std::time::Duration::from_millis(100));
        let elapsed = self.opened_at.elapsed().as_secs_f64();
        let stop = (elapsed / every) as usize;
        let tour = self.tour_stops();
        if stop >= tour.len() {
            return;
        }
        let repaint = ctx.clone();
        let wake: Wake = Arc::new(move || repaint.request_repaint());
        if self.tour_progress.0 <= stop {
            // Entering stop `stop` (once).
            self.tour_progress.0 = stop + 1;
            let (panel, delta) = tour[stop];
            self.state.panel = panel;
            self.enter_stop(panel, delta, wake);
        }
        let shot_at = (stop as f64 + 0.85) * every;
        if let Some(dir) = &self.automation.screenshots
            && elapsed >= shot_at
            && self.tour_progress.1 <= stop
        {
            self.tour_progress.1 = stop + 1;
            let (panel, delta) = tour[stop];
            let path = dir.join(format!(
                "{:02}-{}{}.png",
                stop + 1,
                panel.label().to_lowercase(),
                if delta { "-delta" } else { "" }
            ));
            let _ = std::fs::create_dir_all(dir);
            ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(
                egui::ScreenshotCallback::new(move |image| {
                    let [w, h] = image.size;
                    let bytes: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
                    match image::RgbaImage::from_raw(w as u32, h as u32, bytes) {
                        Some(img) => {
                            if let Err(e) = img.save(&path) {
                                eprintln!("could not save {}: {e}", path.display());
                            }
                        }
                        None => eprintln!("screenshot of unexpected size {w}×{h}"),
                    }
                }),
            ));
        }
    }

    /// What a user would do on arriving at a stop.
    fn enter_stop(&mut self, panel: PanelKind, delta: bool, wake: Wake) {
        let run = self.canvas_run.clone();
        let inference = self.inference();
        let cx = PanelContext {
            inference: &inference,
            commands: &self.commands,
            picker: self.picker.as_ref(),
            jobs: &self.jobs,
            wake,
        };
        match (panel, run) {
            (PanelKind::Train, _) => {
                // Save a checkpoint now so the later stops have one.
                if let Some(s) = &self.session {
                    s.send(Command::SaveNow);
                }
            }
            (PanelKind::Canvas, Some(run)) if !delta => self.state.canvas.draw(&run, &cx),
            (PanelKind::Canvas, _) => {
                self.state.canvas.show_delta = true;
                self.state.canvas.t = self.state.canvas.max_steps().unwrap_or(1).min(3);
            }
            (PanelKind::Pyramid, Some(run)) => self.state.pyramid.draw(&run, &cx),
            (PanelKind::Text, Some(run)) => self.state.text.draw(&run, &cx),
            (PanelKind::Runs, Some(run)) => self.runs.open(&run, false),
            (PanelKind::Export, Some(run)) => self.state.export.set_run(&run),
            (PanelKind::Arena, Some(run)) => {
                // The run against itself: a quick battle that fills Table 1.
                let arena = &mut self.state.arena;
                arena.mode = crate::panels::arena::ArenaMode::Battle;
                arena.m1 = Some(run.clone());
                arena.m2 = Some(run);
                arena.samples = arena.samples.min(500);
                arena.start(&cx);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use easel_core::train::Preset;

    #[test]
    fn each_model_family_tours_its_own_panel() {
        let spec_of = |name: &str| Preset::find(name).unwrap().config;
        let panels = |name: &str| -> Vec<PanelKind> {
            let c = spec_of(name);
            stops(Some(&c.model)).into_iter().map(|s| s.0).collect()
        };
        assert!(panels("lapgan-fmnist").contains(&PanelKind::Pyramid));
        assert!(!panels("lapgan-fmnist").contains(&PanelKind::Text));
        assert!(panels("stackgan2-shapes").contains(&PanelKind::Text));
        let gran = panels("gran-fmnist");
        assert!(!gran.contains(&PanelKind::Pyramid) && !gran.contains(&PanelKind::Text));
        assert_eq!(gran.len(), 8);
        assert_eq!(stops(None).len(), 8);
    }
}
