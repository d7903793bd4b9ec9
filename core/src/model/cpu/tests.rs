//! The channels-last kernels against burn's own: convolutions, transposed convolutions and
//! BatchNorm with each activation, on random shapes and values, outputs and every gradient.

use burn::backend::Dispatch;
use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::Distribution;
use rand::{Rng, SeedableRng};

use super::*;

use crate::model::testing::assert_close;

fn rng() -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(11)
}

/// Convolutions of random sizes on rows, strided (gathered windows) and stride 1 (read in
/// place, valid to same-size padding, a kernel as large as the image included), equal burn's
/// NCHW kernel, with the gradients of the input, the weight and the bias, over batches that
/// span several of the kernel gradient's tasks.
#[test]
fn convolutions_on_rows_match_burns_with_their_gradients() {
    let device = Device::flex().autodiff();
    let mut rng = rng();
    for case in 0..12 {
        let stride = 1 + case % 2;
        let (c_in, c_out) = (rng.random_range(1..6), rng.random_range(1..7));
        let kernel = rng.random_range(2..6);
        let padding = rng.random_range(0..kernel / 2 + 1);
        let side = [rng.random_range(kernel..15), rng.random_range(kernel..15)];
        let batch = rng.random_range(1..10);
        let conv = Conv2dConfig::new([c_in, c_out], [kernel, kernel])
            .with_stride([stride, stride])
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
        let what = format!("conv {c_in}→{c_out} k{kernel} s{stride} p{padding} side {side:?}");
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

/// A frozen layer (weights untracked, as D in G's step) passes the input's gradient and gives
/// its weights none; a layer reading untracked data (a real batch) gives its weights theirs and
/// the data none. Both kinds of layer, with and without bias, stride 1 and 2; values as burn's.
#[test]
fn frozen_layers_and_data_inputs_get_only_the_gradients_asked_for() {
    use burn::module::Module;
    let device = Device::flex().autodiff();
    let mut rng = rng();
    for (stride, bias) in [(2, true), (1, false), (2, false)] {
        let (c_in, c_out) = (rng.random_range(1..5), rng.random_range(1..5));
        let side = [rng.random_range(5..10), rng.random_range(5..10)];
        let conv = Conv2dConfig::new([c_in, c_out], [3, 3])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_bias(bias)
            .init(&device);
        let deconv = ConvTranspose2dConfig::new([c_out, c_in], [3, 3])
            .with_stride([stride, stride])
            .with_padding([1, 1])
            .with_padding_out([stride - 1, stride - 1])
            .with_bias(bias)
            .init(&device);
        let image =
            Tensor::<4>::random([2, c_in, side[0], side[1]], Distribution::Default, &device);
        let what = format!("stride {stride}, bias {bias}");
        // Data: the weights' gradients, none for the data.
        let fast = conv_transpose2d(&deconv, conv2d(&conv, Rows::from_nchw(image.clone())));
        let g_fast = (fast.into_nchw() * 0.5).sum().backward();
        assert!(image.grad(&g_fast).is_none(), "{what}: data dx");
        let slow = deconv.forward(conv.forward(image.clone()));
        let g_slow = (slow * 0.5).sum().backward();
        assert_close(
            conv.weight.grad(&g_fast).unwrap(),
            conv.weight.grad(&g_slow).unwrap(),
            &format!("{what}: conv dW"),
        );
        assert_close(
            deconv.weight.grad(&g_fast).unwrap(),
            deconv.weight.grad(&g_slow).unwrap(),
            &format!("{what}: deconv dW"),
        );
        // Frozen: only the input's gradient, equal to burn's.
        let (frozen_conv, frozen_deconv) = (conv.clone().no_grad(), deconv.clone().no_grad());
        let x = image.clone().require_grad();
        let fast = conv_transpose2d(
            &frozen_deconv,
            conv2d(&frozen_conv, Rows::from_nchw(x.clone())),
        );
        let grads = (fast.into_nchw() * 0.5).sum().backward();
        let fast_dx = x.grad(&grads).expect("the input's gradient");
        assert!(
            frozen_conv.weight.grad(&grads).is_none(),
            "{what}: frozen conv dW"
        );
        assert!(
            frozen_deconv.weight.grad(&grads).is_none(),
            "{what}: frozen deconv dW"
        );
        let x = image.clone().require_grad();
        let slow = frozen_deconv.forward(frozen_conv.forward(x.clone()));
        let grads = (slow * 0.5).sum().backward();
        assert_close(
            fast_dx,
            x.grad(&grads).unwrap(),
            &format!("{what}: frozen dx"),
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

/// `col2im` is the adjoint of `im2col`: ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩, for windows that
/// read padding and windows that do not; `col2im` onto a bias adds it to every pixel.
#[test]
fn col2im_on_rows_is_the_adjoint_of_im2col() {
    let mut rng = rng();
    for windows in [
        Windows::new(3, [9, 8], 5, 2, 2),
        Windows::new(2, [7, 7], 3, 1, 1),
        Windows::new(4, [6, 5], 2, 2, 0),
    ] {
        let image_len = windows.height * windows.width * windows.channels;
        let x: Vec<f32> = (0..2 * image_len)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let cols_len = 2 * windows.per_image() * windows.window_len();
        let y: Vec<f32> = (0..cols_len).map(|_| rng.random_range(-1.0..1.0)).collect();
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(a, b)| a * b).sum::<f32>();
        let left = dot(&windows::im2col(&x, &windows), &y);
        let back = windows::col2im(&y, &windows, None);
        let right = dot(&x, &back);
        assert!(
            (left - right).abs() < 1e-3 * left.abs().max(1.0),
            "{windows:?}: {left} vs {right}"
        );
        let bias: Vec<f32> = (0..windows.channels).map(|c| c as f32 + 0.5).collect();
        let onto = windows::col2im(&y, &windows, Some(&bias));
        for (i, (with, without)) in onto.iter().zip(&back).enumerate() {
            let want = without + bias[i % windows.channels];
            assert!(
                (with - want).abs() < 1e-5,
                "{windows:?} at {i}: {with} vs {want}"
            );
        }
    }
}

/// The fused gated linear unit equals burn's `a ⊙ σ(b)` on random widths, with its gradient,
/// far into both tails of the sigmoid.
#[test]
fn fused_glu_matches_burns_with_its_gradient() {
    let device = Device::flex().autodiff();
    let mut rng = rng();
    for _ in 0..4 {
        let (rows, c) = (rng.random_range(1..2000), rng.random_range(1..40));
        let x = Tensor::<2>::random([rows, 2 * c], Distribution::Normal(0.0, 6.0), &device)
            .require_grad();
        let fast =
            Tensor::<2>::from_dispatch(<Dispatch as RowOps>::glu_rows(x.clone().into_dispatch()));
        let slow = crate::model::maps::glu(x.clone());
        let target = Tensor::random(slow.dims(), Distribution::Default, &device);
        let g_fast = (fast.clone() * target.clone()).sum().backward();
        let g_slow = (slow.clone() * target).sum().backward();
        let what = format!("glu [{rows}, {}]", 2 * c);
        assert_close(fast, slow, &what);
        assert_close(
            x.grad(&g_fast).unwrap(),
            x.grad(&g_slow).unwrap(),
            &format!("{what} dx"),
        );
    }
}
