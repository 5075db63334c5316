#!/usr/bin/env bash
# One command installs everything: Debian packages (needs root or sudo), then the Python package.
set -euo pipefail
cd "$(dirname "$0")"
DEBIAN_PACKAGES=(fonts-noto-color-emoji gcc gcc-avr avr-libc binutils-avr avrdude simavr libsimavr-dev libelf-dev)
if command -v apt-get >/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    missing=()
    for p in "${DEBIAN_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
else
    echo "setup.sh: no apt-get; install these yourself: ${DEBIAN_PACKAGES[*]}" >&2
fi
python3 -m pip install -q -e '.[dev]'
python3 pio/offline.py   # PlatformIO's core in .pio-core: pio run works without its registry
