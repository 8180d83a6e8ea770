#!/usr/bin/env bash
# The test command (CI runs exactly this, via .ci/run): set up and build, then every test.
# Unit tests need nothing; scenario tests (label netns) need root and report "skipped" without.
# Scenario labs use unique ids, so tests run in parallel. First the unit tests run in an
# ASan/UBSan build: the parsers of untrusted input must be clean under the sanitizers too.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
export BUILD="${BUILD:-$repo/build}"
sanitized="${BUILD_SANITIZED:-$repo/build-asan}"

"$repo/tests/setup.sh"
jobs="$(nproc)"
((jobs > 4)) && jobs=4

status=0
echo "== unit tests under AddressSanitizer and UndefinedBehaviorSanitizer ($sanitized)"
if [[ ! -f "$sanitized/build.ninja" ]]; then
  cmake -S "$repo" -B "$sanitized" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMUZZLE_SANITIZE=ON >/dev/null
fi
# Only what the unit tests need: their names are their targets.
mapfile -t unit_targets < <(ctest --test-dir "$BUILD" -N -L unit | sed -n 's/^ *Test *#[0-9]*: //p')
cmake --build "$sanitized" --target "${unit_targets[@]}"
ctest --test-dir "$sanitized" -L unit --output-on-failure -j"$jobs" || status=$?

echo "== fuzz smoke: the parsers of untrusted input under libFuzzer, a few seconds each"
fuzz="${BUILD_FUZZ:-$repo/build-fuzz}"
if [[ ! -f "$fuzz/build.ninja" ]]; then
  CC=clang-14 CXX=clang++-14 cmake -S "$repo" -B "$fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMUZZLE_FUZZ=ON >/dev/null
fi
cmake --build "$fuzz" --target dns_fuzz packet_fuzz dhcp_fuzz
fuzz_corpus="$(mktemp -d /tmp/muzzle-fuzz.XXXXXX)"
# fuzz_smoke TARGET SECONDS [CORPUS...]: a crash, a leak or a sanitizer report fails the suite.
fuzz_smoke() {
  local target="$1" seconds="$2" log="$fuzz_corpus/$1.log"
  shift 2
  if "$fuzz/tests/fuzz/$target" "$@" -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    echo "$target: $(sed -n 's/^stat::number_of_executed_units: *//p' "$log") inputs in ${seconds} s" \
      "($(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")/s), no failure"
  else
    echo "$target: FAILED"
    tail -n 40 "$log"
    status=1
  fi
}
# The seed corpus is only read: inputs the fuzzer finds land in the temp dir.
mkdir -p "$fuzz_corpus/dns"
fuzz_smoke dns_fuzz 12 "$fuzz_corpus/dns" "$repo/tests/fuzz/corpus/dns"
fuzz_smoke packet_fuzz 6
fuzz_smoke dhcp_fuzz 6
rm -rf "$fuzz_corpus"

# The whole suite last, so its summary closes the output.
ctest --test-dir "$BUILD" --output-on-failure -j"$jobs" "$@" || status=$?
exit "$status"
