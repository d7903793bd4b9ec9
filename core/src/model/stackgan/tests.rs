//! Tests of StackGAN's networks and training step: the shapes of every stage and scale, the
//! mismatched pairs, instance noise, the discriminator's own text compression, the drawing the
//! generator step reuses, mode seeking. (The loss terms' own tests are in `losses.rs`.)

use burn::tensor::{Distribution, TensorData};

use super::*;
use crate::model::testing::{close, scalar, t2};

fn device() -> Device {
    Device::flex()
}

fn small(version: Version, size: usize, channels: usize, text_dim: usize) -> StackGanConfig {
    StackGanConfig {
        version,
        image_size: size,
        channels,
        scales: 3,
        stage_ratio: if size == 28 { 2 } else { 4 },
        z_dim: 10,
        condition_dim: 6,
        text_dim,
        encoder: EncoderChoice::Auto,
        generator_width: 64,
        discriminator_width: 4,
        residual_blocks: 1,
        ..StackGanConfig::default()
    }
}

fn noise(config: &StackGanConfig, b: usize, d: &Device) -> StackNoise {
    let normal = |w| Tensor::<2>::random([b, w], Distribution::Normal(0.0, 1.0), d);
    StackNoise {
        z: normal(config.z_dim),
        eps: vec![normal(config.condition_dim), normal(config.condition_dim)],
        instance: Vec::new(),
    }
}

#[test]
fn every_stage_and_scale_has_its_shape() {
    let d = device();
    let cases = [
        (small(Version::V2, 64, 3, 12), vec![16, 32, 64]),
        (small(Version::V2, 28, 1, 12), vec![7, 14, 28]),
        (small(Version::V2, 32, 3, 0), vec![8, 16, 32]),
        (small(Version::V1, 64, 3, 12), vec![16, 64]),
        (small(Version::V1, 28, 1, 12), vec![14, 28]),
    ];
    for (config, sides) in cases {
        config.validate().unwrap();
        assert_eq!(config.sides(), sides, "{config:?}");
        let g = config.init_generator(&d);
        let critic = config.init_discriminator(&d);
        let b = 3;
        let text = config
            .conditional()
            .then(|| Tensor::<2>::random([b, config.text_dim], Distribution::Default, &d));
        let drawing = g.draw(&noise(&config, b, &d), text, sides.len());
        assert_eq!(drawing.images.len(), sides.len());
        let scales = drawing.images.iter().zip(&sides).zip(&critic.scales);
        for (i, ((image, &side), scale)) in scales.enumerate() {
            assert_eq!(image.dims(), [b, config.channels, side, side]);
            let values = image.clone().into_data().try_to_vec::<f32>().unwrap();
            assert!(values.iter().all(|v| (-1.0..=1.0).contains(v)));
            let h = scale.encode(image.clone());
            // Every conditional D has a conditional head; v1's Stage-I has no unconditional one.
            let mu = drawing.augmented.first().map(|a| a.mu.clone());
            assert_eq!(mu.is_some(), config.conditional(), "{config:?}");
            assert_eq!(scale.conditional(), config.conditional(), "scale {i}");
            let cond = mu.map(|m| scale.cond_logits(h.clone(), m).map(|l| l.dims()));
            let want = config.conditional().then_some(Some([b, 1]));
            assert_eq!(cond, want, "scale {i}: the conditional head");
            let unconditional = config.version == Version::V2 || i > 0;
            assert_eq!(
                scale.uncond_logits(h).map(|l| l.dims()),
                unconditional.then_some([b, 1]),
                "scale {i}: the unconditional head"
            );
        }
        assert_eq!(
            drawing.augmented.len(),
            match (config.version, config.conditional()) {
                (Version::V1, _) => 2,
                (Version::V2, true) => 1,
                (Version::V2, false) => 0,
            }
        );
        let reals = real_scales(
            &config,
            Tensor::zeros(
                [
                    b,
                    config.channels,
                    sides[sides.len() - 1],
                    sides[sides.len() - 1],
                ],
                &d,
            ),
        );
        let real_sides: Vec<usize> = reals.iter().map(|r| r.dims()[2]).collect();
        assert_eq!(real_sides, sides);
    }
}

#[test]
fn configs_that_cannot_be_built_are_refused_by_field() {
    let mut c = small(Version::V2, 18, 3, 8);
    assert!(c.validate().unwrap_err().to_string().contains("image_size"));
    c = small(Version::V1, 64, 3, 0);
    assert!(c.validate().unwrap_err().to_string().contains("text_dim"));
    c = small(Version::V2, 64, 3, 8);
    c.generator_width = 8;
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("generator_width")
    );
}

