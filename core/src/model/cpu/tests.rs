//! The channels-last kernels against burn's own: convolutions, transposed convolutions and
//! BatchNorm with each activation, on random shapes and values, outputs and every gradient.

use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::Distribution;
use rand::{Rng, SeedableRng};

use super::*;

fn assert_close<const D: usize>(a: Tensor<D>, b: Tensor<D>, what: &str) {
    assert_eq!(a.dims(), b.dims(), "{what}: shape");
    let a = a.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    let b = b.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
        .fold(0f32, f32::max);
    assert!(worst < 2e-4, "{what}: differs by {worst}");
}

fn rng() -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(11)
}

/// Strided convolutions of random sizes on rows equal burn's NCHW kernel, with the gradients
/// of the input, the weight and the bias.
#[test]
fn convolutions_on_rows_match_burns_with_their_gradients() {
    let device = Device::flex().autodiff();
    let mut rng = rng();
    for _ in 0..6 {
        let (c_in, c_out) = (rng.random_range(1..6), rng.random_range(1..7));
        let kernel = rng.random_range(2..6);
        let padding = rng.random_range(0..kernel / 2 + 1);
        let side = [rng.random_range(kernel..15), rng.random_range(kernel..15)];
        let batch = rng.random_range(1..4);
        let conv = Conv2dConfig::new([c_in, c_out], [kernel, kernel])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Explicit(
                padding, padding, padding, padding,
            ))
            .init(&device);
        let x = Tensor::<4>::random(
            [batch, c_in, side[0], side[1]],
            Distribution::Default,
            &device,
        )
        .require_grad();
        let fast = conv2d(&conv, Rows::from_nchw(x.clone())).into_nchw();
        let slow = conv.forward(x.clone());
        let target = Tensor::random(slow.dims(), Distribution::Default, &device);
        let g_fast = (fast.clone() * target.clone()).sum().backward();
        let g_slow = (slow.clone() * target).sum().backward();
        let what = format!("conv {c_in}→{c_out} k{kernel} p{padding} side {side:?}");
        assert_close(fast, slow, &what);
        assert_close(
            x.grad(&g_fast).unwrap(),
            x.grad(&g_slow).unwrap(),
            &format!("{what} dx"),
        );
        assert_close(
            conv.weight.grad(&g_fast).unwrap(),
            conv.weight.grad(&g_slow).unwrap(),
            &format!("{what} dW"),
        );
        let bias = conv.bias.as_ref().unwrap();
        assert_close(
            bias.grad(&g_fast).unwrap(),
            bias.grad(&g_slow).unwrap(),
            &format!("{what} db"),
        );
    }
}

/// Transposed convolutions (odd and even kernels, with and without output padding) on rows
/// equal burn's, with their gradients.
#[test]
fn transposed_convolutions_on_rows_match_burns_with_their_gradients() {
    let device = Device::flex().autodiff();
    let mut rng = rng();
    for (kernel, padding, padding_out) in [(5, 2, 1), (4, 1, 0), (3, 1, 1), (5, 2, 1)] {
        let (c_in, c_out) = (rng.random_range(1..7), rng.random_range(1..5));
        let side = rng.random_range(2..9);
        let batch = rng.random_range(1..4);
        let deconv = ConvTranspose2dConfig::new([c_in, c_out], [kernel, kernel])
            .with_stride([2, 2])
            .with_padding([padding, padding])
            .with_padding_out([padding_out, padding_out])
            .init(&device);
        let x = Tensor::<4>::random([batch, c_in, side, side], Distribution::Default, &device)
            .require_grad();
        let fast = conv_transpose2d(&deconv, Rows::from_nchw(x.clone())).into_nchw();
        let slow = deconv.forward(x.clone());
        let target = Tensor::random(slow.dims(), Distribution::Default, &device);
        let g_fast = (fast.clone() * target.clone()).sum().backward();
        let g_slow = (slow.clone() * target).sum().backward();
        let what = format!("deconv {c_in}→{c_out} k{kernel} p{padding} side {side}");
        assert_close(fast, slow, &what);
        assert_close(
            x.grad(&g_fast).unwrap(),
            x.grad(&g_slow).unwrap(),
            &format!("{what} dx"),
        );
        assert_close(
            deconv.weight.grad(&g_fast).unwrap(),
            deconv.weight.grad(&g_slow).unwrap(),
            &format!("{what} dW"),
        );
        let bias = deconv.bias.as_ref().unwrap();
        assert_close(
            bias.grad(&g_fast).unwrap(),
            bias.grad(&g_slow).unwrap(),
            &format!("{what} db"),
        );
    }
}

