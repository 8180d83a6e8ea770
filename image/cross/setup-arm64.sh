#!/usr/bin/env bash
# Prepares this amd64 Debian 12 machine to cross-build Muzzle for arm64 and to run arm64 programs
# under emulation (as root; idempotent: nothing is fetched when everything is present).
#
#   image/cross/setup-arm64.sh
#
# - the arm64 architecture for dpkg/apt (multiarch) and crossbuild-essential-arm64;
# - the arm64 twins of the -dev packages tests/setup.sh installs (its list, read from it, so the
#   two never drift): Multi-Arch: same, so they sit beside the amd64 ones the native build uses;
#   the architecture-independent ones (doctest, CLI11, nlohmann-json) serve both as they are;
# - libyaml-cpp-dev, the one that is Multi-Arch: no (its changelog is per architecture), so
#   installing it for arm64 would remove the native one: unpacked instead into
#   /opt/muzzle-cross/aarch64-linux-gnu, where image/cross/aarch64-linux-gnu.cmake looks first;
# - qemu-user-static + binfmt-support, with binfmt_misc mounted and qemu-aarch64 enabled, so
#   arm64 programs run here: the unit tests (ctest), the package's man pages (image/docs.sh runs
#   the built programs) and the arm64 image's maintainer scripts (mmdebstrap --arch=arm64);
# - qemu-system-arm, to boot the arm64 image (image/smoke.sh with MUZZLE_ARCH=arm64).
#
# protoc and grpc_cpp_plugin stay the build machine's own (tests/setup.sh installs them).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
extra=/opt/muzzle-cross/aarch64-linux-gnu

say() { printf 'arm64 setup: %s\n' "$*"; }
die() {
  printf 'arm64 setup: %s\n' "$*" >&2
  exit 1
}

# The -dev packages of tests/setup.sh's list, from the list itself.
native_dev_packages() {
  sed -n '/^packages=(/,/^)/p' "$repo/tests/setup.sh" | sed -e 's/#.*//' -e 's/packages=(//' -e 's/)//' |
    tr -s ' \t' '\n' | grep -- '-dev$' || true
}

# Not needed for arm64, or not as a package: libclang-rt (libFuzzer, the amd64 fuzz build only);
# libyaml-cpp-dev (unpacked, see above).
skip_for_arm64=(libclang-rt-14-dev libyaml-cpp-dev)

# What the cross build needs from the build machine itself.
tools=(
  crossbuild-essential-arm64 cmake ninja-build pkg-config
  protobuf-compiler protobuf-compiler-grpc        # amd64 code generators, any target
  doctest-dev libcli11-dev nlohmann-json3-dev     # Architecture: all, header-only
  qemu-user-static binfmt-support                 # arm64 programs run here (ctest, docs, mmdebstrap)
  qemu-system-arm                                 # boots the arm64 image (image/smoke.sh)
  arch-test                                       # mmdebstrap --arch=arm64 checks with it that arm64 runs
  dpkg-dev file help2man lintian                  # the package: shlibdeps, man pages, its check
)

# One status line per installed architecture (pkg-config is on both): any fully installed will do.
is_installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -qx 'install ok installed'; }

wanted_packages() {
  local p skip dev=()
  printf '%s\n' "${tools[@]}"
  while read -r p; do
    for skip in "${skip_for_arm64[@]}"; do [[ "$p" == "$skip" ]] && continue 2; done
    dev+=("$p")
  done < <(native_dev_packages)
  # Architecture: all packages have no arm64 twin: the installed one serves both. (One apt-cache
  # call: each one reads the whole package cache.)
  apt-cache show --no-all-versions "${dev[@]}" 2>/dev/null | awk '
    /^Package: / { name = $2 }
    /^Architecture: / { print (name != "" && $2 == "all") ? name : name ":arm64"; name = "" }'
  # The runtime library whose -dev part is unpacked below (Multi-Arch: same), so dpkg-shlibdeps
  # finds the package that owns it.
  printf '%s\n' libyaml-cpp0.7:arm64
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  # Other engineers' builds install packages on this machine too: wait for their apt run.
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@"
}

