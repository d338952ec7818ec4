#!/usr/bin/env bash
# Regenerates hw/, the checked-in IP of the bundled examples (tests/hw_fresh.rs fails when it is
# stale). Run from anywhere; the command recorded in the files is the one below, verbatim.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/repact-hw"
# Each line below is also in tests/hw_fresh.rs (HW_EXAMPLES): keep them equal.
"$bin" gen --weights examples/repact-digits/bn/model.safetensors --out hw/repact-digits-bn
"$bin" gen --weights examples/mobilenetv3-style/weights.json --out hw/mobilenetv3-style
