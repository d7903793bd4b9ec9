//! The stable fuzz driver over every parser, briefly (the full 10⁶ runs per target are on
//! demand: see docs/reliability.md): no panic, no slow run, no allocation past its caps.

#[test]
fn every_parser_survives_twenty_thousand_mutated_inputs() {
    let out = tempfile::tempdir().unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_fuzz"))
        .args(["--runs", "20000", "--seed", "7", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for target in easel_tests::fuzz::TARGETS {
        assert!(
            report.contains(&format!("{target}: 20000 runs")) && report.contains("0 panics"),
            "{report}"
        );
    }
}
