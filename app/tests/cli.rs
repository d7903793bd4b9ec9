//! The `easel` command line as a user runs it: train, resume, sample, battle, arena, score, and
//! errors as one line with a non-zero exit.

mod common;

use std::process::Command;

use common::cli::{TINY, count, easel, fails, ok};

#[test]
fn train_resume_and_sample_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();

    ok(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--max-steps",
        "4",
        "--out",
        run_s,
    ]);
    assert!(run.join("config.toml").is_file());
    assert!(run.join("events.jsonl").is_file());
    let ckpts = run.join("checkpoints");
    assert!(ckpts.join("step-000000003.ckpt").is_file());
    assert!(
        ckpts.join("step-000000004.ckpt").is_file(),
        "the end is always saved"
    );
    assert_eq!(
        count(&run.join("samples"), "step-", ".png"),
        3,
        "steps 0, 2 and 4"
    );

    // Resuming a CPU run asks no graphics driver (burn's default device, where the optimizer's
    // state is read back, was the GPU: the Vulkan loader printed errors without a desktop session).
    let out = Command::new(env!("CARGO_BIN_EXE_easel"))
        .args(["resume", run_s, "--max-steps", "6"])
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("BURN_DEVICE")
        .output()
        .expect("easel runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !err.contains("error"), "{err}");
    assert!(ckpts.join("step-000000006.ckpt").is_file());
    // Lower learning rates from here on (after a divergence), kept in the run's config.
    let said = fails(&["resume", run_s, "--max-steps", "7", "--lr-scale", "0"]);
    assert!(said.contains("--lr-scale"), "{said}");
    let out = easel(&["resume", run_s, "--max-steps", "7", "--lr-scale", "0.5"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("learning rates now D 1.00e-4"));
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("lr_d = 0.0001"), "{config}");
    // A run made on a machine with CUDA: resumed here only on the CPU, and only when asked.
    let toml = run.join("config.toml");
    std::fs::write(
        &toml,
        config.replace("backend = \"cpu\"", "backend = \"cuda\""),
    )
    .unwrap();
    let said = fails(&["resume", run_s, "--max-steps", "8"]);
    assert!(
        said.contains("cuda") && said.contains("pass `--backend cpu`"),
        "{said}"
    );
    assert!(!ckpts.join("step-000000008.ckpt").exists());
    // A stop asked while nothing trains is left in the folder and cleared by the next session.
    assert!(ok(&["stop", run_s]).contains("asked"));
    assert!(run.join("stop-requested").is_file());
    ok(&["resume", run_s, "--max-steps", "8", "--backend", "cpu"]);
    assert!(!run.join("stop-requested").exists());
    assert!(ckpts.join("step-000000008.ckpt").is_file());
    std::fs::write(&toml, config).unwrap();
    // Already there: it says so and touches nothing (no second grid or log entries for step 8).
    let log = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
    let out = easel(&["resume", run_s, "--max-steps", "8"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("nothing to train") && said.contains("stops at step 8"),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(run.join("events.jsonl")).unwrap(),
        log
    );

    let out = dir.path().join("samples");
    let out_s = out.to_str().unwrap();
    let said = ok(&[
        "sample", "--run", run_s, "--count", "5", "--steps", "4", "--frames", "--out", out_s,
    ]);
    assert!(said.contains("(5 samples"), "{said}");
    assert_eq!(count(&out, "sample-", ".png"), 5);
    assert_eq!(
        count(&out, "canvas-t", ".png"),
        4,
        "more steps than trained (T = 2)"
    );
    assert_eq!(count(&out, "delta-t", ".png"), 4);
    assert!(out.join("grid.png").is_file() && out.join("drawing.gif").is_file());
    let first = image::open(out.join("sample-00000.png")).unwrap();
    assert_eq!((first.width(), first.height()), (16, 16));

    // The same seed draws the same images.
    let again = dir.path().join("again");
    ok(&[
        "sample",
        "--run",
        run_s,
        "--count",
        "5",
        "--steps",
        "4",
        "--out",
        again.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(out.join("sample-00003.png")).unwrap(),
        std::fs::read(again.join("sample-00003.png")).unwrap()
    );

    // A bundle redraws its own images, and notices when they or the checkpoint change.
    let bundle = dir.path().join("bundle");
    let bundle_s = bundle.to_str().unwrap();
    ok(&[
        "sample", "--run", run_s, "--count", "6", "--steps", "3", "--seed", "9", "--noise",
        "per-step", "--frames", "--bundle", bundle_s,
    ]);
    let manifest = std::fs::read_to_string(bundle.join("manifest.toml")).unwrap();
    assert!(manifest.contains("checkpoint_sha256"), "{manifest}");
    assert!(manifest.contains("noise = \"per-step\""), "{manifest}");
    assert!(bundle.join("config.toml").is_file());
    assert_eq!(count(&bundle.join("images"), "sample-", ".png"), 6);
    assert!(bundle.join("images").join("drawing.gif").is_file());
    let said = ok(&["verify", bundle_s]);
    assert!(
        said.contains("6 images redrawn, largest difference 0/255"),
        "{said}"
    );
    // The bundle is a run folder too.
    let from_bundle = dir.path().join("from-bundle");
    ok(&[
        "sample",
        "--run",
        bundle_s,
        "--count",
        "6",
        "--steps",
        "3",
        "--seed",
        "9",
        "--noise",
        "per-step",
        "--out",
        from_bundle.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(from_bundle.join("sample-00005.png")).unwrap(),
        std::fs::read(bundle.join("images").join("sample-00005.png")).unwrap()
    );
    let e = fails(&["sample", "--run", run_s, "--bundle", bundle_s]);
    assert!(e.contains("not empty"), "{e}");
    // A changed image is caught.
    std::fs::copy(
        bundle.join("images").join("sample-00000.png"),
        bundle.join("images").join("sample-00001.png"),
    )
    .unwrap();
    let e = fails(&["verify", bundle_s]);
    assert!(e.contains("differ"), "{e}");
    // A manifest pointing outside the bundle is refused.
    let escaped = manifest.replace(
        "checkpoint = \"checkpoints/",
        "checkpoint = \"../run/checkpoints/",
    );
    std::fs::write(bundle.join("manifest.toml"), escaped).unwrap();
    let e = fails(&["verify", bundle_s]);
    assert!(e.contains("paths inside the bundle"), "{e}");
}

#[test]
fn errors_are_one_line_and_exit_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let out_s = out.to_str().unwrap();
    let e = fails(&["train", "--preset", "nope", "--out", out_s]);
    assert!(e.contains("gran-fmnist"), "{e}");
    let e = fails(&["stop", out_s]);
    assert!(e.contains("not an Easel run folder"), "{e}");
    let e = fails(&[
        "train",
        "--preset",
        "gran-shapes",
        "--backend",
        "cuda",
        "--out",
        out_s,
    ]);
    assert!(e.contains("cuda") && e.contains("not compiled in"), "{e}");
    // No terminal to ask on: no silent fall-back to the CPU, and the way to choose it.
    assert!(e.contains("pass `--backend cpu`"), "{e}");
    assert!(!out.exists(), "nothing was created");
    let e = fails(&["train", "--data", "idx", "--out", out_s]);
    assert!(e.contains("idx:DIR"), "{e}");
    let e = fails(&["train", "--data", "cifar10:/no/such/dir", "--out", out_s]);
    assert!(e.contains("/no/such/dir"), "{e}");
    let e = fails(&["sample", "--run", "/no/such/run", "--out", out_s]);
    assert!(e.contains("config.toml"), "{e}");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[model.gran]\ndecoder_widths = [8, 4, 3]\nchannels = 1\n",
    )
    .unwrap();
    let e = fails(&["train", "--config", bad.to_str().unwrap(), "--out", out_s]);
    assert!(e.contains("model.decoder_widths"), "{e}");
}

#[test]
fn presets_are_listed() {
    let out = ok(&["presets"]);
    for name in [
        "gran-shapes",
        "gran-fmnist",
        "dcgan-fmnist",
        "gran-cifar10",
        "gran-lsun64",
    ] {
        assert!(out.contains(name), "{out}");
    }
}

#[test]
fn a_model_battles_itself_to_a_tie_and_a_mismatch_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    ok(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--max-steps",
        "3",
        "--out",
        run_s,
    ]);

    let said = ok(&["battle", run_s, run_s, "--samples", "40", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&said).expect("JSON");
    let t = &v["table"];
    // The same G and D on the same noise: every swapped cell equals its mirror.
    assert_eq!(t["d1_on_g2"], t["d2_on_g1"]);
    assert_eq!(t["d1_on_test"], t["d2_on_test"]);
    assert_eq!(t["d1_on_g1"]["total"], 40);
    assert_eq!(t["d1_on_test"]["total"], 8, "the shapes' held-out split");
    let verdict = &v["verdict"];
    assert_eq!(verdict["winner"], "tie");
    for ratio in ["r_test", "r_sample"] {
        let r = &verdict[ratio];
        assert!(
            r["kind"] == "undefined" || r["value"] == 1.0,
            "{ratio} of a model against itself: {r}"
        );
    }
    let text = ok(&["battle", run_s, run_s, "--samples", "40"]);
    assert!(
        text.contains("r_sample = ε(D1(G2(z))) / ε(D2(G1(z)))"),
        "{text}"
    );
    assert!(text.contains("tie: "), "{text}");

    // A run on other data cannot battle this one.
    let other = dir.path().join("other");
    let other_cfg = dir.path().join("other.toml");
    std::fs::write(
        &other_cfg,
        TINY.replace("train_count = 48", "train_count = 64"),
    )
    .unwrap();
    ok(&[
        "train",
        "--config",
        other_cfg.to_str().unwrap(),
        "--max-steps",
        "1",
        "--out",
        other.to_str().unwrap(),
    ]);
    let e = fails(&["battle", run_s, other.to_str().unwrap(), "--samples", "10"]);
    assert!(e.contains("same data"), "{e}");

    // The partial GAM: M1's D on a folder of images from elsewhere (here: its own exported
    // samples, which it must score exactly as it scores its own samples with the same seed).
    let folder = dir.path().join("elsewhere");
    ok(&[
        "sample",
        "--run",
        run_s,
        "--count",
        "12",
        "--seed",
        "5",
        "--out",
        folder.to_str().unwrap(),
    ]);
    std::fs::remove_file(folder.join("grid.png")).unwrap();
    let said = ok(&[
        "battle",
        run_s,
        "--folder",
        folder.to_str().unwrap(),
        "--samples",
        "12",
        "--seed",
        "5",
        "--json",
    ]);
    let p: serde_json::Value = serde_json::from_str(&said).expect("JSON");
    assert_eq!(p["on_folder"]["total"], 12);
    assert_eq!(
        p["on_folder"], p["on_own_samples"],
        "8-bit PNGs of the same samples: {p}"
    );
    let e = fails(&[
        "battle",
        run_s,
        "--folder",
        dir.path().join("none").to_str().unwrap(),
    ]);
    assert!(e.contains("no such folder"), "{e}");
}

