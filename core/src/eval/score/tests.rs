//! Tests of the figures: text and colour match, the classifier score, coverage, nearest
//! neighbours.

use super::*;

#[test]
fn text_match_counts_samples_in_their_captions_class() {
    // Three prompts of classes 0, 1, 1; four samples (the fourth reads prompt 0 again).
    let p = [
        0.9, 0.1, // class 0, asked 0: right
        0.2, 0.8, // class 1, asked 1: right
        0.7, 0.3, // class 0, asked 1: wrong
        0.4, 0.6, // class 1, asked 0: wrong
    ];
    let m = text_match(&p, 2, &[0, 1, 1]).unwrap();
    assert_eq!(m.samples, 4);
    assert!((m.accuracy - 0.5).abs() < 1e-12);
    assert_eq!(m.per_class, vec![(2, 1), (2, 1)]);
    assert!(text_match(&p, 2, &[]).is_none());
}

#[test]
fn text_lines_say_every_text_figure_and_nothing_without_text() {
    let figures = Figures {
        count: 4,
        classifier_score: 1.5,
        frechet_distance: 10.0,
        coverage: Coverage {
            histogram: vec![3, 1],
            covered: 2,
        },
    };
    let mut report = ScoreReport {
        config: ScoreConfig::default(),
        dataset: "built-in shapes".into(),
        classes: vec!["circle".into(), "square".into()],
        classifier_accuracy: 0.976,
        samples: figures.clone(),
        real: figures,
        neighbours: Vec::new(),
        memorisation_ratio: 1.0,
        text_match: None,
        text_check: None,
        variety: None,
    };
    assert!(report.text_lines().is_empty(), "a model without text");
    report.text_match = Some(TextMatch {
        samples: 4,
        accuracy: 0.25,
        per_class: vec![(3, 1), (1, 0)],
        colours: Some(ColourMatch {
            samples: 4,
            shape: 1,
            background: 3,
            both: 1,
            sized: 2,
            size: 1,
        }),
    });
    report.text_check = Some(TextCheck {
        images: 32,
        others: 1,
        scales: vec![crate::eval::text_check::ScaleCheck {
            side: 16,
            right: 0.9,
            wrong: 0.2,
            prefers_right: 0.75,
        }],
    });
    report.variety = Some(Variety {
        captions: 16,
        per_caption: 8,
        samples: 0.0123,
        real: 0.25,
        reference: VarietyReference::Placed,
    });
    let lines = report.text_lines();
    assert_eq!(lines.len(), 7, "{lines:#?}");
    assert!(lines[0].starts_with("text match: 25.0% of 4 samples"));
    assert!(lines[0].contains("chance 50.0%; the classifier is 97.6% right"));
    assert_eq!(
        lines[1],
        "  per class (shown of asked): circle 1/3, square 0/1"
    );
    assert!(lines[2].contains("shape's colour as asked 25.0%, background as asked 75.0%"));
    assert!(lines[3].contains("of 2 samples whose text names one): as asked 50.0%"));
    assert!(lines[4].starts_with(
        "variety within a caption: 8 samples of each of the first 16 held-out captions \
         differ by 0.012 per pixel"
    ));
    assert!(lines[4].ends_with("fit each caption: 0.250 (its shape drawn at other places)"));
    assert!(lines[5].contains("32 held-out images") && lines[5].contains("1 other classes"));
    assert_eq!(
        lines[6],
        "  16×16: prefers the right caption in 75.0% of pairs; D(right) 0.900, D(other \
         class) 0.200"
    );
}

