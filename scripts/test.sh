#!/usr/bin/env bash
# Runs the whole test suite, installing what it needs first. This is the command the README
# gives and the one CI runs; it never skips the Verilator regression.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in verilator:verilator iverilog:iverilog yosys:yosys xmllint:libxml2-utils g++:g++ cc:gcc tclsh:tcl python3:python3; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "== installing ${need[*]} (Debian packages)"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "== tools: $(verilator --version | head -1); $(iverilog -V 2>/dev/null | head -1); $(yosys -V)"

./scripts/install-test-deps.sh

echo "== cargo test"
cargo test
echo "== cargo clippy"
cargo clippy --all-targets -- -D warnings
echo "== cargo fmt --check"
cargo fmt --check
