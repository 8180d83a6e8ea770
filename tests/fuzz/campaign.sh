#!/usr/bin/env bash
# A fuzzing campaign: runs each named target (all of them by default) one after the other for
# RUNS executions (default 10,000,000), at the lowest CPU priority, on its seed corpus plus a
# working corpus that grows across campaigns, and prints one Markdown table row per target for
# tests/fuzz/README.md. A crash, leak, timeout or out-of-memory stops that target, leaves the
# reproducer in the work folder, and marks its row FAILED; the script then exits non-zero.
#
#   tests/fuzz/campaign.sh                       # every target, 10 M executions each
#   RUNS=1000000 tests/fuzz/campaign.sh judge_fuzz policy_fuzz
#
# Environment: BUILD_FUZZ (default <repo>/build-fuzz, configured and built here if needed),
# WORK (default <repo>/build-fuzz/campaign: NAME/corpus, NAME/log, reproducers), RUNS,
# MAX_HOURS (a stop per target, default 12), TIMEOUT (seconds one input may take, default 10).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
fuzz="${BUILD_FUZZ:-$repo/build-fuzz}"
work="${WORK:-$fuzz/campaign}"
runs="${RUNS:-10000000}"
max_seconds=$(( ${MAX_HOURS:-12} * 3600 ))
timeout="${TIMEOUT:-10}"
all=(judge_fuzz policy_fuzz daemon_config_fuzz nfq_wire_fuzz inventory_fuzz audit_fuzz revision_fuzz
     packet_fuzz dns_fuzz dhcp_fuzz)
targets=("$@")
((${#targets[@]} > 0)) || targets=("${all[@]}")

if [[ ! -f "$fuzz/build.ninja" ]]; then
  CC=clang-14 CXX=clang++-14 cmake -S "$repo" -B "$fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMUZZLE_FUZZ=ON >/dev/null
fi
nice -n 19 cmake --build "$fuzz" --target "${targets[@]}" >/dev/null

echo "| target | executions | exec/s | coverage (edges) | features | corpus (files) | time | result |"
echo "|---|---|---|---|---|---|---|---|"
failed=0
for target in "${targets[@]}"; do
  name="${target%_fuzz}"
  seeds="$repo/tests/fuzz/corpus/$name"
  dir="$work/$name"
  mkdir -p "$dir/corpus"
  args=("$dir/corpus")
  [[ -d "$seeds" ]] && args+=("$seeds")
  [[ -f "$repo/tests/fuzz/$name.dict" ]] && args+=("-dict=$repo/tests/fuzz/$name.dict")
  start=$SECONDS
  result=ok
  # The seed folder is only read: libFuzzer writes new inputs into the first folder.
  (cd "$dir" && nice -n 19 "$fuzz/tests/fuzz/$target" "${args[@]}" -runs="$runs" \
      -max_total_time="$max_seconds" -timeout="$timeout" -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$dir/") >"$dir/log" 2>&1 || result=FAILED
  elapsed=$((SECONDS - start))
  stat() { sed -n "s/^stat::$1: *//p" "$dir/log" | tail -n1; }
  last_status="$(grep -E '^#[0-9]+' "$dir/log" | tail -n1)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last_status")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last_status")"
  execs="$(stat number_of_executed_units)"
  if [[ "$result" == ok && "${execs:-0}" -lt "$runs" ]]; then
    result="stopped at MAX_HOURS"
  fi
  [[ "$result" == FAILED ]] && failed=1
  printf '| %s | %s | %s | %s | %s | %s | %dh%02dm | %s |\n' "$target" "${execs:-?}" \
    "$(stat average_exec_per_sec)" "${cov:-?}" "${ft:-?}" "$(find "$dir/corpus" -type f | wc -l)" \
    $((elapsed / 3600)) $((elapsed % 3600 / 60)) "$result"
done
exit "$failed"
