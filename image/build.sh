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
#   muzzle-<version>-amd64.img        the disk to flash: GPT, an EFI system partition with
#                                     systemd-boot, the kernel and initramfs, then rootfs.ext4
#   muzzle-<version>-amd64.img.zst    the compressed artefact: that disk
#   muzzle-<version>-arm64.ext4.zst   arm64's artefact instead: rootfs.ext4 (its /boot has the
#                                     kernel and initramfs; no disk yet: image/README.md)
#   selftest-upgrade.ext4             test material, not shipped: the self-test's upgrade drive
#                                     (muzzle_<version>+selftest1_<arch>.deb and the package)
#
# The root filesystem is made with `mkfs.ext4 -d` from the unpacked tree, the EFI system partition
# with `mkfs.vfat -C` and mtools, and the disk with sfdisk and dd on a sparse file: no mounts, no
# loop devices.
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
for tool in mmdebstrap mkfs.ext4 zstd dpkg-deb cpack mkfs.vfat mmd mcopy sfdisk; do
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
  cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
    "${cross_cmake_args[@]}" >/dev/null  # flags as tests/setup.sh's
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
version="$(dpkg-deb -f "$deb" Version)"

# -- the x86 disk: GPT, EFI system partition with systemd-boot, root partition -------------
# Kept in these functions (called from the steps below) so the disk's parts stay in one place.
# Layout (sizes in MiB; the disk's partition and filesystem identifiers are derived from the
# version, so the same build makes the same disk):
#   1 MiB            GPT
#   $disk_esp_mib    EFI system partition, FAT32 "MUZZLE-ESP": EFI/BOOT/BOOTX64.EFI
#                    (systemd-boot, the removable-media path: no firmware boot entry needed),
#                    loader/, muzzle/vmlinuz-*, muzzle/initrd.img-*; mounted at /boot/efi
#   the rest         root partition (type root-x86-64, "muzzle-root"): rootfs.ext4; grown to the
#                    end of the disk on the first boot (systemd-repart), then its filesystem
#                    (x-systemd.growfs)
#   1 MiB            room for the backup GPT
disk_esp_mib=128                                       # two kernels and initramfs (~27 MiB each)
readonly disk_esp_type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B  # EFI system partition
readonly disk_root_type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709 # root-x86-64 (Discoverable
                                                             # Partitions Specification)
readonly disk_efi_binary=/usr/lib/systemd/boot/efi/systemd-bootx64.efi  # systemd-boot-efi

# A UUID from NAME and the version (the form of a random one: version 4, variant 1).
disk_uuid() {
  local h
  h="$(printf 'muzzle %s %s' "$version" "$1" | sha256sum)"
  printf '%s-%s-4%s-8%s-%s\n' "${h:0:8}" "${h:8:4}" "${h:13:3}" "${h:17:3}" "${h:20:12}"
}

disk_ids() {
  disk_guid="$(disk_uuid disk)"
  disk_esp_partuuid="$(disk_uuid esp-partition)"
  disk_root_partuuid="$(disk_uuid root-partition)"
  disk_root_fs_uuid="$(disk_uuid root-filesystem)"
  disk_esp_volume_id="$(disk_uuid esp-filesystem | cut -c1-8)"
}

