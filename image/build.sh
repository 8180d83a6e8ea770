#!/usr/bin/env bash
# Builds Muzzle's .deb and the bootable appliance image from the machine's configured Debian
# sources. Needs root (mmdebstrap installs packages as root into a directory) and the tools
# image/setup.sh installs.
#
#   image/build.sh            -> $BUILD/muzzle-image/ (BUILD defaults to <repo>/build)
#   MUZZLE_ARCH=arm64 image/build.sh -> <repo>/build-arm64/muzzle-image/ (BUILD_ARM64 to move it):
#                               the package cross-built (image/cross/), the image for arm64
#
# What comes out (sizes are printed at the end):
#   muzzle_<version>_<arch>.deb       the package (also left in $BUILD by cpack)
#   rootfs.ext4                       the root filesystem, label muzzle-root (sparse)
#   vmlinuz, initrd.img               the image's kernel and initramfs, to boot it directly
#   muzzle-<version>-<arch>.ext4.zst  the compressed artefact: rootfs.ext4 (its /boot has the
#                                     same kernel and initramfs)
#
# The disk is made with `mkfs.ext4 -d` from the unpacked tree: no mounts, no loop devices.
# Downloaded packages are kept in $MUZZLE_IMAGE_CACHE (default /var/cache/muzzle-image), so a
# second build downloads only what changed; a fresh machine starts from nothing.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD:-$repo/build}"
cache="${MUZZLE_IMAGE_CACHE:-/var/cache/muzzle-image}"
suite=bookworm

say() { printf 'image: %s\n' "$*"; }
die() {
  printf 'image: %s\n' "$*" >&2
  exit 1
}

# -- the target architecture (MUZZLE_ARCH; image/cross/README.md) ------------------------------
# The build machine's own by default. arm64: the package is cross-built in its own folder with
# image/cross/aarch64-linux-gnu.cmake, mmdebstrap installs arm64 packages (their maintainer
# scripts run under qemu-user-static through binfmt_misc: image/cross/setup-arm64.sh), and the
# kernel is Debian's arm64 one (it carries the Raspberry Pi device trees).
arch="${MUZZLE_ARCH:-$(dpkg --print-architecture)}"
cross_cmake_args=()
if [[ "$arch" != "$(dpkg --print-architecture)" ]]; then
  case "$arch" in
    arm64)
      build="${BUILD_ARM64:-$repo/build-arm64}"
      cross_cmake_args=(-DCMAKE_TOOLCHAIN_FILE="$repo/image/cross/aarch64-linux-gnu.cmake")
      [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] ||
        die "arm64 programs cannot run here (no qemu-aarch64 in binfmt_misc): run image/cross/setup-arm64.sh"
      ;;
    *) die "MUZZLE_ARCH=$arch: this script builds for $(dpkg --print-architecture) (this machine) or arm64" ;;
  esac
  cache="$cache/$arch" # another architecture's packages: no use to this one's apt
fi
out="$build/muzzle-image"
mib() { du -m --apparent-size "$1" | cut -f1; }

((EUID == 0)) || die "run as root (mmdebstrap installs packages into the image tree as root)"
for tool in mmdebstrap mkfs.ext4 zstd dpkg-deb cpack; do
  command -v "$tool" >/dev/null || die "$tool is missing: run image/setup.sh"
done

start=$SECONDS
work="$(mktemp -d /var/tmp/muzzle-image.XXXXXX)"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# -- the package ----------------------------------------------------------------------------
if [[ ! -f "$build/build.ninja" ]]; then
  cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${cross_cmake_args[@]}" >/dev/null
fi
say "building muzzled and the package"
cmake --build "$build" --target muzzle_package_binaries
rm -f "$build"/muzzle_*.deb
(cd "$build" && cpack -G DEB >/dev/null)
debs=("$build"/muzzle_*.deb)
[[ -f "${debs[0]}" ]] || die "cpack produced no muzzle_*.deb in $build"
# lintian: no error, and no warning that is not overridden with a reason (lintian-overrides).
if command -v lintian >/dev/null; then
  say "lintian on $(basename "${debs[0]}")"
  lintian_out="$(lintian --fail-on error,warning \
    "${debs[0]}" 2>&1)" || die "lintian finds problems in the package:
