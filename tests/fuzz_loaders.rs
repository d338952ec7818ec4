//! Mutation fuzzing of every loader on stable Rust: the bundled, really trained weights files
//! (JSON, safetensors, .pth) and tensors (.npy) are mutated by a seeded RNG — bit flips,
//! interesting bytes, inserted, deleted, duplicated and spliced ranges, truncation; for .pth
//! also mutations of the pickle and storages inside a re-written zip, for safetensors mostly
//! of the header — and each mutant is loaded in-process. Every case must return `Ok` or
//! `Err` (a panic fails the test), within 10 s; the process's peak RSS must stay bounded.
//!
//! `cargo test` runs a few hundred cases per loader (a second or two). For a longer run:
//!
//! ```sh
//! REPACT_FUZZ_CASES=100000 cargo test --release --test fuzz_loaders -- --nocapture
//! ```
//!
//! `REPACT_FUZZ_SEED` picks another seed. A failing mutant is saved under the system temp
//! directory and its path printed, so it can be replayed with `repact-hw inspect --weights`.

mod fuzz_support;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use repact_hw::model::Variant;
use repact_hw::weights::{load, LoadOptions};
use std::io::{Cursor, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const DEFAULT_CASES: usize = 300;
const CASE_LIMIT: Duration = Duration::from_secs(10);
const PEAK_RSS_LIMIT_MB: f64 = 2048.0;

fn cases() -> usize {
    std::env::var("REPACT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

fn seed(salt: u64) -> u64 {
    std::env::var("REPACT_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5245_5041_4354)
        ^ salt
}

fn example(rel: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/repact-digits")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const INTERESTING: &[u8] = b"\x00\xff\x7f\x80\x01[]{}(),:\"'0123456789-.eEN\n \\";

/// One random byte-level mutation of `b`, `donor` supplying spliced material.
fn mutate_bytes(rng: &mut StdRng, b: &mut Vec<u8>, donor: &[u8], focus: usize) {
    // Most mutations land in the first `focus` bytes (headers), the rest anywhere.
    let span = if rng.random_bool(0.7) {
        focus.min(b.len()).max(1)
    } else {
        b.len().max(1)
    };
    let at = rng.random_range(0..span);
    match rng.random_range(0..8) {
        0 if !b.is_empty() => {
            let i = at.min(b.len() - 1);
            b[i] ^= 1 << rng.random_range(0..8);
        }
        1 if !b.is_empty() => {
            let i = at.min(b.len() - 1);
            b[i] = INTERESTING[rng.random_range(0..INTERESTING.len())];
        }
        2 => {
            let n = rng.random_range(1..16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            let i = at.min(b.len());
            b.splice(i..i, bytes);
        }
        3 if !b.is_empty() => {
            let i = at.min(b.len() - 1);
            let n = rng.random_range(1..64).min(b.len() - i);
            b.drain(i..i + n);
        }
        4 if !b.is_empty() => {
            // Duplicate a range (repeated keys, nesting, repeated opcodes).
            let i = at.min(b.len() - 1);
            let n = rng.random_range(1..256).min(b.len() - i);
            let chunk = b[i..i + n].to_vec();
            let times = rng.random_range(1..8);
            let j = rng.random_range(0..=b.len());
            for _ in 0..times {
                b.splice(j..j, chunk.iter().copied());
            }
        }
        5 if !donor.is_empty() => {
            let i = rng.random_range(0..donor.len());
            let n = rng.random_range(1..128).min(donor.len() - i);
            let j = at.min(b.len());
            b.splice(j..j, donor[i..i + n].iter().copied());
        }
        6 => {
            let n = rng.random_range(0..=b.len());
            b.truncate(n);
        }
        _ if b.len() >= 8 => {
            // An interesting little-endian integer (lengths, counts, offsets).
            let v: u64 =
                [0, 1, 0x7f, 0xff, 0xffff, 0x7fff_ffff, u64::MAX, 1 << 40][rng.random_range(0..8)];
            let i = at.min(b.len() - 8);
            b[i..i + 8].copy_from_slice(&v.to_le_bytes());
        }
        _ => b.push(rng.random()),
    }
}

fn mutate(rng: &mut StdRng, seed: &[u8], donor: &[u8], focus: usize) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..rng.random_range(1..6) {
        mutate_bytes(rng, &mut b, donor, focus);
    }
    b
}

fn rezip(entries: &[(String, Vec<u8>)], rng: &mut StdRng) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let method = if rng.random_bool(0.5) {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let o = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, data) in entries {
        w.start_file(name.as_str(), o).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn options(rng: &mut StdRng) -> LoadOptions {
    LoadOptions {
        variant: [
            None,
            Some(Variant::Origin),
            Some(Variant::Softmax),
            Some(Variant::Bn),
        ][rng.random_range(0..4)],
        ..LoadOptions::default()
    }
}

/// Loads every mutant with `run`, requiring Ok or Err within the time limit.
fn fuzz(
    name: &str,
    ext: &str,
    salt: u64,
    mut make: impl FnMut(&mut StdRng) -> Vec<u8>,
    run: impl Fn(&Path, &mut StdRng) -> bool,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("case.{ext}"));
    let mut rng = StdRng::seed_from_u64(seed(salt));
    let n = cases();
    let (mut ok, mut slowest) = (0usize, Duration::ZERO);
    for case in 0..n {
        let bytes = make(&mut rng);
        std::fs::write(&path, &bytes).unwrap();
        let start = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| run(&path, &mut rng)));
        let took = start.elapsed();
        slowest = slowest.max(took);
        let keep = || {
            let p = std::env::temp_dir().join(format!("repact-fuzz-{name}-{case}.{ext}"));
            std::fs::write(&p, &bytes).unwrap();
            p
        };
        match result {
            Ok(loaded) => ok += usize::from(loaded),
            Err(_) => panic!(
                "{name}: case {case} panicked; input saved to {}",
                keep().display()
            ),
        }
        assert!(
            took < CASE_LIMIT,
            "{name}: case {case} took {took:?}; input saved to {}",
            keep().display()
        );
    }
    let peak = fuzz_support::own_peak_mb();
    eprintln!("{name}: {n} cases, {ok} loaded, slowest {slowest:?}, process peak RSS {peak:.0} MB");
    assert!(peak < PEAK_RSS_LIMIT_MB, "{name}: peak RSS {peak:.0} MB");
}

fn load_weights(p: &Path, rng: &mut StdRng) -> bool {
    load(p, &options(rng)).is_ok()
}

#[test]
fn fuzz_json_loader() {
    let seeds = [example("bn/weights.json"), example("origin/weights.json")];
    fuzz(
        "json",
        "json",
        1,
        |rng| {
            let s = &seeds[rng.random_range(0..2)];
            mutate(rng, s, &seeds[0], s.len())
        },
        load_weights,
    );
}

#[test]
fn fuzz_safetensors_loader() {
    let seeds = [
        example("bn/model.safetensors"),
        example("origin/model.safetensors"),
    ];
    fuzz(
        "safetensors",
        "safetensors",
        2,
        |rng| {
            let s = &seeds[rng.random_range(0..2)];
            let header = 8 + u64::from_le_bytes(s[..8].try_into().unwrap()) as usize;
            mutate(rng, s, &seeds[1], header)
        },
        load_weights,
    );
}

#[test]
fn fuzz_pth_loader() {
    let seeds = [example("bn/model.pth"), example("origin/model.pth")];
    let inner: Vec<Vec<(String, Vec<u8>)>> = seeds.iter().map(|s| fuzz_support::unzip(s)).collect();
    fuzz(
        "pth",
        "pth",
        3,
        |rng| {
            let k = rng.random_range(0..2);
            if rng.random_bool(0.25) {
                // The archive's own bytes.
                return mutate(rng, &seeds[k], &seeds[1 - k], 64);
            }
            // The pickle (most of the time) or a storage, inside a valid zip.
            let mut entries = inner[k].clone();
            let pkl = entries
                .iter()
                .position(|(n, _)| n.ends_with("data.pkl"))
                .unwrap();
            let i = if rng.random_bool(0.8) {
                pkl
            } else {
                rng.random_range(0..entries.len())
            };
            let donor = inner[1 - k][pkl.min(inner[1 - k].len() - 1)].1.clone();
            let len = entries[i].1.len();
            entries[i].1 = mutate(rng, &entries[i].1, &donor, len);
            rezip(&entries, rng)
        },
        load_weights,
    );
}

#[test]
fn fuzz_npy_reader() {
    let seeds = [
        example("bn/acts/block1.act.input.npy"),
        example("origin/acts/block5.act.output.npy"),
    ];
    fuzz(
        "npy",
        "npy",
        4,
        |rng| {
            let s = &seeds[rng.random_range(0..2)];
            mutate(rng, s, &seeds[0], 128)
        },
        |p, _| repact_hw::tensor::read_npy(p).is_ok(),
    );
}