#[test]
fn colour_match_reads_the_colours_off_the_pixels() {
    use crate::data::shapes::{self, Split};
    let specs: Vec<_> = (0..3).map(|i| shapes::spec(5, Split::Test, i)).collect();
    let pixels: Vec<f32> = specs
        .iter()
        .flat_map(|s| s.render(24))
        .map(|v| v as f32 / 255.0)
        .collect();
    let mut texts: Vec<String> = specs.iter().map(|s| s.caption()).collect();
    // The third asks for its colours the other way round: shape and background both wrong.
    let (c, b) = (specs[2].colour, specs[2].background);
    let (cn, bn) = (shapes::COLOURS[c].0, shapes::COLOURS[b].0);
    texts[2] = format!(
        "a {bn} {} on a {cn} background",
        shapes::SHAPES[specs[2].shape]
    );
    // The second asks for another size; the third names none.
    let size = |k: usize| shapes::SIZES[k % 3].0;
    texts[1] = texts[1].replacen(size(specs[1].size), size(specs[1].size + 1), 1);
    texts.push("a picture".into());
    let m = colour_match(&pixels, 3, 24, &texts).unwrap();
    assert_eq!((m.samples, m.shape, m.background, m.both), (3, 2, 2, 2));
    assert_eq!((m.sized, m.size), (2, 1), "{texts:?}");
    assert!(colour_match(&pixels, 3, 24, &["a picture".to_string()]).is_none());
}

#[test]
fn classifier_score_bounds_by_hand() {
    // Confident and evenly spread over 4 classes: exactly 4.
    let mut p = Vec::new();
    for i in 0..8 {
        let mut row = [0f32; 4];
        row[i % 4] = 1.0;
        p.extend(row);
    }
    assert!((classifier_score(&p, 4) - 4.0).abs() < 1e-9);
    // Always the same class, or never confident: exactly 1.
    assert!((classifier_score(&[1.0, 0.0, 1.0, 0.0], 2) - 1.0).abs() < 1e-9);
    assert!((classifier_score(&[0.5, 0.5, 0.5, 0.5], 2) - 1.0).abs() < 1e-9);
    // Two confident halves over 2 of 4 classes: 2.
    assert!((classifier_score(&[1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0], 4) - 2.0).abs() < 1e-9);
}

#[test]
fn coverage_counts_classes_with_half_their_share() {
    // 10 images over 4 classes: a fair share is 2.5, half of it 1.25 → 2 or more counts.
    let labels = [0, 0, 0, 0, 0, 0, 1, 1, 2, 0];
    let mut p = Vec::new();
    for l in labels {
        let mut row = [0.1f32; 4];
        row[l] = 0.7;
        p.extend(row);
    }
    let c = Coverage::of(&p, 4);
    assert_eq!(c.histogram, vec![7, 2, 1, 0]);
    assert_eq!(c.covered, 2);
    assert!((c.fraction() - 0.5).abs() < 1e-12);
}

#[test]
fn real_images_score_above_noise() {
    use crate::data::DataSource;
    use crate::eval::classifier;
    use rand::{Rng, SeedableRng};
    let data = DataSource::Shapes {
        train_count: 2000,
        test_count: 300,
        seed: 5,
    }
    .load(16, 3, None)
    .unwrap();
    let c = classifier::train(&data, &Device::flex(), &mut |_| {}).unwrap();
    let k = c.classes();
    let reference = Moments::of(&c.outputs_of_set(&data.train).features, FEATURES);
    let real = figures(&c.outputs_of_set(&data.test), 300, &reference, k);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let noise: Vec<f32> = (0..300 * 3 * 16 * 16).map(|_| rng.random()).collect();
    let noise = figures(&c.outputs(&noise, 300), 300, &reference, k);
    assert!(
        real.classifier_score > noise.classifier_score,
        "classifier score: real {} vs noise {}",
        real.classifier_score,
        noise.classifier_score
    );
    assert!(
        real.frechet_distance < noise.frechet_distance,
        "Fréchet: real {} vs noise {}",
        real.frechet_distance,
        noise.frechet_distance
    );
    assert!(real.coverage.covered > noise.coverage.covered || real.coverage.covered == k);
}

#[test]
fn nearest_finds_the_closest_rows_in_order() {
    let rows = [0.0f32, 0.0, 3.0, 4.0, 1.0, 0.0, 10.0, 10.0];
    let found = nearest(&[0.0, 0.0], &rows, 2, 3);
    assert_eq!(found.iter().map(|x| x.0).collect::<Vec<_>>(), vec![0, 2, 1]);
    assert!((found[2].1 - 5.0).abs() < 1e-12);
    assert_eq!(nearest(&[0.0, 0.0], &rows, 2, 10).len(), 4);
}
