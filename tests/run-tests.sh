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
cmake --build "$sanitized"
ctest --test-dir "$sanitized" -L unit --output-on-failure -j"$jobs" || status=$?

# The whole suite last, so its summary closes the output.
ctest --test-dir "$BUILD" --output-on-failure -j"$jobs" "$@" || status=$?
exit "$status"
