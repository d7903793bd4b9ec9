//! `fuzz`: the stable-Rust mutation fuzzer over Easel's parsers (the same targets as the
//! cargo-fuzz crate in `fuzz/`). Starting from each target's seeds, it mutates (bit flips,
//! interesting bytes and 32-bit big-endian values, inserts, deletes, truncation, splices) and
//! runs the parser; it fails on a panic, on one run taking over a second (a watchdog aborts
//! after ten), and on any allocation over 256 MiB or over 512 MiB live at once (a header must
//! not make Easel allocate what the file cannot hold). Usage:
//!
//! ```text
//! cargo run --release -p easel-tests --bin fuzz -- [--target idx|…|all] [--runs 1000000] [--seed 1] [--out DIR]
//! cargo run -p easel-tests --bin fuzz -- --write-corpus fuzz/corpus   # the seeds, for cargo-fuzz
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use easel_tests::SplitMix64 as Rng;
use easel_tests::fuzz::{TARGETS, run, seeds};

const MAX_ALLOCATION: usize = 256 << 20;
const MAX_LIVE: usize = 512 << 20;

/// The system allocator, refusing (by aborting with a message) any allocation a parser should
/// never need.
struct Capped;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn refuse(what: &[u8]) -> ! {
    // Unbuffered, no allocation.
    let _ = std::io::stderr().write_all(what);
    std::process::abort()
}

fn account(grow: usize) {
    let live = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
    PEAK.fetch_max(live, Ordering::Relaxed);
    if grow > MAX_ALLOCATION {
        refuse(b"fuzz: FAILED: one allocation over 256 MiB\n");
    }
    if live > MAX_LIVE {
        refuse(b"fuzz: FAILED: over 512 MiB allocated at once\n");
    }
}

// SAFETY: every call forwards to `System` with the caller's layout; the bookkeeping only reads
// sizes.
unsafe impl GlobalAlloc for Capped {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        account(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        account(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Capped = Capped;

const INTERESTING: [u32; 10] = [
    0,
    1,
    2,
    0x7F,
    0xFF,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
    0x0000_0803,
    0x0000_0801,
];

/// One to eight mutations of `input`, sometimes spliced with `other`.
fn mutate(input: &[u8], other: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(8) {
        match rng.below(9) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = [0u8, 0xFF, 0x7F, 0x80, b'\n', b'"', b'=', b'[', 0xC3][rng.below(9)];
            }
            2 if v.len() >= 4 => {
                let i = rng.below(v.len() - 3);
                let value = if rng.below(3) == 0 {
                    (v.len() as u32)
                        .wrapping_add(rng.below(5) as u32)
                        .wrapping_sub(2)
                } else {
                    INTERESTING[rng.below(INTERESTING.len())]
                };
                v[i..i + 4].copy_from_slice(&value.to_be_bytes());
            }
            3 => {
                let i = rng.below(v.len() + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                v.splice(i..i, bytes);
            }
            4 if !v.is_empty() => {
                let i = rng.below(v.len());
                let n = 1 + rng.below((v.len() - i).min(64));
                v.drain(i..i + n);
            }
            5 => v.truncate(rng.below(v.len() + 1)),
            6 if !v.is_empty() => {
                // Repeat a chunk (duplicated keys, sections, records).
                let i = rng.below(v.len());
                let n = 1 + rng.below((v.len() - i).min(256));
                let chunk = v[i..i + n].to_vec();
                let at = rng.below(v.len() + 1);
                v.splice(at..at, chunk);
            }
            7 if !other.is_empty() => {
                let cut = rng.below(v.len() + 1);
                let from = rng.below(other.len());
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            _ => {
                let n = rng.below(8);
                v.extend((0..n).map(|_| rng.next_u64() as u8));
            }
        }
    }
    v
}

/// Counts runs, so the watchdog can tell a stuck one.
static RUNS: AtomicU64 = AtomicU64::new(0);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut target, mut runs, mut seed) = ("all".to_string(), 1_000_000u64, 1u64);
    let mut out = std::env::temp_dir().join("easel-fuzz");
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let Some(value) = it.next() else {
            eprintln!("fuzz: {flag} needs a value; flags: --target T --runs N --seed N --out DIR");
            return ExitCode::from(2);
        };
        match flag.as_str() {
            "--target" => target = value.clone(),
            "--runs" => runs = value.parse().unwrap_or(runs),
            "--seed" => seed = value.parse().unwrap_or(seed),
            "--out" => out = PathBuf::from(value),
            "--write-corpus" => {
                // The seeds as files, for cargo-fuzz (`fuzz/corpus/<target>/`).
                for t in TARGETS {
                    let dir = PathBuf::from(value).join(t);
                    if let Err(e) = std::fs::create_dir_all(&dir) {
                        eprintln!("fuzz: {}: {e}", dir.display());
                        return ExitCode::FAILURE;
                    }
                    for (i, s) in seeds(t).iter().enumerate() {
                        let _ = std::fs::write(dir.join(format!("seed-{i:02}")), s);
                    }
                }
                return ExitCode::SUCCESS;
            }
            _ => {
                eprintln!("fuzz: unknown flag {flag}");
                return ExitCode::from(2);
            }
        }
    }
    let targets: Vec<&str> = if target == "all" {
        TARGETS.to_vec()
    } else if let Some(t) = TARGETS.iter().find(|t| **t == target) {
        vec![*t]
    } else {
        eprintln!("fuzz: unknown target {target:?}; targets: {TARGETS:?} or all");
        return ExitCode::from(2);
    };
    std::thread::spawn(|| {
        let mut last = u64::MAX;
        loop {
            std::thread::sleep(Duration::from_secs(10));
            let now = RUNS.load(Ordering::Relaxed);
            if now == last {
                refuse(b"fuzz: FAILED: one run took over 10 s (a hang)\n");
            }
            last = now;
        }
    });
    std::panic::set_hook(Box::new(|_| {})); // panics are counted and saved, not printed
    let mut failed = false;
    for t in targets {
        let corpus = seeds(t);
        let mut rng = Rng(seed ^ t.len() as u64);
        let (mut panics, mut slowest) = (0usize, Duration::ZERO);
        let started = Instant::now();
        for _ in 0..runs {
            let a = &corpus[rng.below(corpus.len())];
            let b = &corpus[rng.below(corpus.len())];
            let input = mutate(a, b, &mut rng);
            let t0 = Instant::now();
            let ok = std::panic::catch_unwind(|| run(t, &input)).is_ok();
            slowest = slowest.max(t0.elapsed());
            RUNS.fetch_add(1, Ordering::Relaxed);
            if !ok {
                panics += 1;
                let dir = out.join(t);
                let _ = std::fs::create_dir_all(&dir);
                let _ = std::fs::write(dir.join(format!("crash-{panics:04}")), &input);
            }
        }
        let too_slow = slowest > Duration::from_secs(1);
        failed |= panics > 0 || too_slow;
        println!(
            "{t}: {runs} runs in {:.1} s, {panics} panics{}, slowest run {:.2} ms, peak {:.1} MiB live",
            started.elapsed().as_secs_f64(),
            if panics > 0 {
                format!(" (inputs in {})", out.join(t).display())
            } else {
                String::new()
            },
            slowest.as_secs_f64() * 1e3,
            PEAK.load(Ordering::Relaxed) as f64 / (1 << 20) as f64
        );
    }
    if failed {
        println!("FAILED");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