$lintian_out"
else
  die "lintian is missing: run image/setup.sh"
fi
deb="$work/$(basename "${debs[0]}")"
cp "${debs[0]}" "$deb"
chmod 0644 "$deb"

# -- the root filesystem --------------------------------------------------------------------
# The machine's own Debian sources (the image updates from the same place). Only the Debian
# entries: other vendors' repositories on the build machine have no business in the image.
sources="${MUZZLE_IMAGE_SOURCES:-}"
if [[ -z "$sources" ]]; then
  for candidate in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [[ -s "$candidate" ]] && sources="$candidate" && break
  done
fi
[[ -n "$sources" ]] || die "no Debian apt sources found; set MUZZLE_IMAGE_SOURCES=FILE"

packages=(
  "linux-image-$arch" initramfs-tools zstd # kernel; zstd compresses its initramfs
  systemd systemd-sysv udev dbus          # init; udev names the NICs, dbus serves systemctl
  nftables iproute2 iputils-ping procps   # to see the ruleset; the self-test's lab
  dnsmasq-base                            # the lab's resolvers
  openssl                                 # certificates for management.tcp (and the self-test's)
  kmod
)
# No documentation, manuals, locales or translations in an appliance; and kernel modules for
# hardware a headless firewall does not drive (sound, graphics, cameras, wireless, InfiniBand...).
# (Quoted: they are dpkg's patterns, not the build machine's files.)
excludes=('/usr/share/doc/*' '/usr/share/man/*' '/usr/share/info/*' '/usr/share/locale/*'
  '/usr/share/lintian/*' '/usr/share/bug/*' '/usr/share/bash-completion/*' '/usr/share/zsh/*')
for dir in sound drivers/gpu drivers/media drivers/net/wireless drivers/infiniband \
  drivers/staging drivers/bluetooth net/bluetooth net/wireless net/mac80211 drivers/isdn \
  drivers/iio drivers/input/touchscreen drivers/input/joystick drivers/video/fbdev \
  drivers/hid drivers/comedi drivers/scsi/fcoe drivers/scsi/qla2xxx drivers/scsi/lpfc \
  drivers/scsi/mpt3sas drivers/scsi/megaraid drivers/target drivers/nfc net/nfc \
  drivers/mtd drivers/md drivers/w1 drivers/hwmon drivers/platform/x86 drivers/thunderbolt \
  fs/btrfs fs/xfs fs/ocfs2 fs/gfs2 fs/nfs fs/nfsd fs/cifs fs/smb fs/ceph fs/f2fs fs/jfs fs/reiserfs \
  fs/bcachefs fs/ubifs fs/nilfs2 fs/udf fs/hfs fs/hfsplus net/ceph drivers/atm net/atm \
  'drivers/scsi/*' drivers/net/ethernet/mellanox drivers/net/ethernet/chelsio \
  drivers/net/ethernet/qlogic drivers/net/ethernet/cavium drivers/net/ethernet/huawei \
  drivers/net/ethernet/netronome drivers/net/ethernet/emulex drivers/net/ethernet/sfc \
  drivers/net/ethernet/pensando drivers/net/ethernet/fungible drivers/net/ethernet/marvell \
  drivers/net/ethernet/brocade drivers/net/ethernet/mscc drivers/net/ethernet/microsoft \
  drivers/net/ethernet/intel/ice drivers/net/ethernet/broadcom/bnxt drivers/net/hyperv \
  drivers/net/ethernet/amazon drivers/net/ethernet/google drivers/net/ethernet/cisco; do
  # drivers/scsi/*/*: the HBA drivers in subfolders; sd_mod and friends (no slash) stay.
  excludes+=("/lib/modules/*/kernel/$dir/*" "/usr/lib/modules/*/kernel/$dir/*")
