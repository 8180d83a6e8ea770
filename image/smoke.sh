#!/usr/bin/env bash
# Boots a throw-away copy of the image under qemu with software emulation and no network device,
# with muzzle.selftest=1 on the kernel command line, and reads the self-test's marker from the
# serial console. Exit 0 on `MUZZLE-SELFTEST: PASS` with queue_mode=native, 1 otherwise.
#
#   image/smoke.sh [IMAGE_DIR]     (default $BUILD/muzzle-image, as image/build.sh leaves it)
#
# SMOKE_TIMEOUT (seconds, default 900: the self-test's two dpkg runs take minutes under TCG on a
# loaded machine) bounds the whole boot; SMOKE_KEEP=1 keeps the console log.
# The upgrade drive build.sh makes (selftest-upgrade.ext4) is attached as a second, read-only disk
# and the self-test must upgrade the package from it; SMOKE_UPGRADE=0 boots without it (the
# self-test then skips its upgrade checks).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-${BUILD:-$repo/build}/muzzle-image}"
limit="${SMOKE_TIMEOUT:-900}"

say() { printf 'smoke: %s\n' "$*"; }
for f in rootfs.ext4 vmlinuz initrd.img; do
  [[ -f "$dir/$f" ]] || {
    say "$dir/$f is missing: run image/build.sh first" >&2
    exit 1
  }
done
command -v qemu-system-x86_64 >/dev/null || {
  say "qemu-system-x86_64 is missing: run image/setup.sh" >&2
  exit 1
}

# -- the upgrade drive (image/README.md: Upgrades) -------------------------------------------
# muzzle.selftest_upgrade=1 tells the self-test the drive is there: a drive that goes missing
# is then a failure, not a skipped check.
upgrade_drive_args=()
upgrade_cmdline=""
if [[ "${SMOKE_UPGRADE:-1}" != 0 ]]; then
  [[ -f "$dir/selftest-upgrade.ext4" ]] || {
    say "$dir/selftest-upgrade.ext4 is missing: run image/build.sh (or SMOKE_UPGRADE=0)" >&2
    exit 1
  }
  upgrade_drive_args=(-drive "file=$dir/selftest-upgrade.ext4,format=raw,if=virtio,readonly=on")
  upgrade_cmdline=" muzzle.selftest_upgrade=1"
fi

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
timeout --kill-after=10 "$limit" qemu-system-x86_64 \
  -accel tcg -cpu max -smp 2 -m 1024 \
  -nic none -display none -monitor none -no-reboot \
  -serial "file:$console" \
  -kernel "$dir/vmlinuz" -initrd "$dir/initrd.img" \
  -append "root=/dev/vda rw console=ttyS0 panic=-1 muzzle.selftest=1$upgrade_cmdline" \
  -drive "file=$work/disk.ext4,format=raw,if=virtio" "${upgrade_drive_args[@]}" || status=$?
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
