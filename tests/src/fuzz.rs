//! Fuzz targets for every parser of outside input (IDX, CIFAR binary batches, caption files, run
//! configs, checkpoints, bundle manifests), shared by the cargo-fuzz crate in `fuzz/` (nightly,
//! libFuzzer) and the stable mutation driver `fuzz` (`cargo run --release -p easel-tests --bin
//! fuzz -- --target idx --runs 1000000`), which also bounds every allocation and every run's time.
//! A target returns normally for any input: errors are fine, panics and hangs are not.

use std::path::Path;

use easel_core::data::{captions, cifar, idx};
use easel_core::export::bundle;
use easel_core::train::RunConfig;
use easel_core::train::checkpoint::Checkpoint;

/// The targets, by name.
pub const TARGETS: [&str; 6] = [
    "idx",
    "cifar",
    "captions",
    "config",
    "checkpoint",
    "manifest",
];

/// Feeds `data` to the parser `target` names; unknown targets panic (a usage error).
pub fn run(target: &str, data: &[u8]) {
    let path = Path::new("fuzz-input");
    match target {
        "idx" => {
            let _ = idx::parse_images(path, data);
            let _ = idx::parse_labels(path, data);
        }
        "cifar" => {
            let (mut pixels, mut labels) = (Vec::new(), Vec::new());
            let _ = cifar::parse_batch(path, data, &mut pixels, &mut labels);
        }
        "captions" => {
            let _ = captions::parse_captions(path, data.to_vec());
        }
        "config" => {
            if let Ok(text) = std::str::from_utf8(data)
                && let Ok(config) = RunConfig::from_toml(text, "fuzz-input")
            {
                // What parses must also validate without panicking and write back.
                let _ = config.validate();
                let _ = config.to_toml();
            }
        }
        "checkpoint" => {
            // As they come, and resealed with a valid checksum so the mutations reach the
            // header and section parsing behind it.
            let mut sealed = data.to_vec();
            if sealed.len() >= 32 {
                use sha2::{Digest, Sha256};
                let body = sealed.len() - 32;
                let digest = Sha256::digest(&sealed[..body]);
                sealed[body..].copy_from_slice(&digest);
            }
            for bytes in [data, &sealed[..]] {
                if let Ok(c) = Checkpoint::from_bytes(bytes, path) {
                    let _ = c.section("generator", path);
                    let _ = RunConfig::from_toml(&c.config_toml, "fuzz-input");
                }
            }
        }
        "manifest" => {
            if let Ok(text) = std::str::from_utf8(data) {
                let _ = bundle::parse_manifest(Path::new("bundle"), text);
            }
        }
        other => panic!("unknown fuzz target {other:?}; targets: {TARGETS:?}"),
    }
}

/// Valid inputs each target starts mutating from (also written to `fuzz/corpus/<target>/`).
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    match target {
        "idx" => {
            let mut images = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3];
            images.extend((0..18).map(|i| i as u8 * 13));
            let mut labels = vec![0, 0, 8, 1, 0, 0, 0, 3];
            labels.extend([1, 7, 9]);
            vec![images, labels]
        }
        "cifar" => {
            let mut batch = Vec::new();
            for label in [3u8, 8] {
                batch.push(label);
                batch.extend((0..3072).map(|i| (i * 7 % 256) as u8));
            }
            vec![batch]
        }
        "captions" => vec![
            b"a small red bird with black wings\nthis bird is red\n\n".to_vec(),
            "\u{feff}un oiseau rouge\r\nwith a caf\u{e9}\n"
                .as_bytes()
                .to_vec(),
        ],
        "config" => easel_core::train::Preset::all()
            .iter()
            .map(|p| p.config.to_toml().into_bytes())
            .collect(),
        "checkpoint" => {
            let c = Checkpoint {
                state: easel_core::train::checkpoint::TrainingState {
                    step: 4,
                    epoch: 0,
                    batch_in_epoch: 4,
                    d_updates: 4,
                    g_updates: 4,
                    noise_word_pos: "128".into(),
                    elapsed_seconds: 1.5,
                },
                config_toml: crate::tiny_config(2, 1).to_toml(),
                sections: vec![
                    ("generator".into(), vec![1, 2, 3, 4]),
                    ("discriminator".into(), vec![5; 16]),
                ],
            };
            vec![c.to_bytes()]
        }
        "manifest" => vec![
            format!(
                "version = {}\neasel_version = \"0.1.0\"\nsource_run = \"runs/a\"\n\
                 checkpoint = \"checkpoint.ckpt\"\ncheckpoint_sha256 = \"00\"\n\
                 checkpoint_step = 4\nsteps = 2\nnoise = \"once\"\n\
                 files = [\"images/sample-00000.png\"]\nregenerate = \"easel verify .\"\n\
                 [request]\ncount = 1\nseed = 0\ngrid = true\neach = true\nframes = false\n",
                bundle::BUNDLE_VERSION
            )
            .into_bytes(),
        ],
        other => panic!("unknown fuzz target {other:?}; targets: {TARGETS:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_is_input_its_parser_accepts() {
        let path = Path::new("seed");
        for s in seeds("idx") {
            assert!(idx::parse_images(path, &s).is_ok() || idx::parse_labels(path, &s).is_ok());
        }
        for s in seeds("cifar") {
            cifar::parse_batch(path, &s, &mut Vec::new(), &mut Vec::new()).unwrap();
        }
        for s in seeds("captions") {
            assert!(!captions::parse_captions(path, s).unwrap().is_empty());
        }
        for s in seeds("config") {
            RunConfig::from_toml(std::str::from_utf8(&s).unwrap(), "seed").unwrap();
        }
        for s in seeds("checkpoint") {
            Checkpoint::from_bytes(&s, path).unwrap();
        }
        for s in seeds("manifest") {
            bundle::parse_manifest(Path::new("b"), std::str::from_utf8(&s).unwrap()).unwrap();
        }
        for t in TARGETS {
            for s in seeds(t) {
                run(t, &s);
            }
        }
    }
}
