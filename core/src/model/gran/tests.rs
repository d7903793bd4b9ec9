//! Tests of GRAN's networks: drawing shapes and extra steps, the canvas equation, the
//! recurrence, the latent normalisation, validation and parameter counts.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use super::*;
use crate::model::gan::Gan;

fn tiny(steps: usize) -> GranConfig {
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

#[test]
fn drawing_shapes_and_extra_steps() {
    let device = Device::flex();
    let cfg = tiny(3);
    cfg.validate().unwrap();
    let g = cfg.init_generator(&device);
    let z = Tensor::<3>::random(
        [2, 1, 4],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let d = g.generate(z, 7);
    assert_eq!(d.canvases.len(), 7);
    assert_eq!(d.delta_canvases.len(), 7);
    for c in &d.canvases {
        assert_eq!(c.dims(), [2, 1, 16, 16]);
    }
}

#[test]
fn canvas_is_sigmoid_of_summed_updates() {
    let device = Device::flex();
    let g = tiny(3).init_generator(&device);
    let z = Tensor::<3>::random(
        [2, 3, 4],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let d = g.valid().generate(z.clone(), 3);
    let sum = d
        .delta_canvases
        .iter()
        .cloned()
        .reduce(|a, b| a + b)
        .unwrap();
    let expected = sigmoid(sum).into_data().try_to_vec::<f32>().unwrap();
    let got = d.canvases[2]
        .clone()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    for (a, b) in expected.iter().zip(&got) {
        assert!((a - b).abs() < 1e-6);
    }
    let last = g
        .valid()
        .forward(z, 3)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(last, got, "forward equals the last canvas of generate");
}

#[test]
fn later_steps_depend_on_earlier_updates() {
    // With noise per step, ΔC_2 depends on ΔC_1 through g: changing step 1's z changes ΔC_2.
    let device = Device::flex();
    // Wide enough that g cannot start with every ReLU dead (2^-16 for 16 first-layer biases).
    let cfg = GranConfig {
        decoder_widths: vec![32, 16, 1],
        ..tiny(2)
    };
    let g = cfg.init_generator(&device).valid();
    let z = Tensor::<3>::random(
        [1, 2, 4],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let mut z2_data = z.to_data().try_to_vec::<f32>().unwrap();
    z2_data[0] += 3.0; // step 1's z only
    let z2 = Tensor::<3>::from_data(TensorData::new(z2_data, [1, 2, 4]), &device);
    let a0 = g.generate(z.clone(), 2).delta_canvases[0]
        .clone()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let b0 = g.generate(z2.clone(), 2).delta_canvases[0]
        .clone()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_ne!(a0, b0, "ΔC_1 depends on step 1's z");
    let a = g.generate(z, 2).delta_canvases[1]
        .clone()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let b = g.generate(z2, 2).delta_canvases[1]
        .clone()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_ne!(a, b, "ΔC_2 must depend on ΔC_1 through g");
}

#[test]
fn latent_norm_puts_h_z_on_the_scale_of_h_c() {
    // The authors' code normalises W z before its tanh; without it h_z starts near ±0.15
    // (N(0, 0.02) weights) and z hardly reaches the canvas. In training mode (batch
    // statistics) h_z's spread over a batch must be of order one with the norm, small without.
    let device = Device::flex().autodiff();
    let z = Tensor::<2>::random(
        [64, 4],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let spread = |latent_norm: bool| {
        let g = GranConfig {
            latent_norm,
            ..tiny(3)
        }
        .init_generator(&device);
        let hz = g.project(z.clone());
        hz.var(0).sqrt().mean().into_scalar::<f32>()
    };
    let (with, without) = (spread(true), spread(false));
    assert!(with > 0.5, "h_z's spread with the norm: {with}");
    assert!(without < 0.2, "h_z's spread without the norm: {without}");
}

#[test]
fn configs_from_before_latent_norm_read_without_it() {
    let old: GranConfig = toml::from_str("steps = 3\nbatch_norm = true").unwrap();
    assert!(
        !old.latent_norm,
        "an old run keeps the generator its checkpoints hold"
    );
    let g = old.init_generator(&Device::flex());
    assert!(g.hz_norm.is_none() && g.hc_norm.is_none());
    assert!(
        GranConfig::default().latent_norm,
        "new runs get the authors' normalisation"
    );
}

#[test]
fn validation_names_the_field() {
    let mut cfg = tiny(3);
    cfg.decoder_widths = vec![8, 4, 3];
    assert!(
        cfg.validate()
            .unwrap_err()
            .to_string()
            .contains("model.decoder_widths")
    );
    let mut cfg = tiny(3);
    cfg.image_size = 18;
    assert!(
        cfg.validate()
            .unwrap_err()
            .to_string()
            .contains("model.image_size")
    );
    let mut cfg = tiny(0);
    cfg.steps = 0;
    assert!(
        cfg.validate()
            .unwrap_err()
            .to_string()
            .contains("model.steps")
    );
}

#[test]
fn parameter_counts_match_the_layers() {
    let cfg = tiny(2);
    let (g, d) = cfg.parameter_counts();
    // W z + b (4→6): 30; f: FC 11→128 (1536), deconvs 8→4 (516) and 4→1 (65), BN(8), BN(4)
    // (24 learnable + 24 running); g: convs 1→4 (68) and 4→8 (520), BN(8) (16 + 16), FC 128→5
    // (645); the latent norms BN(6) before h_z's tanh and BN(5) before h_c's (22 + 22).
    assert_eq!(g, 30 + 1536 + 516 + 65 + 48 + 68 + 520 + 32 + 645 + 44);
    // D: convs 1→4 (68) and 4→8 (520), BN(8) (16 + 16), FC 128→1 (129).
    assert_eq!(d, 68 + 520 + 32 + 129);
    let bytes = Gan::training_memory_bytes(&cfg, 64).unwrap();
    assert!(d > 0 && bytes > 4 * (g + d) as u64);
}

#[test]
fn discriminator_gives_one_logit() {
    let device = Device::flex();
    let d = tiny(1).init_discriminator(&device);
    assert_eq!(
        d.forward(Tensor::zeros([3, 1, 16, 16], &device)).dims(),
        [3, 1]
    );
}
