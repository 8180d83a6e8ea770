#!/usr/bin/env bash
# Installs what image/build.sh and image/smoke.sh need on a Debian 12 machine (as root): the
# image builder, qemu for the smoke boot, and the filesystem and compression tools.
# Idempotent; the image test (CTest label `image`) runs it first, so a fresh CI machine works.
set -euo pipefail

packages=(
  mmdebstrap e2fsprogs zstd  # the tree, the ext4 disk, the artefact
  mount                      # mmdebstrap's file-mirror-automount hook (a Recommends of mmdebstrap)
  eatmydata                  # mmdebstrap's eatmydata hook: dpkg without fsync, much faster
  qemu-system-x86            # image/smoke.sh (software emulation; no KVM needed)
  dpkg-dev file              # dpkg-shlibdeps, for the package's library dependencies (it runs file)
  help2man lintian           # man pages from --help (image/docs.sh); the package's check
)

missing=()
for p in "${packages[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "image setup: all ${#packages[@]} packages present"
  exit 0
fi
if ((EUID != 0)); then
  echo "image setup: missing ${missing[*]}; run as root to install them" >&2
  exit 1
fi
echo "image setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
