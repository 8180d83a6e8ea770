#!/usr/bin/env bash
# Prepares a Debian 12 box to build and test Muzzle, then builds it into build/.
# Idempotent: packages already present are not fetched again, and the build is incremental.
#
#   tests/setup.sh            install what is missing (needs root), configure, build
#   BUILD=/tmp/b tests/setup.sh   build somewhere else
#   SETUP_TARGETS="a b" tests/setup.sh   build only these targets (default: everything)
#   tests/setup.sh --packages-only   only install the Debian packages (image/setup.sh uses this,
#                                    so the package list lives here alone)
#   tests/setup.sh --configure-only  everything but the build: packages, the browser driver, the
#                                    user, the configured tree (tests/run-tests.sh starts the
#                                    arm64 chain from it before the build)
set -euo pipefail

packages_only=""
configure_only=""
case "${1:-}" in
  "") ;;
  --packages-only) packages_only=1 ;;
  --configure-only) configure_only=1 ;;
  *)
    printf 'setup: unknown argument %s (say --packages-only, --configure-only or nothing)\n' "$1" >&2
    exit 2
    ;;
esac

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD:-$repo/build}"

packages=(
  build-essential cmake ninja-build pkg-config
  libmnl-dev libnetfilter-queue-dev libnftnl-dev libboost-dev
  protobuf-compiler libprotobuf-dev libgrpc++-dev protobuf-compiler-grpc
  doctest-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
  libpsl-dev                                       # learning mode: registrable domains (Public Suffix List)
  ieee-data                                        # OUI vendor table for device identification
  nftables iproute2 iputils-ping dnsmasq-base procps conntrack  # the network-namespace lab
  rsyslog rsyslog-gnutls                           # tests/scenario/syslog.sh: the collector (TCP, TLS)
  clang-14 libclang-rt-14-dev                      # libFuzzer targets (tests/fuzz), CI smoke
  lld-14                                           # the sanitized tree's linker (tests/run-tests.sh)
  nettle-dev                                       # SHA-256 (fw/common/sha256.h)
  libssl-dev openssl                               # mgmt: certificate checks; test certificates; MUD signatures
  libcurl4-openssl-dev                             # fw/mud: MUD files over HTTPS
  libcap-dev                                       # muzzled drops root to CAP_NET_ADMIN alone
  file                                             # CPack's dpkg-shlibdeps (the package, image/)
  help2man lintian                                 # the package's man pages (image/docs.sh); its check (image/test.sh)
  prometheus curl jq                               # tests/scenario/metrics.sh: a real scraper and its HTTP API
  faketime                                         # tests/scenario/schedule.sh: muzzled's calendar moved (libfaketime)
  time                                             # tests/bench/fleet.sh: the client's peak memory (/usr/bin/time -f %M)
  libcrypt-dev                                     # the web console's password hashes (yescrypt)
  chromium nodejs                                  # tests/scenario/web_console.sh: a real browser, driven from node
)

# playwright-core drives that chromium (npm; kept in .cache/node, not in git).
playwright_version=1.64.1

say() { printf 'setup: %s\n' "$*"; }

missing_packages() {
  local p
  for p in "${packages[@]}"; do
    # dpkg-query prints "install ok installed" only for a fully installed package; one line per
    # architecture when a foreign one is installed too (an arm64 cross build's -dev packages).
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -x 'install ok installed' >/dev/null; then
      printf '%s\n' "$p"
    fi
  done
}

install_packages() {
  local missing
  mapfile -t missing < <(missing_packages)
  if ((${#missing[@]} == 0)); then
    say "all ${#packages[@]} packages present"
    return
  fi
  if ((EUID != 0)); then
    say "missing packages: ${missing[*]}; run this script as root to install them" >&2
    exit 1
  fi
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Only refresh the package lists when something has to be installed: keeps re-runs offline.
  apt-get update -qq
  # Some of these packages are daemons (prometheus, rsyslog, dnsmasq) that the tests start
  # themselves, inside their namespaces. Their packages would start them on this machine too
  # (prometheus listening on every address): Debian's policy-rc.d says no to any start while
  # apt runs, unless the machine has its own policy already.
  local own_policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    own_policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$own_policy"
    chmod 755 "$own_policy"
  fi
  local status=0
  apt-get install -y -qq --no-install-recommends "${missing[@]}" || status=$?
  [[ -n "$own_policy" ]] && rm -f "$own_policy"
  ((status == 0)) || exit "$status"
}

# The system user muzzled becomes when started as root (the lab starts it so), as the package
# creates it (image/systemd/muzzle.sysusers); useradd where systemd is not installed.
create_user() {
  getent passwd muzzle >/dev/null && return
  if ((EUID != 0)); then
    # Only the scenario tests need it, and they need root anyway.
    say "no user muzzle; run this script as root to create it (for the scenario tests)" >&2
    return
  fi
  say "creating the system user muzzle"
  if command -v systemd-sysusers >/dev/null; then
    systemd-sysusers "$repo/image/systemd/muzzle.sysusers"
  else
    useradd --system --user-group --home-dir /var/lib/muzzle --no-create-home \
      --shell /usr/sbin/nologin --comment "Muzzle firewall daemon" muzzle
  fi
}

# playwright-core from the npm registry into .cache/node, once per version. Debian's npm comes
# with Debian's nodejs; a nodejs from elsewhere (NodeSource) brings its own npm.
install_browser_driver() {
  local dir="$repo/.cache/node"
  if grep -qs "\"version\": \"$playwright_version\"" "$dir/node_modules/playwright-core/package.json"; then
    return
  fi
  if ! command -v npm >/dev/null; then
    if ((EUID != 0)); then
      say "no npm; run this script as root to install it (for the web console's scenario)" >&2
      return
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm
  fi
  say "installing playwright-core $playwright_version into $dir"
  mkdir -p "$dir"
  npm install --no-audit --no-fund --loglevel=error --prefix "$dir" "playwright-core@$playwright_version" >/dev/null
}

configure_tree() {
  # Configure only once: re-running cmake on an existing tree is harmless but noisy, and
  # ninja re-runs it by itself when a CMakeLists.txt changes.
  if [[ ! -f "$build/build.ninja" ]]; then
    say "configuring $build (Ninja, RelWithDebInfo)"
    # Line tables only (-g1): what backtraces and perf need; full debug info cost ~10 % more
    # compile time in every management file (the package is stripped either way).
    cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" >/dev/null
  fi
}

build_tree() {
  local targets=()
  [[ -n "${SETUP_TARGETS:-}" ]] && read -ra targets <<<"$SETUP_TARGETS"
  say "building $build${targets[*]:+ (${targets[*]})}"
  cmake --build "$build" ${targets[@]:+--target "${targets[@]}"}
}

install_packages
[[ -n "$packages_only" ]] && exit 0
install_browser_driver
create_user
configure_tree
[[ -n "$configure_only" ]] && { say "configured $build"; exit 0; }
build_tree
say "done"
