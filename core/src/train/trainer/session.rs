//! The session loop of [`Trainer`]: stop conditions, commands between steps (pause, resume,
//! single D or G steps, save now, stop), events to a sink and the event log, the final checkpoint.

use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Instant;

use super::Trainer;
use crate::error::{Error, Result};
use crate::train::events::{Command, Divergence, Event, StepKind, StopReason};

impl Trainer {
    /// Why this session would stop before its next step, if it would: `max_steps` or `epochs`
    /// reached, or `minutes` of this session's work (steps, sample grids, checkpoints; not
    /// pauses) used up.
    pub fn stop_reason(&self) -> Option<StopReason> {
        let t = &self.config.train;
        if t.max_steps.is_some_and(|m| self.state.step >= m) {
            Some(StopReason::MaxSteps)
        } else if t.epochs.is_some_and(|e| self.state.epoch >= e) {
            Some(StopReason::Epochs)
        } else if t.minutes.is_some_and(|m| self.session_seconds >= m * 60.0) {
            Some(StopReason::TimeBudget)
        } else {
            None
        }
    }

    /// Whether a stop was asked through the run folder ([`crate::train::RunDir::request_stop`]);
    /// the request is taken (its file removed) when it is seen.
    fn stop_requested(&self) -> bool {
        std::fs::remove_file(self.run.stop_request()).is_ok()
    }

    fn emit(&mut self, event: Event, sink: &mut dyn FnMut(Event)) {
        // The log is a record for people; a full disk must not stop training here (checkpoint
        // writes report it).
        let _ = self.log.append(&event);
        if matches!(
            event,
            Event::Started { .. }
                | Event::Samples { .. }
                | Event::Paused { .. }
                | Event::RolledBack { .. }
                | Event::Finished { .. }
        ) {
            self.publish();
        }
        sink(event);
    }

    /// Hands the networks as they stand to whoever shares the live slot (the studio): when
    /// training starts, with every sample grid, when it pauses, rolls back or finishes — not at
    /// every step, so the optimiser keeps updating its tensors in place in between. Not after a
    /// divergence, whose step may have updated one network.
    fn publish(&self) {
        let Some(slot) = &self.live else { return };
        if self.diverged.is_some() {
            return;
        }
        let snapshot = super::super::job::Snapshot {
            step: self.state.step,
            config: self.config.clone(),
            networks: self.networks(),
        };
        if let Ok(mut live) = slot.lock() {
            *live = Some(snapshot);
        }
    }

    /// Publishes the networks to `slot` from now on (see [`Self::publish`]).
    pub fn share_live(&mut self, slot: super::super::job::LiveSlot) {
        self.live = Some(slot);
    }

    fn finish(&mut self, reason: StopReason, sink: &mut dyn FnMut(Event)) -> Result<StopReason> {
        // After a divergence the state is mid-step: the newest checkpoint stays the last word.
        if self.last_checkpoint_step != Some(self.state.step) && self.diverged.is_none() {
            let event = self.save_checkpoint()?;
            self.emit(event, sink);
        }
        self.emit(
            Event::Finished {
                step: self.state.step,
                reason,
            },
            sink,
        );
        let _ = self.log.flush();
        Ok(reason)
    }

