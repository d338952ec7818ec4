//! `hw/` holds the generated IP of the bundled example so users can read real output without
//! running anything. This test regenerates it exactly as `scripts/regen-hw.sh` does and fails
//! when any file differs: run that script after changing the generator.

pub mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// (weights, output directory, cores): what `scripts/regen-hw.sh` generates, line by line.
const HW_EXAMPLES: [(&str, &str, usize); 2] = [
    (
        "examples/repact-digits/bn/model.safetensors",
        "hw/repact-digits-bn",
        5,
    ),
    // A MobileNetV3-style set: HardSwish, ReLU, a RepAct-III layer, the SE gate's HardSigmoid.
    (
        "examples/mobilenetv3-style/weights.json",
        "hw/mobilenetv3-style",
        5,
    ),
];

/// Every file under `root`: its path relative to `root` (with `/`) and its bytes.
fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    common::files_under(root)
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read(&p).unwrap())
        })
        .collect()
}

#[test]
fn checked_in_hw_is_what_the_generator_writes_today() {
    let script =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/regen-hw.sh"))
            .unwrap();
    for (weights, out, _) in HW_EXAMPLES {
        assert!(
            script.contains(&format!("gen --weights {weights} --out {out}\n")),
            "scripts/regen-hw.sh does not regenerate {out} from {weights}"
        );
        check_fresh(weights, out);
    }
}

fn check_fresh(weights: &str, out: &str) {
    let repo = common::repo();
    let checked_in = repo.join(out);
    assert!(
        checked_in.is_dir(),
        "{out} is missing: run scripts/regen-hw.sh"
    );
    // Same relative paths as the script, so the recorded command line is identical.
    let tmp = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repo.join("examples"), tmp.path().join("examples")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_repact-hw"))
        .current_dir(tmp.path())
        .args(["gen", "--weights", weights, "--out", out])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (want, have) = (files(&tmp.path().join(out)), files(&checked_in));
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&want),
        names(&have),
        "{out} has other files than gen writes: run scripts/regen-hw.sh"
    );
    for (name, bytes) in &want {
        assert!(
            &have[name] == bytes,
            "{out}/{name} is stale: run scripts/regen-hw.sh"
        );
    }
}

#[test]
fn checked_in_hw_passes_verify() {
    for (_, out, cores) in HW_EXAMPLES {
        check_verify(out, cores);
    }
}

fn check_verify(out: &str, cores: usize) {
    let repo = common::repo();
    let o = Command::new(env!("CARGO_BIN_EXE_repact-hw"))
        .args([
            "verify",
            repo.join(out).to_str().unwrap(),
            "--stress-beats",
            "100000",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["passed"], true);
    assert_eq!(doc["cores"].as_array().unwrap().len(), cores, "{out}");
}
