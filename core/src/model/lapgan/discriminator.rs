//! LAPGAN's discriminators, with the dropout whose masks training draws.

use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::{from_unit, label_plane, with_labels};
use crate::model::cpu::Activation;
use crate::model::maps::Maps;

/// Dropout whose masks the caller draws, so training stays reproducible from a checkpoint
/// (burn's `Dropout` draws from the backend's generator, which a checkpoint does not hold).
pub struct DropoutDraw<'a> {
    /// Returns `count` uniforms in [0, 1).
    pub uniforms: &'a mut dyn FnMut(usize) -> Vec<f32>,
}

impl DropoutDraw<'_> {
    fn apply<const D: usize>(&mut self, x: Tensor<D>, prob: f64) -> Tensor<D> {
        if prob == 0.0 {
            return x;
        }
        let shape = x.shape();
        let keep: Vec<f32> = (self.uniforms)(shape.num_elements())
            .into_iter()
            .map(|u| if f64::from(u) >= prob { 1.0 } else { 0.0 })
            .collect();
        let mask = Tensor::<D>::from_data(TensorData::new(keep, shape), &x.device());
        x * mask.mul_scalar(1.0 / (1.0 - prob))
    }
}

/// The coarsest level's discriminator: `[I_K, one-hot] → FC → ReLU → dropout → FC → ReLU →
/// dropout → logit`.
#[derive(Module, Debug)]
pub struct CoarseDiscriminator {
    pub(super) fc1: Linear,
    pub(super) fc2: Linear,
    pub(super) fc3: Linear,
}

/// A finer level's discriminator on `h + l_k`: valid 5 × 5 conv → ReLU → strided valid 5 × 5
/// conv → ReLU → dropout → logit.
#[derive(Module, Debug)]
pub struct BandDiscriminator {
    pub(super) conv1: Conv2d,
    pub(super) conv2: Conv2d,
    pub(super) fc: Linear,
    pub(super) label: Option<Linear>,
    pub(super) side: usize,
}

impl BandDiscriminator {
    /// The activations before the logit (dropout applied when `draw` is given).
    ///
    /// # Shapes
    /// - `image`: `[batch, channels, side, side]` (`h + l_k`)
    /// - output: `[batch, width · s²]`
    fn features(
        &self,
        image: Tensor<4>,
        labels: Option<Tensor<2>>,
        draw: Option<(&mut DropoutDraw, f64)>,
    ) -> Tensor<2> {
        let x = Tensor::cat(
            [vec![image], label_plane(&self.label, labels, self.side)].concat(),
            1,
        );
        let x = Maps::new(x) // channels-last on the CPU
            .conv(&self.conv1) // [batch, width, side − 4, side − 4]
            .act(Activation::Relu)
            .conv(&self.conv2)
            .act(Activation::Relu)
            .into_flat_nchw(); // [batch, width · s²]
        match draw {
            Some((draw, prob)) => draw.apply(x, prob),
            None => x,
        }
    }
}

/// Every level's discriminator.
#[derive(Module, Debug)]
pub struct LapganDiscriminator {
    pub(super) coarse: CoarseDiscriminator,
    pub(super) bands: Vec<BandDiscriminator>,
    pub(super) dropout: f64,
    pub(super) classes: usize,
}

impl LapganDiscriminator {
    /// Each level's logits, finest first and the coarsest last, on band-pass images `bands`
    /// given the low-pass `lows` and on the coarsest image `coarse`. Dropout when `draw` is
    /// given (training).
    pub fn level_logits(
        &self,
        coarse: Tensor<4>,
        bands: &[Tensor<4>],
        lows: &[Tensor<4>],
        labels: Option<Tensor<2>>,
        mut draw: Option<&mut DropoutDraw>,
    ) -> Vec<Tensor<2>> {
        let mut logits: Vec<Tensor<2>> = self
            .bands
            .iter()
            .enumerate()
            .map(|(k, d)| {
                let f = d.features(
                    bands[k].clone() + lows[k].clone(),
                    labels.clone(),
                    draw.as_deref_mut().map(|dr| (dr, self.dropout)),
                );
                d.fc.forward(f)
            })
            .collect();
        logits.push(self.coarse_logit(coarse, labels, draw));
        logits
    }

    fn coarse_logit(
        &self,
        image: Tensor<4>,
        labels: Option<Tensor<2>>,
        mut draw: Option<&mut DropoutDraw>,
    ) -> Tensor<2> {
        let c = &self.coarse;
        let mut x = relu(c.fc1.forward(with_labels(image.flatten(1, 3), labels)));
        if let Some(d) = draw.as_deref_mut() {
            x = d.apply(x, self.dropout);
        }
        let mut x = relu(c.fc2.forward(x));
        if let Some(d) = draw {
            x = d.apply(x, self.dropout);
        }
        c.fc3.forward(x)
    }

    /// The model's discriminator on whole images (`[batch, C, side, side]` in `[0, 1]`): the
    /// finest level's `D_0` (`h_0 + l_0 = I_0`), or the coarsest's when there is one level.
    /// Output `[batch, 1]`.
    pub fn forward(&self, images: Tensor<4>, labels: Option<Tensor<2>>) -> Tensor<2> {
        let x = from_unit(images);
        match self.bands.first() {
            Some(d) => d.fc.forward(d.features(x, labels, None)),
            None => self.coarse_logit(x, labels, None),
        }
    }

    /// The activations `D_0`'s logit reads (the memorisation check's feature space).
    pub fn features(&self, images: Tensor<4>, labels: Option<Tensor<2>>) -> Tensor<2> {
        let x = from_unit(images);
        match self.bands.first() {
            Some(d) => d.features(x, labels, None),
            None => relu(
                self.coarse.fc2.forward(relu(
                    self.coarse
                        .fc1
                        .forward(with_labels(x.flatten(1, 3), labels)),
                )),
            ),
        }
    }

    /// The one-hot label width (0 when unconditional).
    pub fn classes(&self) -> usize {
        self.classes
    }
}
