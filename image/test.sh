#!/usr/bin/env bash
# The CTest `image` test: install the image tools, build the package and the image, boot it under
# qemu and require the self-test's PASS. Needs root (mmdebstrap); exits 77 (skipped) without.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ((EUID != 0)); then
  echo "image test: needs root (mmdebstrap); skipped"
  exit 77
fi
start=$SECONDS
"$here/setup.sh"
"$here/build.sh"
built=$SECONDS
"$here/smoke.sh"
echo "image test: build $((built - start)) s, boot to PASS and power-off $((SECONDS - built)) s"
