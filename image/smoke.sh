#!/usr/bin/env bash
# Boots a throw-away copy of the disk image under qemu with software emulation and no network
# device, as a PC would: UEFI firmware (OVMF), systemd-boot from the disk's EFI system partition,
# its default entry with muzzle.selftest=1 added to the copy's kernel command line. The copy is
# made larger than the image (SMOKE_GROW_MIB), as a bigger disk it is flashed on would be, so the
# first boot's growth of the root partition and filesystem is checked too. Reads the self-test's
# marker from the serial console. Exit 0 on `MUZZLE-SELFTEST: PASS` with queue_mode=native, 1
# otherwise. An arm64 image (MUZZLE_ARCH=arm64) is a root filesystem, booted directly with its
# kernel and initramfs on qemu's "virt" board.
#
#   image/smoke.sh [IMAGE_DIR]     (default $BUILD/muzzle-image, as image/build.sh leaves it)
#   MUZZLE_ARCH=arm64 image/smoke.sh [IMAGE_DIR]   (default <repo>/build-arm64/muzzle-image)
#
# SMOKE_TIMEOUT (seconds, default 900: the self-test's two dpkg runs take minutes under TCG on a
# loaded machine) bounds the whole boot; SMOKE_KEEP=1 keeps the console log.
# SMOKE_BOOT=kernel boots rootfs.ext4 with qemu's -kernel/-initrd instead (no firmware, no boot
# loader, no partition table: to compare boot times). SMOKE_GROW_MIB (default 512): how much
# larger the copy is.
# The upgrade drive build.sh makes (selftest-upgrade.ext4) is attached as a second, read-only disk
# and the self-test must upgrade the package from it; SMOKE_UPGRADE=0 boots without it (the
# self-test then skips its upgrade checks).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-${BUILD:-$repo/build}/muzzle-image}"
limit="${SMOKE_TIMEOUT:-900}"
boot="${SMOKE_BOOT:-disk}"
grow_mib="${SMOKE_GROW_MIB:-512}"
# Debian 12's ovmf: the 4 MiB firmware without Secure Boot, and its variable store's template.
ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd
ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd

say() { printf 'smoke: %s\n' "$*"; }
die() {
  say "$*" >&2
  exit 1
}

# -- the machine to boot (MUZZLE_ARCH) ----------------------------------------------------------
# The build machine's architecture: a PC (qemu-system-x86_64), booted from the disk. arm64: qemu's
# generic "virt" board with an emulated Cortex-class CPU, booted directly into its root filesystem
# (the arm64 image is no disk yet); the Debian arm64 kernel drives its virtio disk and PL011
# serial port (ttyAMA0). pauth-impdef: qemu's own pointer-authentication hash instead of the
# architected QARMA one, which costs TCG most of its time in a kernel built with it (Debian's).
machine=(qemu-system-x86_64 -accel tcg -cpu max)
console_tty=ttyS0
if [[ "${MUZZLE_ARCH:-$(dpkg --print-architecture)}" != "$(dpkg --print-architecture)" ]]; then
  case "$MUZZLE_ARCH" in
    arm64)
      dir="${1:-${BUILD_ARM64:-$repo/build-arm64}/muzzle-image}"
      # shellcheck disable=SC2054 # the commas are qemu's option syntax, not array separators
      machine=(qemu-system-aarch64 -M virt -accel tcg -cpu max,pauth-impdef=on)
      console_tty=ttyAMA0
      boot="${SMOKE_BOOT:-kernel}"
      [[ "$boot" == kernel ]] || die "SMOKE_BOOT=$boot: arm64 images boot only with SMOKE_BOOT=kernel"
      ;;
    *) die "MUZZLE_ARCH=$MUZZLE_ARCH: boots $(dpkg --print-architecture) (this machine's) or arm64 images" ;;
  esac
fi
case "$boot" in
  disk)
    disks=("$dir"/muzzle-*-amd64.img)
    [[ -f "${disks[0]}" ]] || die "no $dir/muzzle-*-amd64.img: run image/build.sh first"
    for f in "$ovmf_code" "$ovmf_vars"; do
      [[ -f "$f" ]] || die "$f is missing (UEFI firmware for qemu): run image/setup.sh"
    done
    for tool in sfdisk mtype mcopy; do
      command -v "$tool" >/dev/null || die "$tool is missing: run image/setup.sh"
    done
    ;;
  kernel)
    for f in rootfs.ext4 vmlinuz initrd.img; do
      [[ -f "$dir/$f" ]] || die "$dir/$f is missing: run image/build.sh first"
    done
    ;;
  *) die "SMOKE_BOOT=$boot: say disk (the default) or kernel" ;;
