#![no_main]
//! `cargo +nightly fuzz run cifar`: the cifar parser on any bytes (target in easel-tests/src/fuzz.rs).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| easel_tests::fuzz::run("cifar", data));