#[test]
fn a_config_with_an_unknown_field_fails_in_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, format!("{TINY}joint = true\n")).unwrap();
    let e = fails(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert!(
        e.contains("unknown field `joint`") && e.contains("line 22"),
        "{e}"
    );
}

#[test]
fn an_arena_of_checkpoints_ranks_them_and_writes_csv() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    // Checkpoints at steps 3, 6 and 7 (the end).
    ok(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--max-steps",
        "7",
        "--out",
        run_s,
    ]);
    let csv = dir.path().join("board.csv");
    let said = ok(&[
        "arena",
        run_s,
        "--checkpoints",
        "--samples",
        "30",
        "--json",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&said).expect("JSON");
    assert_eq!(v["names"].as_array().unwrap().len(), 3);
    assert_eq!(
        v["verdicts"].as_array().unwrap().len(),
        3,
        "every pair once"
    );
    let board = v["leaderboard"].as_array().unwrap();
    let games: u64 = board
        .iter()
        .map(|s| {
            s["wins"].as_u64().unwrap()
                + s["ties"].as_u64().unwrap()
                + s["losses"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(games, 6, "each of 3 battles counted for both sides");
    let ratings: Vec<f64> = board
        .iter()
        .map(|s| s["rating"].as_f64().unwrap())
        .collect();
    assert!(
        ratings.windows(2).all(|w| w[0] >= w[1]),
        "best first: {ratings:?}"
    );
    assert!(
        ratings.iter().sum::<f64>().abs() < 1e-6,
        "centred on the average"
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.starts_with("rank,name,wins,ties,losses,rating,rating_se"));
    assert!(
        text.contains("@3") && text.contains("@6") && text.contains("@7"),
        "{text}"
    );
    let e = fails(&["arena", run_s]);
    assert!(e.contains("at least two models"), "{e}");
}

#[test]
fn a_run_is_scored_beside_real_images_and_the_classifier_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    ok(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--max-steps",
        "3",
        "--out",
        run_s,
    ]);
    let cache = dir.path().join("cache");
    let score = |json: bool, probes: &str| {
        let mut args = vec!["score", run_s, "--samples", "40", "--probes", probes];
        if json {
            args.push("--json");
        }
        let out = Command::new(env!("CARGO_BIN_EXE_easel"))
            .args(&args)
            .env("EASEL_CACHE", &cache)
            .output()
            .expect("easel runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (said, _) = score(true, "3");
    let v: serde_json::Value = serde_json::from_str(&said).expect("JSON");
    let classes = v["classes"].as_array().unwrap().len() as f64;
    assert_eq!(v["samples"]["count"], 40);
    assert_eq!(
        v["real"]["count"], 8,
        "as many held-out images as there are"
    );
    for who in ["samples", "real"] {
        let s = v[who]["classifier_score"].as_f64().unwrap();
        assert!((1.0..=classes + 1e-9).contains(&s), "{who}: {s}");
        assert!(v[who]["frechet_distance"].as_f64().unwrap() >= 0.0);
        let histogram: u64 = v[who]["coverage"]["histogram"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert_eq!(histogram, v[who]["count"].as_u64().unwrap());
    }
    assert_eq!(v["neighbours"].as_array().unwrap().len(), 3);
    assert_eq!(v["neighbours"][0]["by_pixels"].as_array().unwrap().len(), 5);
    let cached: Vec<_> = std::fs::read_dir(cache.join("classifiers"))
        .unwrap()
        .collect();
    assert_eq!(cached.len(), 1, "one classifier cached for the dataset");
    // The second score reuses it: no training message, the same figures.
    let (text, err) = score(false, "3");
    assert!(!err.contains("training the"), "{err}");
    assert!(text.contains("classifier score"), "{text}");
    assert!(text.contains("8 held-out images"), "{text}");
    assert!(
        text.contains("memorisation: nearest training image"),
        "{text}"
    );
    // Without probes there is no memorisation figure to give (it read "-0.00×").
    let (text, _) = score(false, "0");
    assert!(text.contains("memorisation: not measured"), "{text}");
}

#[test]
fn scoring_a_folder_needs_its_dataset_and_images() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = easel(&["score", "--folder", d]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--data"),
        "names the missing option"
    );
    let out = easel(&["score"]);
    assert!(!out.status.success(), "neither a run nor a folder");
    let e = fails(&["score", "--folder", d, "--data", "shapes"]);
    assert!(e.contains("no PNG or JPEG image"), "{e}");
    let e = fails(&["score", "--folder", d, "--data", "mnist"]);
    assert!(e.contains("unknown --data"), "{e}");
}
