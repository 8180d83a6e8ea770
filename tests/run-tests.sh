#!/usr/bin/env bash
# The test command (CI runs exactly this, via .ci/run): set up and build, then every test.
# Unit tests need nothing; scenario tests (label netns) need root and report "skipped" without.
# Scenario labs use unique ids, so tests run in parallel.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
export BUILD="${BUILD:-$repo/build}"

"$repo/tests/setup.sh"
jobs="$(nproc)"
((jobs > 4)) && jobs=4
exec ctest --test-dir "$BUILD" --output-on-failure -j"$jobs" "$@"