#[test]
fn the_hard_mismatch_is_the_closest_caption_of_another_class() {
    let rows = [
        [1.0, 0.0, 0.0],  // class 0
        [0.9, 0.1, 0.0],  // class 0: closest to row 0, but the same class
        [0.7, 0.7, 0.0],  // class 1
        [0.2, -0.1, 1.0], // class 2
    ];
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    // Row 2's cosines: 0.707 to row 0, 0.781 to row 1; row 3's: 0.195, 0.183, 0.069.
    assert_eq!(nearest_other_class(&flat, &[0, 0, 1, 2]), vec![2, 2, 1, 0]);
    // Scaling a row changes no cosine.
    let mut scaled = flat.clone();
    scaled[6..9].iter_mut().for_each(|v| *v *= 10.0);
    assert_eq!(
        nearest_other_class(&scaled, &[0, 0, 1, 2]),
        vec![2, 2, 1, 0]
    );
    // With one class only there is no other class: the next row, as the reference code.
    assert_eq!(nearest_other_class(&flat, &[5; 4]), vec![1, 2, 3, 0]);
}

/// A small text v2 (12-wide embeddings) with one batch of 4: what the mismatched-pair tests
/// score D's loss on.
struct Batch4 {
    g: StackGanGenerator,
    critic: StackGanDiscriminator,
    noise: StackNoise,
    real: Tensor<4>,
    text: Tensor<2>,
}

impl Batch4 {
    fn new(config: &StackGanConfig, d: &Device) -> Self {
        Self {
            g: config.init_generator(d),
            critic: config.init_discriminator(d),
            noise: noise(config, 4, d),
            real: Tensor::<4>::random([4, 3, 32, 32], Distribution::Default, d),
            text: Tensor::<2>::random([4, 12], Distribution::Normal(0.0, 1.0), d),
        }
    }

    fn d_loss(
        &self,
        config: &StackGanConfig,
        classes: Option<&[u32]>,
        counterparts: Option<Tensor<2>>,
    ) -> f32 {
        let f = discriminator_loss(
            config,
            &self.g,
            &self.critic,
            self.real.clone(),
            &self.noise,
            Some(self.text.clone()),
            classes,
            counterparts,
            0,
        );
        scalar(f.loss)
    }
}

/// A mismatch mode other than the default needs text.
fn refused_without_text(mismatch: Mismatch) {
    let mut unconditional = small(Version::V2, 32, 3, 0);
    unconditional.mismatch = mismatch;
    assert!(
        unconditional
            .validate()
            .unwrap_err()
            .to_string()
            .contains("mismatch")
    );
}

#[test]
fn hard_mismatches_change_the_discriminator_loss_only_when_classes_are_known() {
    let d = device();
    let mut config = small(Version::V2, 32, 3, 12);
    let batch = Batch4::new(&config, &d);
    let classes = [0, 1, 0, 1];
    let next = batch.d_loss(&config, Some(&classes), None);
    config.mismatch = Mismatch::NearestOtherClass;
    config.validate().unwrap();
    let hard = batch.d_loss(&config, Some(&classes), None);
    assert!(
        hard.is_finite() && (hard - next).abs() > 1e-6,
        "{hard} vs {next}"
    );
    close(batch.d_loss(&config, None, None), next);
    refused_without_text(Mismatch::NearestOtherClass);
}

