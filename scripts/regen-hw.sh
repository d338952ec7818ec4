#!/usr/bin/env bash
# Regenerates hw/, the checked-in IP of the bundled example (tests/hw_fresh.rs fails when it is
# stale). Run from anywhere; the command recorded in the files is the one below, verbatim.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
./target/release/repact-hw gen --weights examples/repact-digits/bn/model.safetensors --out hw/repact-digits-bn