# What the tree needs for the disk: systemd-boot's EFI binary, the mount points, the partition
# growth on first boot. Adds to mm_args.
disk_tree_hooks() {
  mm_args+=(--include=systemd-boot-efi)
  mm_args+=(--customize-hook="cat >\"\$1/etc/fstab\" <<'FSTAB'
# The appliance's disk (image/build.sh). On the first boot systemd-repart grows the root partition
# to the end of the disk (/etc/repart.d/50-muzzle-root.conf), then x-systemd.growfs its filesystem.
LABEL=muzzle-root / ext4 defaults,noatime,errors=remount-ro,x-systemd.growfs 0 1
# The EFI system partition: systemd-boot, the kernel and the initramfs it loads. nofail: the boot
# does not wait for it, and a box booted some other way still comes up.
PARTUUID=$disk_esp_partuuid /boot/efi vfat umask=0077,noatime,nofail 0 0
FSTAB")
  mm_args+=(--customize-hook='mkdir -p "$1/boot/efi" "$1/etc/repart.d"')
  mm_args+=(--customize-hook="printf '%s\n' '# Grows the root partition to the end of the disk Muzzle was flashed on (first boot;' \
    '# nothing to do afterwards). Partitions it does not name (the EFI one) are left as they are.' \
    '[Partition]' 'Type=root' >\"\$1/etc/repart.d/50-muzzle-root.conf\"")
}

# The kernel and initramfs live on the EFI system partition only: a second copy in the root
# filesystem's /boot would add ~25 MiB to the download, as they do not compress. A kernel update
# inside the box therefore needs its files copied there (image/README.md).
disk_take_boot_files() {
  mkdir -p "$work/esp"
  mv "$work/root/boot"/vmlinuz-* "$work/root/boot"/initrd.img-* "$work/esp/"
  [[ -f "$work/root$disk_efi_binary" ]] || die "$disk_efi_binary is not in the image tree (systemd-boot-efi)"
  cp "$work/root$disk_efi_binary" "$work/esp/BOOTX64.EFI"
}

# DISK ROOTFS: the GPT disk from the EFI system partition it makes and ROOTFS.
disk_assemble() {
  local disk="$1" rootfs="$2" esp="$work/esp.vfat" kver mib=2048 # sectors per MiB
  local root_mib esp_start root_start
  kver="$(basename "$(ls "$work/esp"/vmlinuz-* | sort -V | tail -n1)")"
  kver="${kver#vmlinuz-}"
  export MTOOLS_SKIP_CHECK=1  # mtools on an image file, not a floppy with a geometry
  rm -f "$esp"
  mkfs.vfat -C -F 32 -n MUZZLE-ESP -i "$disk_esp_volume_id" "$esp" $((disk_esp_mib * 1024)) >/dev/null
  mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries ::/muzzle
  mcopy -i "$esp" "$work/esp/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
  mcopy -i "$esp" "$work/esp/vmlinuz-$kver" "$work/esp/initrd.img-$kver" ::/muzzle/
  # timeout 0: no menu unless a key is held at power-on; editor no: the kernel command line
  # cannot be changed at the console (init=/bin/sh would skip root's password).
  printf 'default muzzle.conf\ntimeout 0\neditor no\n' >"$work/loader.conf"
  cat >"$work/muzzle.conf" <<ENTRY
title   Muzzle $version (Debian 12, Linux $kver)
linux   /muzzle/vmlinuz-$kver
initrd  /muzzle/initrd.img-$kver
options root=PARTUUID=$disk_root_partuuid rw console=tty0 console=ttyS0
ENTRY
  mcopy -i "$esp" "$work/loader.conf" ::/loader/loader.conf
  mcopy -i "$esp" "$work/muzzle.conf" ::/loader/entries/muzzle.conf

  root_mib=$(($(stat -c %s "$rootfs") / 1048576))
  esp_start=1
  root_start=$((esp_start + disk_esp_mib))
  rm -f "$disk"
  truncate -s $(((root_start + root_mib + 1) * 1048576)) "$disk"
  sfdisk --quiet --no-reread --no-tell-kernel "$disk" <<GPT >/dev/null
label: gpt
label-id: $disk_guid
unit: sectors
start=$((esp_start * mib)), size=$((disk_esp_mib * mib)), type=$disk_esp_type, uuid=$disk_esp_partuuid, name="EFI system"
start=$((root_start * mib)), size=$((root_mib * mib)), type=$disk_root_type, uuid=$disk_root_partuuid, name="muzzle-root"
GPT
  dd if="$esp" of="$disk" bs=1M seek="$esp_start" conv=notrunc,sparse status=none
  dd if="$rootfs" of="$disk" bs=1M seek="$root_start" conv=notrunc,sparse status=none
  rm -f "$esp"
}

# -- the self-test's upgrade drive ----------------------------------------------------------
# A newer package with the same binaries (Version <version>+selftest1; its preinst, which names
# its own version, rewritten to match) and the image's own package, on a small ext4 drive of
# their own. image/smoke.sh attaches it read-only as a second disk; the self-test upgrades to the
# newer one while traffic flows, then tries to go back to the older one (a downgrade, refused).
# Test material stays out of the root filesystem: the shipped image carries none of it. The
# newer package is not linted: it is the linted one with two fields changed, and never shipped.
make_upgrade_drive() {
  local deb="$1" drive="$2" version newer tree="$work/upgrade"
  version="$(dpkg-deb -f "$deb" Version)"
  newer="$version+selftest1"
  mkdir -p "$tree/drive"
  dpkg-deb -R "$deb" "$tree/package"
  sed -i "s/^Version: .*/Version: $newer/" "$tree/package/DEBIAN/control"
  grep -qx "version='$version'" "$tree/package/DEBIAN/preinst" ||
    die "the package's preinst does not say version='$version' (image/debian/preinst.in)"
  sed -i "s/^version='.*'\$/version='$newer'/" "$tree/package/DEBIAN/preinst"
  dpkg-deb --build "$tree/package" "$tree/drive/" >/dev/null # names it muzzle_<newer>_<arch>.deb
  cp "$deb" "$tree/drive/"
  chmod 0644 "$tree/drive"/*.deb
  # ext4 without a journal: the drive is read-only to the guest, and mounts so without replay.
  truncate -s "$(($(du -sm "$tree/drive" | cut -f1) + 4))M" "$drive"
  mkfs.ext4 -q -F -L muzzle-upgrade -O ^has_journal -d "$tree/drive" -E root_owner=0:0 "$drive"
  say "upgrade drive: $(basename "$drive") ($(cd "$tree/drive" && echo *.deb))"
}

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
# Made once, at the end: the kernel's postinst would make it, then initramfs-tools' trigger again
# once udev and the other hooks are in. update-initramfs is diverted to a no-op while packages
# install, then put back and run. Under qemu-user (arm64) each run costs minutes: mkinitramfs
# starts a few emulated processes for every module it copies.
mm_args+=(--essential-hook='chroot "$1" dpkg-divert --quiet --local --rename --divert /usr/sbin/update-initramfs.muzzle --add /usr/sbin/update-initramfs && printf "#!/bin/sh\nexit 0\n" >"$1/usr/sbin/update-initramfs" && chmod 0755 "$1/usr/sbin/update-initramfs"')
if [[ "$arch" == arm64 ]]; then
  # The modules to reach the root filesystem on what arm64 Muzzle boots on, instead of every
  # storage and network driver (MODULES=most): an SD card on a Raspberry Pi 3/4 (sdhci-iproc,
  # bcm2835, the card's 1.8 V gpio-regulator; mmc_block is built in), a USB disk (the Pi 4's xHCI
  # behind its PCIe bridge, which is built in; uas, usb-storage), NVMe on other boards, virtio
  # under qemu -M virt; ext4 for the root. A smaller initramfs, made in far less time under
  # emulation (image/README.md has both).
  mm_args+=(--essential-hook='printf "MODULES=list\n" >>"$1/etc/initramfs-tools/conf.d/muzzle.conf" && printf "%s\n" sdhci-iproc bcm2835 gpio-regulator reset-raspberrypi xhci-pci xhci-plat-hcd uas usb-storage sd_mod nvme virtio_pci virtio_mmio virtio_blk ext4 >"$1/etc/initramfs-tools/modules"')
fi
mm_args+=(--customize-hook='rm "$1/usr/sbin/update-initramfs" && chroot "$1" dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs && chroot "$1" update-initramfs -c -k all >/dev/null')
# Reuse downloaded packages between builds.
mkdir -p "$cache/archives"
mm_args+=(--skip=essential/unlink --skip=download/empty)
mm_args+=(--setup-hook='mkdir -p "$1"/var/cache/apt/archives')
mm_args+=(--setup-hook="sync-in $cache/archives /var/cache/apt/archives")
mm_args+=(--customize-hook="sync-out /var/cache/apt/archives $cache/archives")
# The appliance's own settings.
mm_args+=(--customize-hook='echo muzzle >"$1/etc/hostname"')
disk_ids
if [[ "$arch" == amd64 ]]; then
  disk_tree_hooks  # fstab, the EFI system partition's mount point, partition growth
fi
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
make_upgrade_drive "$deb" "$out/selftest-upgrade.ext4"
[[ "$arch" != amd64 ]] || disk_take_boot_files

# Room for logs, state and a package upgrade on top of what is installed.
used_mib="$(du -sm "$work/root" | cut -f1)"
size_mib=$((used_mib + used_mib / 4 + 128))
truncate -s "${size_mib}M" "$out/rootfs.ext4"
# -T default: 4 KiB blocks and the usual inode density, as on the disk it grows to fill (a
# filesystem this small would otherwise get 1 KiB blocks and 4 times the inodes for good).
mkfs.ext4 -q -F -T default -L muzzle-root -U "$disk_root_fs_uuid" -d "$work/root" \
  -E root_owner=0:0 "$out/rootfs.ext4"

if [[ "$arch" == amd64 ]]; then
  # The disk to flash, and the artefact: that disk compressed. (The root filesystem alone is not
  # shipped beside it: it is in the disk, and the disk's kernel and initramfs are what boot it.)
  disk="muzzle-$version-amd64.img"
  disk_assemble "$out/$disk" "$out/rootfs.ext4"
  artefact="$disk.zst"
  zstd -q -T0 -12 "$out/$disk" -o "$out/$artefact"
else
  # arm64 boards start from their own firmware (image/cross/README.md): the root filesystem
  # alone, its /boot holding the kernel and initramfs.
  disk=""
  artefact="muzzle-$version-$arch.ext4.zst"
  zstd -q -T0 -12 "$out/rootfs.ext4" -o "$out/$artefact"
fi

say "built in $((SECONDS - start)) s (root tree $build_root_s s)"
say "sizes (MiB): root tree $used_mib; rootfs.ext4 $(mib "$out/rootfs.ext4") ($(du -sm "$out/rootfs.ext4" | cut -f1) used on disk);" \
  "${disk:+$disk $(mib "$out/$disk") ($(du -sm "$out/$disk" | cut -f1) used on disk);}" \
  "vmlinuz $(mib "$out/vmlinuz"); initrd.img $(mib "$out/initrd.img"); $(basename "$deb") $(du -k "$deb" | cut -f1) KiB"
artefact_mib="$(mib "$out/$artefact")"
say "compressed artefact: $out/$artefact $artefact_mib MiB"
((artefact_mib < 100)) || die "the compressed image is $artefact_mib MiB; it must stay under 100 MiB"