#[test]
fn instance_noise_falls_linearly_and_is_added_to_what_each_discriminator_reads() {
    let d = device();
    let mut config = small(Version::V2, 32, 3, 12);
    config.instance_noise = 0.2;
    close(config.instance_sigma(0), 0.2);
    close(config.instance_sigma(10_000), 0.2);
    config.instance_noise_steps = 100;
    close(config.instance_sigma(0), 0.2);
    close(config.instance_sigma(50), 0.1);
    close(config.instance_sigma(100), 0.0);
    close(config.instance_sigma(500), 0.0);
    for bad in [-0.1, f32::NAN, 2.5] {
        config.instance_noise = bad;
        let e = config.validate().unwrap_err().to_string();
        assert!(e.contains("instance_noise"), "{e}");
    }
    config.instance_noise = 0.2;
    config.validate().unwrap();

    // A training batch draws one [2b, c, s, s] plane of normals per scale; none without the
    // noise. A batch's z and ε (what sampling draws) take no more normals with it than without.
    let b = 3;
    let count = std::cell::Cell::new(0);
    let mut normals = |n: usize| {
        count.set(count.get() + n);
        vec![1.0; n]
    };
    let drawn = crate::model::gan::Gan::noise(&config, b, 3, &mut normals, &d);
    assert!(drawn.instance.is_empty());
    assert_eq!(count.get(), b * (10 + 6));
    let planes = StackNoise::instance_normals(&config, b, &mut normals, &d);
    let sides: Vec<_> = planes.iter().map(|t| t.dims()).collect();
    assert_eq!(sides, vec![[6, 3, 8, 8], [6, 3, 16, 16], [6, 3, 32, 32]]);
    assert_eq!(count.get(), b * (10 + 6) + 6 * 3 * (64 + 256 + 1024));
    let mut quiet = config.clone();
    quiet.instance_noise = 0.0;
    assert!(StackNoise::instance_normals(&quiet, b, &mut |n| vec![0.0; n], &d).is_empty());

    // Real images take the first b normals, fakes the last b, scaled by σ.
    let mut n = noise(&config, b, &d);
    let signs: Vec<f32> = (0..2 * b)
        .flat_map(|i| vec![if i < b { 1.0 } else { -1.0 }; 3 * 8 * 8])
        .collect();
    n.instance = vec![Tensor::from_data(
        TensorData::new(signs, [2 * b, 3, 8, 8]),
        &d,
    )];
    let zeros = Tensor::<4>::zeros([2, 3, 8, 8], &d);
    let values = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
    assert!(
        values(n.noisy(zeros.clone(), 0, false, 0.5))
            .iter()
            .all(|&v| v == 0.5)
    );
    assert!(
        values(n.noisy(zeros.clone(), 0, true, 0.5))
            .iter()
            .all(|&v| v == -0.5)
    );
    assert!(
        values(n.noisy(zeros.clone(), 0, true, 0.0))
            .iter()
            .all(|&v| v == 0.0)
    );
    assert!(
        values(n.noisy(zeros, 1, true, 0.5))
            .iter()
            .all(|&v| v == 0.0)
    );
}

#[test]
fn instance_noise_changes_the_losses_until_it_has_fallen_off() {
    let d = device();
    let mut config = small(Version::V2, 32, 3, 12);
    // σ = 2, the most allowed: a tiny D with random weights, its BatchNorm renormalising what
    // it reads, moves little for less (σ = 0.3 moved the losses by 1e-4 on one draw).
    config.instance_noise = 2.0;
    config.instance_noise_steps = 10;
    let g = config.init_generator(&d);
    let critic = config.init_discriminator(&d);
    let b = 4;
    let mut stream = crate::noise::NoiseStream::new(7, 0);
    let mut n = crate::model::gan::Gan::noise(&config, b, 3, &mut |c| stream.normals(c), &d);
    n.instance = StackNoise::instance_normals(&config, b, &mut |c| stream.normals(c), &d);
    let real = Tensor::<4>::random([b, 3, 32, 32], Distribution::Default, &d);
    let text = Tensor::<2>::random([b, 12], Distribution::Normal(0.0, 1.0), &d);
    let losses = |config: &StackGanConfig, step: u64| {
        let f = discriminator_loss(
            config,
            &g,
            &critic,
            real.clone(),
            &n,
            Some(text.clone()),
            None,
            None,
            step,
        );
        let (gl, _) = generator_loss(config, &g, &critic, &n, Some(text.clone()), None, step);
        (scalar(f.loss), scalar(gl))
    };
    let mut quiet = config.clone();
    quiet.instance_noise = 0.0;
    let (d0, g0) = losses(&quiet, 0);
    let (d1, g1) = losses(&config, 0);
    assert!(
        (d1 - d0).abs() > 1e-5 && (g1 - g0).abs() > 1e-5,
        "{d1} {d0} {g1} {g0}"
    );
    let (d2, g2) = losses(&config, 10);
    close(d2, d0);
    close(g2, g0);
}