fn norm(c: usize, device: &Device) -> BatchNorm {
    let n = BatchNormConfig::new(c).init(device);
    // γ and β away from 1 and 0, so their gradients and roles show (leaves, like parameters).
    let shifted = |t: Tensor<1>| {
        (t.clone() + Tensor::random(t.dims(), Distribution::Default, device))
            .detach()
            .require_grad()
    };
    BatchNorm {
        gamma: n.gamma.map(shifted),
        beta: n.beta.map(shifted),
        ..n
    }
}

/// The fused BatchNorm + activation equals burn's `BatchNorm` then the activation in training
/// (values; gradients of x, γ and β; the running statistics after the update) and in inference.
#[test]
fn fused_batch_norm_matches_burns_with_its_gradients_and_running_statistics() {
    let device = Device::flex().autodiff();
    let mut rng = rng();
    for act in [
        Activation::Relu,
        Activation::LeakyRelu,
        Activation::Identity,
    ] {
        for _ in 0..3 {
            let (rows, c) = (rng.random_range(2..700), rng.random_range(1..40));
            let x = Tensor::<2>::random([rows, c], Distribution::Normal(0.7, 2.0), &device)
                .require_grad();
            let fused_norm = norm(c, &device);
            let burn_norm = fused_norm.clone();
            // The clone shares running statistics: give the burn side its own.
            let burn_norm = BatchNorm {
                running_mean: burn::module::RunningState::new(burn_norm.running_mean.value()),
                running_var: burn::module::RunningState::new(burn_norm.running_var.value()),
                ..burn_norm
            };
            let fast = batch_norm_act(&fused_norm, x.clone(), act);
            let slow = act.apply(burn_norm.forward(x.clone()));
            let target = Tensor::random(slow.dims(), Distribution::Default, &device);
            let g_fast = (fast.clone() * target.clone()).sum().backward();
            let g_slow = (slow.clone() * target).sum().backward();
            let what = format!("{act:?} {rows}×{c}");
            assert_close(fast, slow, &what);
            assert_close(
                x.grad(&g_fast).unwrap(),
                x.grad(&g_slow).unwrap(),
                &format!("{what} dx"),
            );
            for (a, b, name) in [
                (&fused_norm.gamma, &burn_norm.gamma, "dγ"),
                (&fused_norm.beta, &burn_norm.beta, "dβ"),
            ] {
                assert_close(
                    a.grad(&g_fast).unwrap(),
                    b.grad(&g_slow).unwrap(),
                    &format!("{what} {name}"),
                );
            }
            assert_close(
                fused_norm.running_mean.value(),
                burn_norm.running_mean.value(),
                &format!("{what} running mean"),
            );
            assert_close(
                fused_norm.running_var.value(),
                burn_norm.running_var.value(),
                &format!("{what} running variance"),
            );
            // Inference reads the running statistics, as burn's does.
            let (fused_valid, burn_valid) = (fused_norm.valid(), burn_norm.valid());
            let x = x.inner();
            assert_close(
                batch_norm_act(&fused_valid, x.clone(), act),
                act.apply(burn_valid.forward(x)),
                &format!("{what} inference"),
            );
        }
    }
}

/// `col2im_rows` is the adjoint of `im2col_rows`: ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩.
#[test]
fn col2im_on_rows_is_the_adjoint_of_im2col() {
    let device = Device::flex();
    let windows = Windows::new(3, [9, 8], 5, 2, 2);
    let x = Tensor::<4>::random([2, 9, 8, 3], Distribution::Default, &device);
    let y = Tensor::<2>::random(
        [2 * windows.per_image(), windows.window_len()],
        Distribution::Default,
        &device,
    );
    let left = (im2col_rows(x.clone(), windows) * y.clone())
        .sum()
        .into_scalar::<f32>();
    let right = (x * col2im_rows(y, windows)).sum().into_scalar::<f32>();
    assert!(
        (left - right).abs() < 1e-3 * left.abs().max(1.0),
        "{left} vs {right}"
    );
}