add_architecture() {
  dpkg --print-foreign-architectures | grep -qx arm64 && return
  ((EUID == 0)) || die "dpkg does not know arm64 yet: run this script as root"
  say "adding the arm64 architecture (dpkg --add-architecture arm64; apt-get update)"
  dpkg --add-architecture arm64
  apt-get update -qq
}

install_packages() {
  local p missing=() wanted=()
  mapfile -t wanted < <(wanted_packages)
  for p in "${wanted[@]}"; do is_installed "$p" || missing+=("$p"); done
  if ((${#missing[@]} == 0)); then
    say "all ${#wanted[@]} packages present"
    return
  fi
  ((EUID == 0)) || die "missing ${missing[*]}: run this script as root to install them"
  say "installing: ${missing[*]}"
  apt-get update -qq
  apt_install "${missing[@]}"
}

# libyaml-cpp-dev:arm64 at the version of the installed libyaml-cpp0.7:arm64, unpacked (not
# installed) with its library beside it, so its CMake files' paths resolve.
unpack_yaml_cpp() {
  local version stamp="$extra/.libyaml-cpp-dev.version"
  version="$(dpkg-query -W -f='${Version}' libyaml-cpp0.7:arm64)"
  [[ "$(cat "$stamp" 2>/dev/null)" == "$version" ]] && return
  ((EUID == 0)) || die "libyaml-cpp-dev:arm64 is not unpacked in $extra: run this script as root"
  say "unpacking libyaml-cpp-dev:arm64 $version into $extra (Multi-Arch: no, not installable beside amd64)"
  local tmp
  tmp="$(mktemp -d)"
  chmod 0755 "$tmp" # apt downloads as its own user _apt
  (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "libyaml-cpp-dev:arm64=$version" "libyaml-cpp0.7:arm64=$version") ||
    die "apt-get download libyaml-cpp-dev:arm64=$version failed: run apt-get update and try again"
  rm -rf "$extra"
  mkdir -p "$extra"
  local deb
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$extra"; done
  rm -rf "$tmp"
  printf '%s\n' "$version" >"$stamp"
}

# binfmt_misc lets the kernel hand arm64 programs to qemu-aarch64-static (flag F: the interpreter
# is opened at registration, so it works inside mmdebstrap's namespaces and chroots too). A machine
# without systemd (containers, CI) has it neither mounted nor enabled.
enable_binfmt() {
  local dir=/proc/sys/fs/binfmt_misc
  if [[ ! -e "$dir/register" ]]; then
    ((EUID == 0)) || die "binfmt_misc is not mounted: run this script as root"
    mount -t binfmt_misc binfmt_misc "$dir" ||
      die "cannot mount binfmt_misc on $dir: the kernel needs CONFIG_BINFMT_MISC (modprobe binfmt_misc)"
  fi
  if ! grep -qx enabled "$dir/qemu-aarch64" 2>/dev/null; then
    ((EUID == 0)) || die "qemu-aarch64 is not registered with binfmt_misc: run this script as root"
    update-binfmts --enable qemu-aarch64 ||
      die "update-binfmts --enable qemu-aarch64 failed: is qemu-user-static installed?"
  fi
  # Proof: the arm64 loader runs (it comes with libc6:arm64) and prints its own help.
  /lib/ld-linux-aarch64.so.1 --help >/dev/null 2>&1 ||
    die "an arm64 program does not run here although qemu-aarch64 is registered ($dir/qemu-aarch64)"
}

add_architecture
install_packages
unpack_yaml_cpp
enable_binfmt
say "done: cmake -S . -B build-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=image/cross/aarch64-linux-gnu.cmake"