#[test]
fn counterparts_are_the_closest_embedding_of_each_other_class_in_the_pool() {
    let d = device();
    // Rows 0 and 1 share class 0; row 2 (class 1) is nearly row 0; row 3 (class 2) nearly row 1;
    // row 4 (class 1), a copy of row 1, lies outside a pool of 4.
    let rows = [
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.9, 0.1, 0.0],
        [0.1, 0.9, 0.2],
        [0.0, 1.0, 0.0],
    ];
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    let e = t2(&flat, 5, &d);
    let classes = [0, 0, 1, 2, 1];
    // One per other class, in class order: row 0 (class 0) has class 1's row 2 and class 2's
    // row 3; row 2 (class 1) has class 0's row 0 and class 2's row 3.
    assert_eq!(
        counterparts(e.clone(), &classes, 4),
        vec![vec![2, 3], vec![2, 3], vec![0, 3], vec![1, 2], vec![1, 3]]
    );
    // With row 4 in the pool (scaled: cosine ignores length), row 1's class-1 counterpart is
    // its copy, and row 3's is row 4 (a copy of row 1, which row 3 is near) rather than row 2.
    let mut scaled = flat.clone();
    scaled[12..15].iter_mut().for_each(|v| *v *= 7.0);
    assert_eq!(
        counterparts(t2(&scaled, 5, &d), &classes, 5),
        vec![vec![2, 3], vec![4, 3], vec![0, 3], vec![1, 4], vec![1, 3]]
    );
    // Equal scores: the first row of the class. Rows 0 and 1 of class 0 are equally far from
    // row 2's direction [0, 0, 1].
    let ties = t2(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], 3, &d);
    assert_eq!(counterparts(ties, &[0, 0, 1], 3)[2], vec![0]);
    // One class only: none.
    assert!(counterparts(e, &[3; 5], 5).iter().all(Vec::is_empty));
}

#[test]
fn a_uniform_picks_each_counterpart_equally() {
    let candidates = [7, 8, 9];
    let picks: Vec<usize> = [0.0, 0.2, 0.34, 0.5, 0.67, 0.99, 1.0]
        .iter()
        .map(|&u| pick_counterpart(&candidates, 0, u))
        .collect();
    assert_eq!(picks, vec![7, 7, 8, 8, 9, 9, 9]);
    assert_eq!(pick_counterpart(&[], 4, 0.5), 4);
}

#[test]
fn counterpart_pairs_change_the_discriminator_loss_only_in_that_mode() {
    let d = device();
    let mut config = small(Version::V2, 32, 3, 12);
    let batch = Batch4::new(&config, &d);
    let partners = Tensor::<2>::random([4, 12], Distribution::Normal(0.0, 1.0), &d);
    let next = batch.d_loss(&config, None, None);
    close(batch.d_loss(&config, None, Some(partners.clone())), next);
    config.mismatch = Mismatch::Counterpart;
    config.validate().unwrap();
    close(batch.d_loss(&config, None, None), next);
    let paired = batch.d_loss(&config, None, Some(partners));
    assert!(
        paired.is_finite() && (paired - next).abs() > 1e-6,
        "{paired} vs {next}"
    );
    // A counterpart that is the image's own text is a matching pair scored as mismatched:
    // not the same loss as an unrelated one.
    assert!((batch.d_loss(&config, None, Some(batch.text.clone())) - paired).abs() > 1e-6);
    refused_without_text(Mismatch::Counterpart);
}

#[test]
fn a_discriminator_can_compress_the_text_itself() {
    let d = device();
    let b = 3;
    let text = Tensor::<2>::random([b, 12], Distribution::Normal(0.0, 1.0), &d);
    for version in [Version::V1, Version::V2] {
        let mut config = small(version, 64, 3, 12);
        let g = config.init_generator(&d);
        let codes = config.init_discriminator(&d);
        assert!(codes.scales.iter().all(|s| !s.reads_embeddings()));
        // μ by default, as the codes.
        let mu = codes.scales[0].condition(&g, text.clone(), 0).unwrap();
        mu.into_data().assert_approx_eq::<f32>(
            &g.mu(text.clone(), 0).unwrap().into_data(),
            Default::default(),
        );
        config.discriminator_text = DiscriminatorText::Embedding;
        let own = config.init_discriminator(&d);
        for (i, scale) in own.scales.iter().enumerate() {
            assert!(scale.reads_embeddings());
            let c = scale.condition(&g, text.clone(), i).unwrap();
            assert_eq!(c.dims(), [b, config.condition_dim]);
            // A linear map then LeakyReLU, which keeps the signs: both appear.
            let values = c.into_data().try_to_vec::<f32>().unwrap();
            assert!(values.iter().any(|&v| v < 0.0) && values.iter().any(|&v| v > 0.0));
            let mu = g
                .mu(text.clone(), i)
                .unwrap()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            assert_ne!(values, mu, "its own, not G's μ");
        }
        let n = noise(&config, b, &d);
        let real = Tensor::<4>::random([b, 3, 64, 64], Distribution::Default, &d);
        let d_loss = |critic: &StackGanDiscriminator| {
            scalar(
                discriminator_loss(
                    &config,
                    &g,
                    critic,
                    real.clone(),
                    &n,
                    Some(text.clone()),
                    None,
                    None,
                    0,
                )
                .loss,
            )
        };
        let (a, b_) = (d_loss(&codes), d_loss(&own));
        assert!(
            a.is_finite() && b_.is_finite() && (a - b_).abs() > 1e-6,
            "{a} vs {b_}"
        );
    }
    // Without text there is nothing to compress.
    let mut unconditional = small(Version::V2, 32, 3, 0);
    unconditional.discriminator_text = DiscriminatorText::Embedding;
    let critic = unconditional.init_discriminator(&d);
    assert!(
        critic
            .scales
            .iter()
            .all(|s| !s.reads_embeddings() && !s.conditional())
    );
}