    /// Takes a step; a divergence is reported as [`Event::Diverged`] and answered with `true`
    /// (the caller pauses), other errors end the job.
    fn take_step(&mut self, kind: StepKind, sink: &mut dyn FnMut(Event)) -> Result<bool> {
        let started = Instant::now();
        let result = self.take_step_inner(kind, sink);
        self.session_seconds += started.elapsed().as_secs_f64();
        match result {
            Ok(()) => {
                self.diverged = None;
                Ok(false)
            }
            Err(Error::Diverged { step, what, value }) => {
                self.diverged = Some(step);
                let last_good = self.newest_checkpoint_step();
                self.emit(
                    Event::Diverged(Divergence {
                        step,
                        what,
                        value,
                        last_good,
                    }),
                    sink,
                );
                self.emit(
                    Event::Paused {
                        step: self.state.step,
                    },
                    sink,
                );
                let _ = self.log.flush();
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }

    fn take_step_inner(&mut self, kind: StepKind, sink: &mut dyn FnMut(Event)) -> Result<()> {
        let (stats, epoch_ended) = self.step(kind)?;
        let step = stats.step;
        self.emit(Event::Step(stats), sink);
        if epoch_ended {
            let epoch = self.state.epoch;
            self.emit(Event::EpochEnd { epoch, step }, sink);
        }
        if step.is_multiple_of(self.config.train.sample_every) || kind != StepKind::Full {
            let event = self.sample_event()?;
            self.emit(event, sink);
        }
        if step.is_multiple_of(self.config.train.checkpoint_every) {
            let event = self.save_checkpoint()?;
            self.emit(event, sink);
            let _ = self.log.flush();
        }
        Ok(())
    }

    /// Trains until a stop condition or a `Stop` command, answering `commands` between steps and
    /// reporting through `sink`. Errors are reported as [`Event::Error`] and returned.
    pub fn run(
        &mut self,
        commands: &Receiver<Command>,
        sink: &mut dyn FnMut(Event),
    ) -> Result<StopReason> {
        let result = self.run_inner(commands, sink);
        if let Err(e) = &result {
            let step = Some(self.state.step);
            self.emit(
                Event::Error {
                    step,
                    message: e.to_string(),
                },
                sink,
            );
            let _ = self.log.flush();
        }
        result
    }

    fn run_inner(
        &mut self,
        commands: &Receiver<Command>,
        sink: &mut dyn FnMut(Event),
    ) -> Result<StopReason> {
        let started = Event::Started {
            run_dir: self.run.root.clone(),
            step: self.state.step,
            steps_per_epoch: self.steps_per_epoch(),
            target_step: self.target_step(),
            warnings: std::mem::take(&mut self.warnings),
        };
        self.emit(started, sink);
        // A stop asked of an earlier session is not this one's.
        let _ = std::fs::remove_file(self.run.stop_request());
        // The fixed-z grid where training starts (or resumes), so a listener has one at once.
        let clock = Instant::now();
        let event = self.sample_event()?;
        self.session_seconds += clock.elapsed().as_secs_f64();
        self.emit(event, sink);
        let mut paused = false;
        loop {
            loop {
                let command = if paused {
                    // Paused, the stop request is looked for twice a second.
                    match commands.recv_timeout(std::time::Duration::from_millis(500)) {
                        Ok(c) => c,
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                            if self.stop_requested() {
                                return self.finish(StopReason::Requested, sink);
                            }
                            continue;
                        }
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                            return self.finish(StopReason::Requested, sink);
                        }
                    }
                } else {
                    match commands.try_recv() {
                        Ok(c) => c,
                        Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                    }
                };
                match command {
                    Command::Pause => {
                        paused = true;
                        let _ = self.log.flush();
                        self.emit(
                            Event::Paused {
                                step: self.state.step,
                            },
                            sink,
                        );
                    }
                    Command::Resume => {
                        if paused {
                            paused = false;
                            self.emit(
                                Event::Resumed {
                                    step: self.state.step,
                                },
                                sink,
                            );
                        }
                    }
                    Command::Stop => return self.finish(StopReason::Requested, sink),
                    Command::StepD => {
                        paused |= self.take_step(StepKind::DiscriminatorOnly, sink)?;
                    }
                    Command::StepG => paused |= self.take_step(StepKind::GeneratorOnly, sink)?,
                    Command::SaveNow if self.diverged.is_some() => {}
                    Command::SaveNow => {
                        let event = self.save_checkpoint()?;
                        self.emit(event, sink);
                    }
                    Command::RollBack { lr_scale } => {
                        let event = self.roll_back(lr_scale)?;
                        self.emit(event, sink);
                        let _ = self.log.flush();
                    }
                    #[cfg(feature = "fault-injection")]
                    Command::PoisonWeight => self.poison_weight(),
                }
                if !paused {
                    break;
                }
            }
            if let Some(reason) = self.stop_reason() {
                return self.finish(reason, sink);
            }
            if self.stop_requested() {
                return self.finish(StopReason::Requested, sink);
            }
            if self.take_step(StepKind::Full, sink)? {
                paused = true;
            }
        }
    }
}
