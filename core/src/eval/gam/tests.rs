//! Tests of GAM's arithmetic: ratios with zero cases, the paper's decision rule, symmetry, and
//! error counting at D's 0.5 threshold.

use super::*;
use crate::model::gan::Pair;

fn e(errors: usize, total: usize) -> ErrorRate {
    ErrorRate { errors, total }
}

fn table(d1_g2: ErrorRate, d2_g1: ErrorRate, d1_test: ErrorRate, d2_test: ErrorRate) -> Table {
    Table {
        d1_on_g1: e(0, 10),
        d1_on_train: e(0, 10),
        d1_on_g2: d1_g2,
        d1_on_test: d1_test,
        d2_on_g1: d2_g1,
        d2_on_test: d2_test,
        d2_on_g2: e(0, 10),
        d2_on_train: e(0, 10),
    }
}

#[test]
fn the_rule_on_hand_computed_rates() {
    // D1 fooled by 30 of 100 G2 samples, D2 by 10 of 100 G1 samples: r_sample = 3 → M2.
    let t = table(e(30, 100), e(10, 100), e(20, 100), e(21, 100));
    let v = decide(&t, 0.2);
    assert_eq!(v.r_sample, Ratio::Value(3.0));
    assert!(matches!(v.r_test, Ratio::Value(r) if (r - 20.0 / 21.0).abs() < 1e-12));
    assert_eq!(v.winner, Winner::M2);
    // Swapping the models inverts both ratios and the winner.
    let w = decide(&t.swapped(), 0.2);
    assert_eq!(w.r_sample, Ratio::Value(1.0 / 3.0));
    assert!(matches!(w.r_test, Ratio::Value(r) if (r - 21.0 / 20.0).abs() < 1e-12));
    assert_eq!(w.winner, Winner::M1);
    // The same sample ratio with discriminators that disagree on test data: a tie, saying why.
    let t = table(e(30, 100), e(10, 100), e(20, 100), e(40, 100));
    let v = decide(&t, 0.2);
    assert_eq!(v.winner, Winner::Tie);
    assert!(v.reason.contains("r_test = 0.5000"), "{}", v.reason);
    assert_eq!(decide(&t, 0.6).winner, Winner::M2, "a looser tolerance");
}

#[test]
fn zero_error_rates_follow_the_stated_rule() {
    // G1 never fooled D2, G2 fooled D1: infinite r_sample → M2; swapped → M1 (ratio 0).
    let t = table(e(5, 100), e(0, 100), e(10, 100), e(10, 100));
    let v = decide(&t, 0.2);
    assert_eq!((v.r_sample, v.winner), (Ratio::Infinite, Winner::M2));
    let w = decide(&t.swapped(), 0.2);
    assert_eq!((w.r_sample, w.winner), (Ratio::Value(0.0), Winner::M1));
    // Nobody fooled anybody: 0/0, a tie with the reason.
    let v = decide(&table(e(0, 100), e(0, 100), e(10, 100), e(10, 100)), 0.2);
    assert_eq!((v.r_sample, v.winner), (Ratio::Undefined, Winner::Tie));
    assert!(v.reason.contains("0/0"));
    // Both perfect on test data: r_test undefined counts as ≈ 1.
    let v = decide(&table(e(30, 100), e(10, 100), e(0, 100), e(0, 100)), 0.2);
    assert_eq!((v.r_test, v.winner), (Ratio::Undefined, Winner::M2));
    // Only D2 perfect on test data: r_test infinite, a tie.
    let v = decide(&table(e(30, 100), e(10, 100), e(3, 100), e(0, 100)), 0.2);
    assert_eq!((v.r_test, v.winner), (Ratio::Infinite, Winner::Tie));
    // Equal fooling: r_sample = 1, a tie.
    let v = decide(&table(e(10, 100), e(10, 100), e(10, 100), e(10, 100)), 0.2);
    assert_eq!((v.r_sample, v.winner), (Ratio::Value(1.0), Winner::Tie));
}

#[test]
fn error_counting_matches_the_threshold() {
    // Score the same images as "real" and as "samples" with a freshly initialised D and check
    // the counts are complementary: errors on "real" + calls of real as "samples" = n. Without
    // BatchNorm, D reads each image alone, so the by-hand logits below need no batch.
    let device = Device::flex();
    let cfg = crate::model::gran::GranConfig {
        image_size: 16,
        channels: 1,
        decoder_widths: vec![8, 4, 1],
        discriminator_widths: vec![4, 8],
        kernel_size: 4,
        batch_norm: false,
        ..Default::default()
    };
    let d = Networks::Gran(Pair::init(&cfg, &device));
    let set = ImageSet {
        channels: 1,
        height: 16,
        width: 16,
        pixels: (0..20 * 256).map(|i| ((i * 37) % 256) as u8).collect(),
        labels: None,
        captions: None,
        class_names: Vec::new(),
    };
    let as_real = error_on_real(&d, &device, &set, None);
    let batch = ImageBatch {
        count: 20,
        channels: 1,
        height: 16,
        width: 16,
        pixels: set.batch_f32(&(0..20).collect::<Vec<_>>()),
    };
    let as_samples = error_on_samples(&d, &device, &batch);
    assert_eq!(as_real.total, 20);
    assert_eq!(as_real.errors + as_samples.errors, 20);
    // By hand: the logits' signs.
    let logits: Vec<f32> = d
        .logits(
            Tensor::<4>::from_data(
                TensorData::new(batch.pixels.clone(), [20, 1, 16, 16]),
                &device,
            ),
            None,
        )
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(
        as_samples.errors,
        logits.iter().filter(|&&l| l >= 0.0).count()
    );
    let limited = error_on_real(&d, &device, &set, Some(5));
    assert_eq!(limited.total, 5);
}

#[test]
fn battles_judge_with_each_batchs_own_statistics() {
    // With BatchNorm, an image's logit depends on the batch it is judged in: the battle's
    // batches hold one kind of image, so the same 12 images judged alone in one batch and
    // judged as part of a batch of 24 with 12 others differ — and judging is deterministic.
    let device = Device::flex();
    let cfg = crate::model::gran::GranConfig {
        image_size: 16,
        channels: 1,
        decoder_widths: vec![8, 4, 1],
        discriminator_widths: vec![4, 8],
        kernel_size: 4,
        ..Default::default()
    };
    let d = Networks::seeded(&crate::train::ModelConfig::Gran(cfg), &device, &device, 3);
    let a: Vec<f32> = (0..12 * 256)
        .map(|i| ((i * 37) % 256) as f32 / 255.0)
        .collect();
    let b: Vec<f32> = (0..12 * 256)
        .map(|i| ((i * 11) % 97) as f32 / 255.0)
        .collect();
    let alone = logits(&d, &device, [1, 16, 16], &a);
    assert_eq!(alone, logits(&d, &device, [1, 16, 16], &a), "deterministic");
    let mixed = logits(&d, &device, [1, 16, 16], &[a.clone(), b].concat());
    assert_ne!(
        alone[..],
        mixed[..12],
        "BatchNorm reads the batch's own statistics"
    );
}