#[test]
fn the_generator_step_trains_on_the_discriminator_steps_drawing() {
    use burn::optim::GradientsParams;
    let d = device().autodiff();
    let config = small(Version::V2, 32, 3, 12);
    let g = config.init_generator(&d);
    let critic = config.init_discriminator(&d);
    let b = 4;
    let (first, second) = (noise(&config, b, &d), noise(&config, b, &d));
    let real = Tensor::<4>::random([b, 3, 32, 32], Distribution::Default, &d);
    let text = Tensor::<2>::random([b, 12], Distribution::Normal(0.0, 1.0), &d);
    let f = discriminator_loss(
        &config,
        &g,
        &critic,
        real,
        &first,
        Some(text.clone()),
        None,
        None,
        0,
    );
    assert_eq!(f.fakes.images.len(), 3, "every scale drawn once");
    let g_loss = |n: &StackNoise, drawn: Option<StageDrawing>| {
        generator_loss(&config, &g, &critic, n, Some(text.clone()), drawn, 0).0
    };
    // Handed the D step's drawing (from `first`), G's loss is `first`'s, whatever noise comes
    // with it; drawn afresh from `second`, another.
    let reused = g_loss(&second, Some(f.fakes));
    let fresh = g_loss(&first, None);
    let other = g_loss(&second, None);
    close(scalar(reused.clone()), scalar(fresh.clone()));
    assert!(
        (scalar(other) - scalar(fresh.clone())).abs() > 1e-4,
        "two draws differ"
    );
    // The discriminators read the drawing detached; G's gradient still flows through it.
    let reached = GradientsParams::from_grads(reused.backward(), &g).len();
    assert!(reached > 0);
    assert_eq!(
        reached,
        GradientsParams::from_grads(fresh.backward(), &g).len()
    );
}

#[test]
fn mode_seeking_is_the_inverse_of_how_far_a_pair_spreads_per_unit_of_noise() {
    let d = device();
    // Rows 0 and 2 are a pair, as are 1 and 3: images 0.5 apart, noise 2 apart.
    let images = Tensor::<4>::from_data(
        TensorData::new(
            vec![0.0f32, 0.0, 0.0, 0.0, 0.5, 0.5, -0.5, -0.5],
            [4, 1, 1, 2],
        ),
        &d,
    );
    let z = t2(&[0.0, 0.0, 1.0, 1.0, 2.0, 2.0, -1.0, -1.0], 4, &d);
    let term = scalar(mode_seeking(images.clone(), z.clone()));
    close(term, 1.0 / (0.5 / 2.0 + 1e-5));
    // Drawings twice as far apart (nearly) halve it.
    close(
        scalar(mode_seeking(images * 2.0, z)),
        1.0 / (1.0 / 2.0 + 1e-5),
    );
}

#[test]
fn mode_seeking_adds_its_weighted_term_on_the_finest_drawing() {
    let d = device().autodiff();
    let mut config = small(Version::V2, 32, 3, 12);
    let g = config.init_generator(&d);
    let critic = config.init_discriminator(&d);
    let b = 4;
    let n = noise(&config, b, &d);
    let text = Tensor::<2>::random([b / 2, 12], Distribution::Normal(0.0, 1.0), &d);
    let text = Tensor::cat(vec![text.clone(), text], 0);
    let drawing = g.draw(&n, Some(text.clone()), 3);
    let loss = |config: &StackGanConfig| {
        let drawn = Some(drawing.clone());
        scalar(generator_loss(config, &g, &critic, &n, Some(text.clone()), drawn, 0).0)
    };
    let plain = loss(&config);
    config.mode_seeking = 0.5;
    let term = scalar(mode_seeking(drawing.images[2].clone(), n.z.clone()));
    assert!(term.is_finite() && term > 0.0, "{term}");
    let with = loss(&config);
    assert!(
        (with - (plain + 0.5 * term)).abs() < 1e-4,
        "{with} vs {plain} + 0.5 × {term}"
    );
    config.mode_seeking = -1.0;
    let e = config.validate().unwrap_err().to_string();
    assert!(e.contains("mode_seeking") && e.contains("found -1"), "{e}");
}
