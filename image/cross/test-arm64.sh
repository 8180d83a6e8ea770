#!/usr/bin/env bash
# The arm64 path end to end (CTest `arm64_package`, label `arm64`): install the cross tools
# (setup-arm64.sh), configure build-arm64/ with aarch64-linux-gnu.cmake, build the package's
# programs and the unit tests of the byte-level code, make the .deb (cpack), check it (ARM
# aarch64 programs, arm64 dependencies from dpkg-shlibdeps, lintian as image/build.sh runs it),
# then run those unit tests under qemu-aarch64 user emulation. Needs root for the setup (apt,
# binfmt_misc); exits 77 (skipped) without.
#
#   image/cross/test-arm64.sh            BUILD_ARM64=DIR (default build-arm64/ in the tree);
#                                        ARM64_NICE: the cross build's nice level (default 10)
#   image/cross/test-arm64.sh image-build   the arm64 image: build.sh with MUZZLE_ARCH=arm64
#                                           (CTest `arm64_image_build`, beside other tests)
#   image/cross/test-arm64.sh image-boot    smoke.sh with MUZZLE_ARCH=arm64: boots it under
#                                           qemu-system-aarch64 to the self-test's PASS
#                                           (CTest `arm64_image_smoke`, alone), without the
#                                           upgrade drive unless SMOKE_UPGRADE=1 (below)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${BUILD_ARM64:-$repo/build-arm64}"

# The unit tests that run emulated: the code that reads and writes bytes whose order, alignment or
# signedness could differ on arm64 (char is unsigned there): packets, DNS, DHCP, the netfilter
# queue's wire format, nftables' netlink messages, and common's byte helpers and SHA-256. Left
# out: config, device, mud, learn and mgmt/ (text, YAML, JSON, gRPC: the same libraries on both;
# building them cross costs CI minutes for little), and the policy compiler's and the judge's
# (engine) tests, the two largest to build: the arm64 image's boot self-test (arm64_image_smoke)
# compiles a policy and judges real traffic with them on arm64, and the cross build of their
# tests was on the longest path of CI's CTest phase.
emulated=(unit_fw_common unit_fw_packet unit_fw_dns unit_fw_dhcp unit_fw_nfq unit_fw_nft)

say() { printf 'arm64: %s\n' "$*"; }
die() {
  printf 'arm64: %s\n' "$*" >&2
  exit 1
}

if ((EUID != 0)); then
  say "needs root (apt, binfmt_misc); skipped"
  exit 77
fi
start=$SECONDS
case "${1:-}" in
  image-build)
    "$repo/image/cross/setup-arm64.sh"
    "$repo/image/setup.sh"
    MUZZLE_ARCH=arm64 BUILD_ARM64="$build" "$repo/image/build.sh"
    say "image build $((SECONDS - start)) s"
    exit 0
    ;;
  image-boot)
    # The package upgrade while traffic flows (selftest/upgrade.sh) is dpkg and the package's own
    # shell maintainer scripts, the same on both architectures: the amd64 boot (image_smoke)
    # checks it. Here it would add two emulated dpkg runs to the suite's last step, which runs
    # alone after everything else. SMOKE_UPGRADE=1 runs it here too.
    SMOKE_UPGRADE="${SMOKE_UPGRADE:-0}" MUZZLE_ARCH=arm64 BUILD_ARM64="$build" "$repo/image/smoke.sh"
    say "image boot to PASS and power-off $((SECONDS - start)) s"
    exit 0
    ;;
  "") ;;
  *) die "unknown step '$1': image-build, image-boot, or none (the package and its unit tests)" ;;
esac
"$repo/image/cross/setup-arm64.sh"
setup_s=$((SECONDS - start))

step=$SECONDS
if [[ ! -f "$build/build.ninja" ]]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Line tables only (-g1), as the main build: the package is stripped anyway.
  cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
    -DCMAKE_TOOLCHAIN_FILE="$repo/image/cross/aarch64-linux-gnu.cmake" "${launcher[@]}" >/dev/null
fi
say "building the package's programs and ${emulated[*]} in $build"
nice -n "${ARM64_NICE:-10}" cmake --build "$build" --target muzzle_package_binaries "${emulated[@]}"
build_s=$((SECONDS - step))

# -- the package ----------------------------------------------------------------------------
rm -f "$build"/muzzle_*.deb
(cd "$build" && cpack -G DEB >/dev/null)
debs=("$build"/muzzle_*_arm64.deb)
[[ -f "${debs[0]}" ]] || die "cpack made no muzzle_*_arm64.deb in $build: $(ls "$build"/*.deb 2>/dev/null)"
deb="${debs[0]}"
[[ "$(dpkg-deb -f "$deb" Architecture)" == arm64 ]] || die "$deb says Architecture: $(dpkg-deb -f "$deb" Architecture)"
depends="$(dpkg-deb -f "$deb" Depends)"
# dpkg-shlibdeps found the arm64 libraries' packages (one it could not find would have failed cpack).
for lib in libnetfilter-queue1 libnftnl11 libprotobuf32 libyaml-cpp0.7 libc6; do
  [[ "$depends" == *"$lib "* ]] || die "$deb: Depends has no $lib (dpkg-shlibdeps): $depends"
done
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
dpkg-deb -x "$deb" "$tree"
for program in usr/sbin/muzzled usr/bin/muzzlectl usr/lib/muzzle/muzzle-mud-fetch usr/lib/muzzle/selftest/labnet; do
  file -b "$tree/$program" | grep -q 'ARM aarch64' || die "$program in $deb is not arm64: $(file -b "$tree/$program")"
done
say "lintian on $(basename "$deb")"
lintian_out="$(lintian --fail-on error,warning "$deb" 2>&1)" || die "lintian finds problems in $deb:
$lintian_out"
say "$(basename "$deb"): $(du -k "$deb" | cut -f1) KiB; Depends: $depends"

# -- the unit tests, emulated ---------------------------------------------------------------
step=$SECONDS
regex="^($(IFS='|' && echo "${emulated[*]}"))\$"
ctest --test-dir "$build" -R "$regex" --output-on-failure -j"$(nproc)" ||
  die "unit tests failed under qemu-aarch64 (above); one alone: ctest --test-dir $build -R NAME -V"
say "setup ${setup_s} s, configure and build ${build_s} s, emulated unit tests $((SECONDS - step)) s;" \
  "all $((SECONDS - start)) s"
