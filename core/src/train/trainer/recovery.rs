//! What keeps a run going when its numbers do not: non-finite losses and weights caught in the
//! step they appear, the roll-back to the newest checkpoint with lower learning rates, and the
//! fault injection the tests use.

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

use super::Trainer;
use crate::error::{Error, Result};
use crate::train::checkpoint;
use crate::train::config::RunConfig;
use crate::train::events::Event;

impl Trainer {
    /// The step of the newest intact checkpoint, if any.
    pub fn newest_checkpoint_step(&self) -> Option<u64> {
        checkpoint::load_latest(&self.run.checkpoints())
            .ok()
            .map(|(c, _, _)| c.state.step)
    }

    /// Goes back to the newest intact checkpoint (weights, optimizers, data order, noise) with
    /// both learning rates multiplied by `lr_scale` (in (0, 1]), which is written to the run's
    /// config.toml so later resumes keep it. This session's stop conditions are kept.
    pub fn roll_back(&mut self, lr_scale: f64) -> Result<Event> {
        if !(lr_scale.is_finite() && lr_scale > 0.0 && lr_scale <= 1.0) {
            return Err(Error::config(
                "lr_scale",
                format!("expected a factor in (0, 1], found {lr_scale}"),
            ));
        }
        self.scale_learning_rates(lr_scale)?;
        let _ = self.log.flush();
        let from_step = self.state.step;
        let mut next = Trainer::resume(&self.run.root, Some(self.config.backend))?;
        // This session's stop conditions, with the scaled rates.
        next.config.train = self.config.train.clone();
        next.session_seconds = self.session_seconds;
        *self = next;
        Ok(Event::RolledBack {
            from_step,
            to_step: self.state.step,
            learning_rates: (self.config.train.lr_d, self.config.train.lr_g),
        })
    }

    /// Multiplies both learning rates by `factor`, in this session and in the run's config.toml
    /// (so later resumes keep them); returns the config as written.
    pub fn scale_learning_rates(&mut self, factor: f64) -> Result<RunConfig> {
        let mut on_disk = self.run.load_config()?;
        on_disk.train.lr_d *= factor;
        on_disk.train.lr_g *= factor;
        on_disk.train.validate().map_err(|e| match e {
            Error::Config { field, reason } => Error::Config {
                field,
                reason: format!("{reason} (after scaling the learning rates by {factor})"),
            },
            other => other,
        })?;
        self.run.save_config(&on_disk)?;
        self.config.train.lr_d = on_disk.train.lr_d;
        self.config.train.lr_g = on_disk.train.lr_g;
        Ok(on_disk)
    }

    #[cfg(feature = "fault-injection")]
    /// Sets one discriminator weight to NaN (fault injection for tests, through
    /// [`super::Command::PoisonWeight`]).
    pub(super) fn poison_weight(&mut self) {
        struct Poison(bool);
        impl burn::module::ModuleMapper for Poison {
            fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
                if std::mem::replace(&mut self.0, true) {
                    return param;
                }
                param.map(|t| t.mul_scalar(f32::NAN))
            }
        }
        use crate::model::gan::{Networks, each_model};
        each_model!(&mut self.networks, Networks, p => {
            p.critic = p.critic.clone().map(&mut Poison(false));
        });
    }
}

pub(super) fn check_finite(step: u64, what: &str, value: f32) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::Diverged {
            step,
            what: what.into(),
            value,
        })
    }
}

/// Whether every parameter of `module` is finite: `p - p` is 0 for finite values and NaN otherwise.
pub(super) fn all_finite<M: Module>(module: &M) -> bool {
    struct Probe(Vec<Tensor<1>>);
    impl ModuleVisitor for Probe {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let v = param.val().detach();
            self.0.push((v.clone() - v).sum());
        }
    }
    let mut probe = Probe(Vec::new());
    module.visit(&mut probe);
    if probe.0.is_empty() {
        return true;
    }
    let total = Tensor::cat(probe.0, 0)
        .sum()
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>();
    total.is_ok_and(|v| v[0] == 0.0)
}