done
# udev's hardware database (descriptions of devices) is not needed to name or drive them.
excludes+=('/usr/lib/udev/hwdb.d/*' '/lib/udev/hwdb.d/*')
# Keep the one licence file each package must carry.
mm_args=(--variant=minbase --mode=unshare --format=directory --arch="$arch")
mm_args+=(--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
mm_args+=(--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount)
if command -v eatmydata >/dev/null; then
  mm_args+=(--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata)
fi
for p in "${packages[@]}"; do mm_args+=(--include="$p"); done
mm_args+=(--include="$deb")
for e in "${excludes[@]}"; do mm_args+=(--dpkgopt="path-exclude=$e"); done
mm_args+=(--dpkgopt='path-include=/usr/share/doc/*/copyright')
# The initramfs: xz packs it a third smaller than the default zstd, and the kernel unpacks both.
mm_args+=(--essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" && printf "COMPRESS=xz\n" >"$1/etc/initramfs-tools/conf.d/muzzle.conf"')
# Reuse downloaded packages between builds.
mkdir -p "$cache/archives"
mm_args+=(--skip=essential/unlink --skip=download/empty)
mm_args+=(--setup-hook='mkdir -p "$1"/var/cache/apt/archives')
mm_args+=(--setup-hook="sync-in $cache/archives /var/cache/apt/archives")
mm_args+=(--customize-hook="sync-out /var/cache/apt/archives $cache/archives")
# The appliance's own settings.
mm_args+=(--customize-hook='echo muzzle >"$1/etc/hostname"')
mm_args+=(--customize-hook='printf "%s\n" "LABEL=muzzle-root / ext4 defaults,noatime,errors=remount-ro 0 1" >"$1/etc/fstab"')
# Console login as root without a password until one is set (`passwd` is the first thing to do
# on a flashed box; the image runs no remote login service).
mm_args+=(--customize-hook='chroot "$1" passwd --delete root >/dev/null')
# The journal in RAM only: an appliance on an SD card or small flash should not wear it out.
mm_args+=(--customize-hook='mkdir -p "$1/etc/systemd/journald.conf.d" && printf "[Journal]\nStorage=volatile\nRuntimeMaxUse=32M\n" >"$1/etc/systemd/journald.conf.d/muzzle.conf"')
mm_args+=(--customize-hook='rm -f "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/*_Packages')

say "mmdebstrap $suite from $sources"
mmdebstrap "${mm_args[@]}" "$suite" "$work/root" "$sources" >"$work/mmdebstrap.log" 2>&1 || {
  tail -n 40 "$work/mmdebstrap.log" >&2
  die "mmdebstrap failed (log above)"
}
build_root_s=$((SECONDS - start))

# -- disk, kernel, artefact -----------------------------------------------------------------
mkdir -p "$out"
rm -f "$out"/*
kernel="$(ls "$work/root/boot"/vmlinuz-* | sort -V | tail -n1)"
initrd="$(ls "$work/root/boot"/initrd.img-* | sort -V | tail -n1)"
cp "$kernel" "$out/vmlinuz"
cp "$initrd" "$out/initrd.img"
cp "$deb" "$out/"

# Room for logs, state and a package upgrade on top of what is installed.
used_mib="$(du -sm "$work/root" | cut -f1)"
size_mib=$((used_mib + used_mib / 4 + 128))
truncate -s "${size_mib}M" "$out/rootfs.ext4"
mkfs.ext4 -q -F -L muzzle-root -d "$work/root" -E root_owner=0:0 "$out/rootfs.ext4"

version="$(dpkg-deb -f "$deb" Version)"
# The root filesystem alone: its /boot holds the same kernel and initramfs, which do not
# compress, so shipping them twice would cost ~25 MiB of download for nothing.
artefact="muzzle-$version-$arch.ext4.zst"
zstd -q -T0 -12 "$out/rootfs.ext4" -o "$out/$artefact"

say "built in $((SECONDS - start)) s (root tree $build_root_s s)"
say "sizes (MiB): root tree $used_mib; rootfs.ext4 $(mib "$out/rootfs.ext4") ($(du -sm "$out/rootfs.ext4" | cut -f1) used on disk);" \
  "vmlinuz $(mib "$out/vmlinuz"); initrd.img $(mib "$out/initrd.img"); $(basename "$deb") $(du -k "$deb" | cut -f1) KiB"
artefact_mib="$(mib "$out/$artefact")"
say "compressed artefact: $out/$artefact $artefact_mib MiB"
((artefact_mib < 100)) || die "the compressed image is $artefact_mib MiB; it must stay under 100 MiB"
