#!/usr/bin/env bash
# Installs what image/build.sh and image/smoke.sh need on a Debian 12 machine (as root): first
# what building Muzzle needs (tests/setup.sh --packages-only: compilers and libraries, from the
# one list there; build.sh builds the .deb), then the image builder, the disk's tools, qemu and
# its UEFI firmware for the smoke boot, and the compression tools.
# Idempotent; the image test (CTest label `image`) runs it first, so a fresh CI machine works.
set -euo pipefail

"$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/setup.sh" --packages-only

packages=(
  mmdebstrap e2fsprogs zstd  # the tree, the ext4 disk, the artefact
  mount                      # mmdebstrap's file-mirror-automount hook (a Recommends of mmdebstrap)
  eatmydata                  # mmdebstrap's eatmydata hook: dpkg without fsync, much faster
  dosfstools mtools fdisk    # the disk: mkfs.vfat -C, mmd/mcopy into it, sfdisk on a file
  qemu-system-x86 ovmf       # image/smoke.sh (software emulation; no KVM needed; UEFI firmware)
  dpkg-dev file              # dpkg-shlibdeps, for the package's library dependencies (it runs file)
  help2man lintian           # man pages from --help (image/docs.sh); the package's check
)

missing=()
for p in "${packages[@]}"; do
  # One status line per installed architecture (see tests/setup.sh).
  if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -x 'install ok installed' >/dev/null; then
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
