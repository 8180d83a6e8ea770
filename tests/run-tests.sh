#!/usr/bin/env bash
# The test command (CI runs exactly this, via .ci/run): set up and build, then every test.
# Unit tests need nothing; scenario tests (label netns) need root and report "skipped" without.
# Scenario labs use unique ids, so tests run in parallel. First the unit tests run in an
# ASan/UBSan build: the parsers of untrusted input must be clean under the sanitizers too; then
# a short libFuzzer run of every fuzz target, and the threaded tests under ThreadSanitizer.
#
# Each unit test runs once, in the sanitized build: the main build makes only what the other
# tests run (the scenario binaries and the package's), as building every unit test a second time
# cost CI about four minutes of its budget. `ctest --test-dir build -L unit` after
# `tests/setup.sh` still runs them unsanitized. The unit tests and the fuzz targets share one
# clang build (build-sanitized: ASan and UBSan everywhere, libFuzzer's coverage in the code the
# targets test, asserts on): the code under test is compiled once for both, where a gcc ASan
# build and a clang fuzz build compiled it twice (the two phases took 21 minutes of a cold run on
# 2 cores, 2026-12-04). It is -O0 but for the fuzzed libraries and the targets (-O1, for the
# fuzzers' speed: tests/fuzz/CMakeLists.txt): with the sanitizers, -O1 cost 1.8-2.5x the CPU of
# -O0 for a test file, and that build was a third of CI's CPU. The sanitizer builds carry line
# tables only (-gline-tables-only, -g1): all their reports need, at a fraction of full debug
# info's cost. The sanitized programs link with lld (LLVM's linker, lld-14): their links took
# 159 s of build jobs with ld.bfd, 105 s with lld (one unit-test program up to 44 s with ld.bfd).
# Libraries and unit-test programs are compiled in unity batches (CMakeLists.txt: muzzle_unity):
# with them the whole suite took 36.5 minutes on 2 cores, cold (2026-12-05; 46 before).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
export BUILD="${BUILD:-$repo/build}"
sanitized="${BUILD_SANITIZED:-$repo/build-sanitized}"

