#!/usr/bin/env bash
# Boots a throw-away copy of the image under qemu with software emulation and no network device,
# with muzzle.selftest=1 on the kernel command line, and reads the self-test's marker from the
# serial console. Exit 0 on `MUZZLE-SELFTEST: PASS` with queue_mode=native, 1 otherwise.
#
#   image/smoke.sh [IMAGE_DIR]     (default $BUILD/muzzle-image, as image/build.sh leaves it)
#   MUZZLE_ARCH=arm64 image/smoke.sh [IMAGE_DIR]   (default <repo>/build-arm64/muzzle-image)
#
# SMOKE_TIMEOUT (seconds, default 480) bounds the whole boot; SMOKE_KEEP=1 keeps the console log.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-${BUILD:-$repo/build}/muzzle-image}"
limit="${SMOKE_TIMEOUT:-480}"

say() { printf 'smoke: %s\n' "$*"; }

# -- the machine to boot (MUZZLE_ARCH) ----------------------------------------------------------
# The build machine's architecture: a PC (qemu-system-x86_64). arm64: qemu's generic "virt" board
# with an emulated Cortex-class CPU; the Debian arm64 kernel drives its virtio disk and PL011
# serial port (ttyAMA0). pauth-impdef: qemu's own pointer-authentication hash instead of the
# architected QARMA one, which costs TCG most of its time in a kernel built with it (Debian's).
qemu=(qemu-system-x86_64 -accel tcg -cpu max)
console_tty=ttyS0
if [[ "${MUZZLE_ARCH:-$(dpkg --print-architecture)}" != "$(dpkg --print-architecture)" ]]; then
  case "$MUZZLE_ARCH" in
    arm64)
      dir="${1:-${BUILD_ARM64:-$repo/build-arm64}/muzzle-image}"
      # shellcheck disable=SC2054 # the commas are qemu's option syntax, not array separators
      qemu=(qemu-system-aarch64 -M virt -accel tcg -cpu max,pauth-impdef=on)
      console_tty=ttyAMA0
      limit="${SMOKE_TIMEOUT:-600}" # measured 133 s to power-off (image/README.md); room for a loaded machine
      ;;
    *) say "MUZZLE_ARCH=$MUZZLE_ARCH: boots $(dpkg --print-architecture) (this machine's) or arm64 images" >&2; exit 1 ;;
  esac
fi
for f in rootfs.ext4 vmlinuz initrd.img; do
  [[ -f "$dir/$f" ]] || {
    say "$dir/$f is missing: run image/build.sh first" >&2
    exit 1
  }
done
command -v "${qemu[0]}" >/dev/null || {
  say "${qemu[0]} is missing: run image/setup.sh (arm64: image/cross/setup-arm64.sh)" >&2
  exit 1
}

work="$(mktemp -d /var/tmp/muzzle-smoke.XXXXXX)"
cleanup() {
  if [[ -n "${SMOKE_KEEP:-}" ]]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The boot writes to its disk (journal, state): never to the built image itself.
cp --sparse=always "$dir/rootfs.ext4" "$work/disk.ext4"
console="$work/console.log"

# -accel tcg: KVM here cannot run a stock kernel, and CI must not depend on it.
# -nic none: the guest has no network device at all; its lab lives in its own namespaces.
# -no-reboot + panic=-1: a kernel panic ends qemu at once instead of looping.
say "booting $dir under qemu (TCG, no network), at most $limit s"
start=$SECONDS
status=0
timeout --kill-after=10 "$limit" "${qemu[@]}" \
  -smp 2 -m 1024 \
  -nic none -display none -monitor none -no-reboot \
  -serial "file:$console" \
  -kernel "$dir/vmlinuz" -initrd "$dir/initrd.img" \
  -append "root=/dev/vda rw console=$console_tty panic=-1 muzzle.selftest=1" \
  -drive "file=$work/disk.ext4,format=raw,if=virtio" || status=$?
elapsed=$((SECONDS - start))
((status == 124)) && say "qemu still running after $limit s: killed"

# What the self-test said, for the test log.
grep -a -E 'muzzle-selftest|MUZZLE-SELFTEST|  (PASS|FAIL) |^[0-9]+ +cam|passed, .* failed' \
  "$console" | sed 's/\r$//' || true

if grep -a -q 'MUZZLE-SELFTEST: PASS' "$console"; then
  if grep -a -q 'MUZZLE-SELFTEST: PASS.*queue_mode=native' "$console"; then
    say "PASS: self-test passed with the native queue expression; boot to power-off $elapsed s"
    exit 0
  fi
  say "FAIL: self-test passed but not with queue_mode=native"
  exit 1
fi
say "FAIL: no PASS marker after $elapsed s (qemu exit $status); last console lines:"
tail -n 60 "$console" | sed 's/\r$//'
exit 1
