//! Data parallel, as burn's multi-device strategy does it: each batch split by rows over the
//! run's devices, the networks forked to each device, each share's forward and backward there,
//! the gradients moved to the first device and summed — each share's loss weighted by its share
//! of the batch, so the sum is the whole batch's mean gradient — then one optimiser step there.
//!
//! The noise is drawn for the whole batch on the first device and split, so the random stream,
//! the data order and the checkpoints are those of a one-device run, and a run resumes exactly
//! on the same devices. What differs: BatchNorm normalises each share by its own statistics
//! ([`crate::train::RunConfig::shards_batch_norm`]), and the sums run in another order (within
//! 1e-5 of one device on a model without BatchNorm; the tests hold it to that).

use std::ops::Range;

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;

use super::recovery::check_finite;
use super::{Batch, DFigures, GFigures, Io, read3};
use crate::error::{Error, Result};
use crate::model::gan::{Conditions, Gan, Pair};
use crate::model::lapgan::DropoutDraw;
use crate::train::events::StepKind;

/// The rows of each of `shares` parts of a batch of `batch`: as equal as can be, the first
/// parts one row longer where it does not divide.
pub(super) fn split_rows(batch: usize, shares: usize) -> Vec<Range<usize>> {
    let (base, extra) = (batch / shares, batch % shares);
    let mut start = 0;
    (0..shares)
        .map(|i| {
            let rows = start..start + base + usize::from(i < extra);
            start = rows.end;
            rows
        })
        .collect()
}

fn rows<const D: usize>(t: &Tensor<D>, rows: &Range<usize>, device: &Device) -> Tensor<D> {
    t.clone()
        .narrow(0, rows.start, rows.len())
        .to_device(device)
}

/// A D step's drawing, for the G step of the same iteration: the whole batch's noise and
/// condition, and per device the generator fork that drew its share and the share's fakes
/// (their graph kept for G's gradient).
type Drawn<M> = (
    <M as Gan>::Noise,
    Option<Tensor<2>>,
    Vec<(<M as Gan>::Generator, <M as Gan>::Fakes)>,
);

/// Sums weighted figures.
fn add3(total: &mut DFigures, w: f32, (a, b, c): DFigures) {
    total.0 += w * a;
    total.1 += w * b;
    total.2 += w * c;
}

/// [`super::iterate`] over `devices` (autodiff devices, the first the weights' own).
pub(super) fn iterate<M: Gan>(
    p: &mut Pair<M>,
    io: &mut Io,
    d_batch: Option<Batch>,
    g_fresh: Option<(Option<Tensor<2>>, Option<Tensor<4>>)>,
    kind: StepKind,
    devices: &[Device],
) -> Result<(Option<DFigures>, Option<GFigures>)> {
    let (lr_d, lr_g) = io.rates;
    let step = io.state.step;
    let batch_size = io.batch_size;
    let shares = split_rows(batch_size, devices.len());
    let weight = |r: &Range<usize>| r.len() as f32 / batch_size as f32;
    let unsplit = || {
        Error::config(
            "devices",
            "this model's batches are not split across devices",
        )
    };
    let main = io.device.clone();
    let mut d_figures = None;
    let mut drawn: Option<Drawn<M>> = None;
    if let Some(batch) = d_batch {
        let z = p
            .model
            .training_noise(batch_size, &mut |c| io.noise.normals(c), &main);
        let mut grads = GradientsAccumulator::new();
        let mut figures = (0.0, 0.0, 0.0);
        let mut fakes = Vec::with_capacity(devices.len());
        for (share, device) in shares.iter().zip(devices) {
            let critic = p.critic.clone().fork(device);
            let generator = p.generator.clone().fork(device);
            let z_share = p
                .model
                .noise_rows(&z, share.clone(), device)
                .ok_or_else(unsplit)?;
            let noise = &mut *io.noise;
            let mut uniforms = |c| noise.uniforms(c);
            let mut draw = DropoutDraw {
                uniforms: &mut uniforms,
            };
            let conditions = Conditions {
                condition: batch.condition.as_ref().map(|c| rows(c, share, device)),
                classes: batch.classes.as_deref().map(|c| &c[share.clone()]),
                counterparts: batch.counterparts.as_ref().map(|c| rows(c, share, device)),
            };
            let f = p.model.discriminator_loss(
                &generator,
                &critic,
                rows(&batch.real, share, device),
                &z_share,
                conditions,
                Some(&mut draw),
                step,
            )?;
            let w = weight(share);
            add3(&mut figures, w, read3(&f.loss, &f.d_real, &f.d_fake));
            let share_grads = GradientsParams::from_grads((f.loss * w).backward(), &critic);
            grads.accumulate(&p.critic, share_grads.to_device(&main, &p.critic));
            fakes.push((generator, f.fakes));
        }
        check_finite(step + 1, "D loss", figures.0)?;
        p.critic = io.optim_d.step(lr_d, p.critic.clone(), grads.grads());
        io.state.d_updates += 1;
        d_figures = Some(figures);
        drawn = Some((z, batch.condition, fakes));
    }
    let mut g_figures = None;
    if kind != StepKind::DiscriminatorOnly {
        let (z, condition, fakes, real) = match (drawn, g_fresh) {
            (Some((z, condition, fakes)), _) => (z, condition, Some(fakes), None),
            (None, fresh) => {
                let (condition, real) = fresh.unwrap_or_default();
                let z = p
                    .model
                    .training_noise(batch_size, &mut |c| io.noise.normals(c), &main);
                (z, condition, None, real)
            }
        };
        let mut grads = GradientsAccumulator::new();
        let (mut loss, mut d_fake) = (0.0, 0.0);
        let mut fakes = fakes.map(Vec::into_iter);
        for (share, device) in shares.iter().zip(devices) {
            // The updated D, read with its weights frozen.
            let critic = p.critic.clone().fork(device);
            let (generator, share_fakes) = match fakes.as_mut().and_then(Iterator::next) {
                Some((g, f)) => (g, Some(f)),
                None => (p.generator.clone().fork(device), None),
            };
            let z_share = p
                .model
                .noise_rows(&z, share.clone(), device)
                .ok_or_else(unsplit)?;
            let noise = &mut *io.noise;
            let mut uniforms = |c| noise.uniforms(c);
            let mut draw = DropoutDraw {
                uniforms: &mut uniforms,
            };
            let (share_loss, share_d_fake) = p.model.generator_loss(
                &generator,
                &critic,
                real.as_ref().map(|r| rows(r, share, device)),
                &z_share,
                condition.as_ref().map(|c| rows(c, share, device)),
                share_fakes,
                Some(&mut draw),
                step,
            )?;
            let w = weight(share);
            let (l, f, _) = read3(&share_loss, &share_d_fake, &share_d_fake);
            loss += w * l;
            d_fake += w * f;
            let share_grads = GradientsParams::from_grads((share_loss * w).backward(), &generator);
            grads.accumulate(&p.generator, share_grads.to_device(&main, &p.generator));
        }
        check_finite(step + 1, "G loss", loss)?;
        p.generator = io.optim_g.step(lr_g, p.generator.clone(), grads.grads());
        io.state.g_updates += 1;
        g_figures = Some((loss, d_fake));
    }
    super::check_weights(p, kind, step)?;
    Ok((d_figures, g_figures))
}