# "== what (at M:SS)": each phase says when it starts, so a CI log shows where the time went.
phase() { printf '== %s (at %d:%02d)\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

# The packages, the browser driver and the configured tree first; the build below, after the
# arm64 chain has started.
"$repo/tests/setup.sh" --configure-only
# Two tests a core, four at most: a scenario test mostly waits (timers, traffic, its daemons'
# replies), and at one a core the scenario tests ran one at a time beside the image's build,
# ~15 minutes on the suite's longest path (2026-12-04).
jobs=$(($(nproc) * 2))
((jobs > 4)) && jobs=4

status=0
# The arm64 chain (image/cross/: the cross build and package, then the arm64 image) builds in a
# tree of its own, so for the whole suite (no arguments) it starts now, before the main build, and
# runs beside it and the sanitizer builds. Started after the main build it was the suite's longest
# path: a fresh machine's suite took 44 minutes, the chain 32 of them, its mostly one-core image
# build running alone at the end. Started here, the suite took 38 minutes (a warm machine), and the
# chain ended 11 minutes before anything waited for it (2026-12-05). Not beside the scenario tests
# at the end: there it held one of CTest's two slots for half an hour, and the scenario tests ran
# one at a time in the other (2026-12-04). Not niced (ARM64_NICE=0): its image build must start
# early, and niced beside the sanitizer builds the chain got a tenth of the CPU. The image's boot
# (RUN_SERIAL: it takes both cores) runs last, alone. What apt installs comes first, one run at a
# time: the background chain and the image tests would otherwise install beside each other.
arm64_early=0
if (($# == 0 && EUID == 0)); then
  "$repo/image/setup.sh"
  "$repo/image/cross/setup-arm64.sh"
  arm64_early=1
  arm64_log="$(mktemp /tmp/muzzle-arm64.XXXXXX)"
  phase "arm64 package and image, in the background (log: $arm64_log)"
  # A process group of its own (set -m), so that an interrupted suite stops all of it.
  set -m
  ARM64_NICE=0 ctest --test-dir "$BUILD" -L arm64 -E '^arm64_image_smoke$' --output-on-failure \
    >"$arm64_log" 2>&1 &
  arm64_pid=$!
  set +m
  trap 'kill -- "-$arm64_pid" 2>/dev/null || true' EXIT
  trap 'exit 130' INT TERM
fi
phase "the main build ($BUILD): what the scenario tests and the package run"
SETUP_TARGETS="muzzle_scenario_binaries muzzle_package_binaries" "$repo/tests/setup.sh"
phase "unit tests under AddressSanitizer and UndefinedBehaviorSanitizer ($sanitized)"
if [[ ! -f "$sanitized/build.ninja" ]]; then
  CC=clang-14 CXX=clang++-14 cmake -S "$repo" -B "$sanitized" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DMUZZLE_SANITIZE=ON -DMUZZLE_FUZZ=ON -DCMAKE_CXX_FLAGS_DEBUG="-O0 -gline-tables-only" \
    -DCMAKE_C_FLAGS_DEBUG="-O0 -gline-tables-only" -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld-14 >/dev/null
fi
# Only what the unit tests need: a test program's name is its target (a unit test that is a
# script, such as image_issue, has no target to build). build.ninja first brings the target
# list up to date with the CMake files.
ninja -C "$sanitized" build.ninja >/dev/null
mapfile -t unit_targets < <(comm -12 \
  <(ctest --test-dir "$BUILD" -N -L unit | sed -n 's/^ *Test *#[0-9]*: //p' | sort) \
  <(ninja -C "$sanitized" -t targets all | sed -n 's/: phony$//p' | sort))
cmake --build "$sanitized" --target "${unit_targets[@]}" muzzle_fuzz_targets
ctest --test-dir "$sanitized" -L unit --output-on-failure -j"$jobs" || status=$?

phase "fuzz smoke: every reader of untrusted input under libFuzzer, a few seconds each"
# Twenty targets (tests/fuzz/README.md), 106 s of fuzzing in all, two at a time (one core each:
# libFuzzer runs one thread), built above beside the unit tests.
fuzz="$sanitized"
fuzz_corpus="$(mktemp -d /tmp/muzzle-fuzz.XXXXXX)"
# fuzz_smoke TARGET SECONDS: a crash, a leak, a timeout or a sanitizer report fails it (non-zero).
# The seed corpus (tests/fuzz/corpus/NAME) is only read: inputs the fuzzer finds land in the temp
# dir. What it has to say goes to NAME.report, printed once both of a pair are done.
fuzz_smoke() {
  local target="$1" seconds="$2" name="${1%_fuzz}"
  local log="$fuzz_corpus/$name.log" report="$fuzz_corpus/$name.report" args=("$fuzz_corpus/$name")
  mkdir -p "$fuzz_corpus/$name"
  [[ -d "$repo/tests/fuzz/corpus/$name" ]] && args+=("$repo/tests/fuzz/corpus/$name")
  [[ -f "$repo/tests/fuzz/$name.dict" ]] && args+=("-dict=$repo/tests/fuzz/$name.dict")
  if (cd "$fuzz_corpus" && "$fuzz/tests/fuzz/$target" "${args[@]}" -max_total_time="$seconds" \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$fuzz_corpus/$name-") >"$log" 2>&1; then
    echo "$target: $(sed -n 's/^stat::number_of_executed_units: *//p' "$log") inputs in ${seconds} s" \
      "($(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")/s), no failure" >"$report"
  else
    { echo "$target: FAILED (reproducer: $(ls "$fuzz_corpus/$name-"* 2>/dev/null | head -n1))"
      tail -n 40 "$log"; } >"$report"
    return 1
  fi
}
fuzz_failed=0
# fuzz_pair TARGET SECONDS TARGET SECONDS: both at once; their reports in order.
fuzz_pair() {
  local first second
  fuzz_smoke "$1" "$2" & first=$!
  fuzz_smoke "$3" "$4" & second=$!
  wait "$first" || fuzz_failed=1
  wait "$second" || fuzz_failed=1
  cat "$fuzz_corpus/${1%_fuzz}.report" "$fuzz_corpus/${3%_fuzz}.report" || true
}
fuzz_pair judge_fuzz 10 policy_fuzz 10
fuzz_pair dns_fuzz 8 daemon_config_fuzz 6
fuzz_pair nfq_wire_fuzz 6 inventory_fuzz 6
fuzz_pair audit_fuzz 6 revision_fuzz 6
fuzz_pair packet_fuzz 5 dhcp_fuzz 5
fuzz_pair mud_fuzz 6 mud_helper_fuzz 4
fuzz_pair list_file_fuzz 4 learn_fuzz 4
fuzz_pair web_request_fuzz 4 accounts_fuzz 4
fuzz_pair generation_fuzz 3 mud_cache_fuzz 3
fuzz_pair conntrack_fuzz 3 flood_dump_fuzz 3
if ((fuzz_failed)); then
  status=1  # a failure keeps its reproducer
else
  rm -rf "$fuzz_corpus"
fi

phase "threaded tests under ThreadSanitizer: the queue threads, the judge's lock, the event ring"
tsan="${BUILD_TSAN:-$repo/build-tsan}"
if [[ ! -f "$tsan/build.ninja" ]]; then
  cmake -S "$repo" -B "$tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMUZZLE_TSAN=ON \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" >/dev/null
fi
cmake --build "$tsan" --target unit_threads
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$repo/tests/tsan.supp" \
  ctest --test-dir "$tsan" -L tsan --output-on-failure || status=$?

# The rest of the suite last, so its summary closes the output (the unit tests ran above).
phase "scenario, image and build tests ($BUILD)"
if ((arm64_early)); then
  ctest --test-dir "$BUILD" --output-on-failure -j"$jobs" -LE 'unit|arm64' || status=$?
  phase "arm64 package and image (started before the main build): waiting for it"
  arm64_status=0
  wait "$arm64_pid" || arm64_status=$?
  trap - EXIT
  cat "$arm64_log"
  rm -f "$arm64_log"
  if ((arm64_status == 0)); then
    phase "the arm64 image's boot, alone"
    # Its build ran above: -FS keeps CTest from running the fixtures' setup tests again.
    ctest --test-dir "$BUILD" -R '^arm64_image_smoke$' -FS 'muzzle_arm64_.*' --output-on-failure ||
      status=$?
  else
    echo "arm64_image_smoke: not run, the arm64 package or image failed (above)"
    status=1
  fi
else
  ctest --test-dir "$BUILD" --output-on-failure -j"$jobs" -LE unit "$@" || status=$?
fi
phase "done, status $status"
exit "$status"
