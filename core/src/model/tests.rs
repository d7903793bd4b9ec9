//! The counting formulas against hand counts, and every shipped preset built.

use burn::module::Module;
use burn::prelude::*;

use super::gan::Networks;
use super::*;
use crate::train::Preset;

#[test]
fn each_flop_formula_matches_a_hand_count() {
    // A dense layer 3 → 2: each output is 3 multiply-adds, 6 in all, 2 FLOPs each.
    assert_eq!(linear_flops(3, 2), 12);
    // A 3 × 3 convolution 2 → 3 channels with 4 × 4 outputs: each output value reads 3 · 3 taps
    // of 2 channels (18 multiply-adds); 16 positions × 3 channels = 48 values.
    assert_eq!(conv_flops(2, 3, 3, 4), 2 * 18 * 48);
    // A 4 × 4 transposed convolution 2 → 3 channels over a 5 × 5 input: each input pixel adds
    // its 2 channels into 4 · 4 taps of 3 output channels (96 multiply-adds), 25 pixels.
    assert_eq!(deconv_flops(2, 3, 4, 5), 2 * 96 * 25);
    // A step of G costing g and D costing d per image forward, backward twice forward: D's
    // update draws once (g), reads real and fake forward and backward (3d + 3d); G's update
    // reads the same drawing through D forward and backward (3d) and back through G (2g).
    let (g, d) = (1000, 10);
    assert_eq!(train_step_flops(g, d), (g + 6 * d) + (3 * d + 2 * g));
}

fn g_params(n: &Networks) -> usize {
    super::gan::each_model!(n, Networks, p => p.generator.num_params())
}

fn d_params(n: &Networks) -> usize {
    super::gan::each_model!(n, Networks, p => p.critic.num_params())
}

#[test]
fn every_preset_validates_and_builds_its_networks() {
    let device = Device::flex();
    let presets = Preset::all();
    assert_eq!(presets.len(), 13, "the presets in assets/presets/");
    for preset in presets {
        let config = &preset.config;
        config
            .validate()
            .unwrap_or_else(|e| panic!("{}: {e}", preset.name));
        let networks = Networks::init(&config.model, &device);
        let g: usize = networks.generator_parameters().values().map(Vec::len).sum();
        let d: usize = networks.critic_parameters().values().map(Vec::len).sum();
        assert!(g > 1000 && d > 1000, "{}: {g} and {d} weights", preset.name);
        assert!(config.model.train_step_flops() > 0, "{}", preset.name);
        let e = config.model.estimates(config.train.batch_size);
        assert_eq!(
            (e.generator_parameters, e.critic_parameters),
            (g_params(&networks), d_params(&networks)),
            "{}: parameters counted on the networks",
            preset.name
        );
        assert!(
            e.draw_flops > 0 && e.step_flops > 3 * e.draw_flops,
            "{}",
            preset.name
        );
        // Only GRAN counts its activations.
        let counts_memory = matches!(config.model, crate::model::ModelConfig::Gran(_));
        assert_eq!(e.training_bytes.is_some(), counts_memory, "{}", preset.name);
        assert_eq!(networks.steps(), config.model.steps(), "{}", preset.name);
        let (side, channels) = config.model.image_shape();
        assert!(
            side >= 16 && (channels == 1 || channels == 3),
            "{}",
            preset.name
        );
    }
}