esac
command -v "${machine[0]}" >/dev/null ||
  die "${machine[0]} is missing: run image/setup.sh (arm64: image/cross/setup-arm64.sh)"

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
qemu_pid=""
cleanup() {
  if [[ -n "$qemu_pid" ]]; then kill "$qemu_pid" 2>/dev/null || true; fi
  if [[ -n "${SMOKE_KEEP:-}" ]]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
console="$work/console.log"

# -accel tcg: KVM here cannot run a stock kernel, and CI must not depend on it.
# -nic none: the guest has no network device at all; its lab lives in its own namespaces.
# -no-reboot + panic=-1: a kernel panic ends qemu at once instead of looping.
qemu=("${machine[@]}" -smp 2 -m 1024
  -nic none -display none -monitor none -no-reboot -serial "file:$console")

# The boot writes to its disk (journal, state, the growth): never to the built image itself.
if [[ "$boot" == disk ]]; then
  disk="$work/disk.img"
  cp --sparse=always "${disks[0]}" "$disk"
  truncate -s "+${grow_mib}M" "$disk"
  # The self-test's flag goes into the copy's default entry: the shipped one boots normally.
  esp_start="$(sfdisk --dump "$disk" 2>/dev/null |
    awk -F'[=,]' '/type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B/ {gsub(/ /, "", $2); print $2}')"
  [[ -n "$esp_start" ]] || die "${disks[0]} has no EFI system partition (sfdisk --dump)"
  esp="$disk@@$((esp_start * 512))"
  export MTOOLS_SKIP_CHECK=1
  mtype -i "$esp" ::/loader/entries/muzzle.conf >"$work/muzzle.conf" ||
    die "${disks[0]}: no loader/entries/muzzle.conf on its EFI system partition"
  sed -i "s/^options .*/& panic=-1 muzzle.selftest=1$upgrade_cmdline/" "$work/muzzle.conf"
  grep -q '^options .*muzzle.selftest=1' "$work/muzzle.conf" ||
    die "${disks[0]}: its loader entry has no options line to add muzzle.selftest=1 to"
  mcopy -o -i "$esp" "$work/muzzle.conf" ::/loader/entries/muzzle.conf
  cp "$ovmf_vars" "$work/ovmf_vars.fd"
  qemu+=(-machine q35
    -drive "if=pflash,format=raw,unit=0,readonly=on,file=$ovmf_code"
    -drive "if=pflash,format=raw,unit=1,file=$work/ovmf_vars.fd"
    -drive "file=$disk,format=raw,if=virtio" "${upgrade_drive_args[@]}")
  what="${disks[0]##*/} (UEFI: OVMF, systemd-boot; grown by $grow_mib MiB)"
else
  cp --sparse=always "$dir/rootfs.ext4" "$work/disk.ext4"
  qemu+=(-kernel "$dir/vmlinuz" -initrd "$dir/initrd.img"
    -append "root=/dev/vda rw console=$console_tty panic=-1 muzzle.selftest=1$upgrade_cmdline"
    -drive "file=$work/disk.ext4,format=raw,if=virtio" "${upgrade_drive_args[@]}")
  what="rootfs.ext4 (qemu -kernel, no firmware)"
fi

say "booting $what under qemu (TCG, no network), at most $limit s"
start=$SECONDS
: >"$console"
timeout --kill-after=10 "$limit" "${qemu[@]}" &
qemu_pid=$!
pass_s=""
while kill -0 "$qemu_pid" 2>/dev/null; do
  if [[ -z "$pass_s" ]] && grep -a -q 'MUZZLE-SELFTEST: PASS' "$console"; then
    pass_s=$((SECONDS - start))
  fi
  sleep 1
done
status=0
wait "$qemu_pid" || status=$?
qemu_pid=""
elapsed=$((SECONDS - start))
((status == 124)) && say "qemu still running after $limit s: killed"

# What the self-test said, for the test log.
grep -a -E 'muzzle-selftest|MUZZLE-SELFTEST|  (PASS|FAIL) |^[0-9]+ +cam|passed, .* failed' \
  "$console" | sed 's/\r$//' || true

if grep -a -q 'MUZZLE-SELFTEST: PASS' "$console"; then
  if grep -a -q 'MUZZLE-SELFTEST: PASS.*queue_mode=native' "$console"; then
    say "PASS: self-test passed with the native queue expression; power-on to PASS ${pass_s:-$elapsed} s, to power-off $elapsed s ($boot boot)"
    exit 0
  fi
  say "FAIL: self-test passed but not with queue_mode=native"
  exit 1
fi
say "FAIL: no PASS marker after $elapsed s (qemu exit $status); last console lines:"
tail -n 60 "$console" | sed 's/\r$//'
exit 1
