//! The soak harness in miniature over every paper's model (the full one: `cargo run --release
//! -p easel-tests --bin soak -- --kills 20 --model …`): SIGKILLs at random moments, half of them
//! just after a checkpoint write begins; every resume succeeds, no kill costs more than one
//! checkpoint interval, and the final weights equal an uninterrupted run's.

use easel_tests::soak::{SoakConfig, SoakModel, soak};

fn soak_passes(model: SoakModel, kills: usize, steps: u64) {
    let dir = tempfile::tempdir().unwrap();
    let config = SoakConfig {
        kills,
        steps,
        seed: 3,
        dir: dir.path().to_path_buf(),
        worker: env!("CARGO_BIN_EXE_soak").into(),
        model,
    };
    let report = soak(&config, &mut |line| eprintln!("{line}")).unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.kills, kills, "every kill landed while training");
    assert!(report.most_steps_lost <= report.checkpoint_every);
}

#[test]
fn gran_killed_at_random_moments_ends_as_an_uninterrupted_run() {
    soak_passes(SoakModel::Gran, 6, 200);
}

#[test]
fn lapgan_killed_at_random_moments_ends_as_an_uninterrupted_run() {
    soak_passes(SoakModel::Lapgan, 4, 120);
}

#[test]
fn stackgan_v1_killed_across_its_two_phases_ends_as_an_uninterrupted_run() {
    // Stage-II starts at step 8: kills land in both phases.
    soak_passes(SoakModel::StackganV1, 4, 80);
}

#[test]
fn stackgan_v2_killed_at_random_moments_ends_as_an_uninterrupted_run() {
    soak_passes(SoakModel::StackganV2, 4, 80);
}
