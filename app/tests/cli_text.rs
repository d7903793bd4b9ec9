//! The text-to-image commands as a user runs them: `easel embed`, `generate` and `interpolate` with
//! a run's own (built-in) encoder, and their one-line refusals for a model without text.

mod common;

use common::cli::{TINY, count, fails, ok};

const TINY_TEXT: &str = r#"
seed = 3
[data]
kind = "shapes"
train_count = 64
test_count = 8
[model.stackgan]
version = "v2"
image_size = 16
channels = 3
scales = 2
z_dim = 8
condition_dim = 6
text_dim = 128
encoder = "builtin"
generator_width = 32
discriminator_width = 4
residual_blocks = 1
[train]
batch_size = 16
sample_every = 2
checkpoint_every = 2
sample_count = 4
"#;

#[test]
fn text_commands_embed_generate_and_walk_with_a_runs_own_encoder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = d.join("text.toml");
    std::fs::write(&config, TINY_TEXT).unwrap();
    let run = d.join("run");
    let (config_s, run_s) = (config.to_str().unwrap(), run.to_str().unwrap());
    ok(&[
        "train",
        "--config",
        config_s,
        "--max-steps",
        "2",
        "--out",
        run_s,
    ]);
    assert!(
        run.join("text_encoder.bin").is_file(),
        "the built-in encoder travels with the run"
    );

    let out = ok(&[
        "embed",
        "--run",
        run_s,
        "a red circle on a white background",
        "a large red circle on white",
        "a magenta circle",
    ]);
    assert!(out.contains("the built-in encoder"), "{out}");
    assert!(out.contains("unknown to this encoder: magenta"), "{out}");
    assert_eq!(out.matches(" = ").count(), 3, "three pairs: {out}");
    let json = ok(&["embed", "--run", run_s, "--json", "a green ring"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let vector = v["embeddings"][0]["vector"].as_array().unwrap();
    assert_eq!(vector.len(), 128);
    let norm: f64 = vector.iter().map(|x| x.as_f64().unwrap().powi(2)).sum();
    assert!((norm - 1.0).abs() < 1e-3, "unit length, found {norm}");

    let images = d.join("gen");
    let out = ok(&[
        "generate",
        "--run",
        run_s,
        "--text",
        "a small blue square",
        "--text",
        "a purple triangle",
        "--count",
        "4",
        "--out",
        images.to_str().unwrap(),
    ]);
    assert!(out.contains("4 images"), "{out}");
    assert!(images.join("grid.png").is_file());
    assert_eq!(count(&images, "canvas-t", "png"), 2, "one grid per stage");

    let walk = d.join("walk");
    let out = ok(&[
        "interpolate",
        "--run",
        run_s,
        "--from",
        "a red circle",
        "--to",
        "a green square",
        "--steps",
        "3",
        "--out",
        walk.to_str().unwrap(),
    ]);
    assert!(out.contains("3 points") && out.contains("mean σ"), "{out}");
    for f in [
        "strip.png",
        "strip-stage1.png",
        "strip-stage2.png",
        "walk.gif",
    ] {
        assert!(walk.join(f).is_file(), "{f}");
    }

    // A model that reads no text says so in one line.
    let gran = d.join("gran.toml");
    std::fs::write(&gran, TINY).unwrap();
    let gran_run = d.join("gran");
    let gran_s = gran_run.to_str().unwrap();
    ok(&[
        "train",
        "--config",
        gran.to_str().unwrap(),
        "--max-steps",
        "1",
        "--out",
        gran_s,
    ]);
    assert!(fails(&["embed", "--run", gran_s, "a red circle"]).contains("reads no text"));
    assert!(
        fails(&[
            "generate",
            "--run",
            gran_s,
            "--text",
            "a red circle",
            "--out",
            images.to_str().unwrap()
        ])
        .contains("does not draw from text")
    );
    assert!(fails(&["embed", "--encoder", "glove", "a red circle"]).contains("unknown --encoder"));
}
