#!/usr/bin/env bash
# The CTest `image` tests: install the image tools, build the package and the image (`build`),
# then boot it under qemu and require the self-test's PASS (`boot`); no argument does both. Two
# tests so the build (downloads, dpkg) runs beside the scenario tests and only the emulated boot,
# which takes both cores, runs alone. Needs root (mmdebstrap); exits 77 (skipped) without.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
step="${1:-all}"
if ((EUID != 0)); then
  echo "image test: needs root (mmdebstrap); skipped"
  exit 77
fi
start=$SECONDS
if [[ "$step" == build || "$step" == all ]]; then
  "$here/setup.sh"
  "$here/build.sh"
  echo "image test: build $((SECONDS - start)) s"
fi
if [[ "$step" == boot || "$step" == all ]]; then
  start=$SECONDS
  "$here/smoke.sh"
  echo "image test: boot to PASS and power-off $((SECONDS - start)) s"
fi
