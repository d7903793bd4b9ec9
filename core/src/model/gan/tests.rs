use burn::module::{ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Distribution;
use burn::tensor::Gradients;

use super::*;
use crate::model::lapgan::LapganConfig;
use crate::model::testing::scalar;
use crate::noise::NoiseStream;

fn gran(steps: usize) -> GranConfig {
    GranConfig {
        image_size: 16,
        channels: 1,
        steps,
        z_dim: 4,
        hz_dim: 6,
        hc_dim: 5,
        decoder_widths: vec![8, 4, 1],
        discriminator_widths: vec![4, 8],
        kernel_size: 4,
        ..GranConfig::default()
    }
}

fn lapgan() -> LapganConfig {
    LapganConfig {
        image_size: 28,
        channels: 1,
        levels: 3,
        z_dim: 8,
        coarse_hidden: 16,
        generator_widths: vec![4, 6],
        discriminator_widths: vec![4, 6],
        generator_kernel: 3,
        classes: 0,
        dropout: 0.5,
        uniform_noise: true,
    }
}

/// Counts the module's parameters that `grads` holds a gradient for.
fn with_gradients<M: Module>(module: &M, grads: &Gradients) -> usize {
    struct Count<'a>(&'a Gradients, usize);
    impl ModuleVisitor for Count<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.1 += usize::from(param.val().grad(self.0).is_some());
        }
    }
    let mut count = Count(grads, 0);
    module.visit(&mut count);
    count.1
}

/// The G step handed the D step's drawing gives the loss of G drawing afresh from the D
/// step's noise (not from the noise handed with it); its gradient reaches G's weights and
/// none of D's.
fn reuses_the_drawing<M: Gan>(model: M, side: usize) {
    let device = Device::flex().autodiff();
    let Pair {
        generator: g,
        critic,
        ..
    } = Pair::init(&model, &device);
    let mut stream = NoiseStream::new(3, 0);
    let mut noise = || model.noise(4, model.steps(), &mut |c| stream.normals(c), &device);
    let (first, second) = (noise(), noise());
    let real = Tensor::<4>::random([4, 1, side, side], Distribution::Default, &device);
    let figures = model
        .discriminator_loss(
            &g,
            &critic,
            real.clone(),
            &first,
            Conditions::default(),
            None,
            0,
        )
        .unwrap();
    let g_loss = |n: &M::Noise, fakes: Option<M::Fakes>| {
        model
            .generator_loss(&g, &critic, Some(real.clone()), n, None, fakes, None, 0)
            .unwrap()
            .0
    };
    let reused = g_loss(&second, Some(figures.fakes));
    let fresh = g_loss(&first, None);
    let other = g_loss(&second, None);
    let (a, b) = (scalar(reused.clone()), scalar(fresh.clone()));
    assert!((a - b).abs() < 1e-5, "reused {a} vs fresh {b}");
    assert!((scalar(other) - b).abs() > 1e-5, "two draws differ");
    let grads = reused.backward();
    assert!(with_gradients(&g, &grads) > 0, "G's weights get gradients");
    assert_eq!(with_gradients(&critic, &grads), 0, "D's weights get none");
    let from_fresh = GradientsParams::from_grads(fresh.backward(), &g).len();
    assert_eq!(GradientsParams::from_grads(grads, &g).len(), from_fresh);
}

#[test]
fn gran_and_dcgan_train_g_on_the_d_steps_drawing() {
    for steps in [1, 3] {
        reuses_the_drawing(gran(steps), 16);
    }
}

#[test]
fn lapgan_trains_g_on_the_d_steps_drawing() {
    reuses_the_drawing(lapgan(), 28);
}
