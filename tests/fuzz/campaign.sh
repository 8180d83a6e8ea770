#!/usr/bin/env bash
# A fuzzing campaign: runs each named target (all of them by default) one after the other for
# RUNS executions (default 10,000,000), at the lowest CPU priority, on its seed corpus plus a
# working corpus that grows across campaigns, and prints one Markdown table row per target for
# tests/fuzz/README.md. A crash, leak, timeout (replayed once to tell it from a starved
# process) or out-of-memory stops that target, leaves the reproducer in the work folder, and
# marks its row FAILED; the script then exits non-zero.
#
#   tests/fuzz/campaign.sh                       # every target, 10 M executions each
#   RUNS=1000000 tests/fuzz/campaign.sh judge_fuzz policy_fuzz
#
# Environment: BUILD_FUZZ (default <repo>/build-fuzz, configured and built here if needed),
# WORK (default <repo>/build-fuzz/campaign: NAME/corpus, NAME/log, reproducers), RUNS,
# MAX_MINUTES (a stop per target, default 720), TIMEOUT (seconds one input may take, default 10).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
fuzz="${BUILD_FUZZ:-$repo/build-fuzz}"
work="${WORK:-$fuzz/campaign}"
runs="${RUNS:-10000000}"
max_seconds=$(( ${MAX_MINUTES:-720} * 60 ))
timeout="${TIMEOUT:-10}"
all=(judge_fuzz policy_fuzz daemon_config_fuzz nfq_wire_fuzz inventory_fuzz audit_fuzz revision_fuzz
     packet_fuzz dns_fuzz dhcp_fuzz mud_fuzz mud_helper_fuzz list_file_fuzz learn_fuzz
     web_request_fuzz accounts_fuzz generation_fuzz mud_cache_fuzz conntrack_fuzz
     flood_dump_fuzz)
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
  done_runs=0
  result=ok
  spurious=0
  : >"$dir/log"
  # libFuzzer's -timeout is wall-clock time, and a fuzzer at nice 19 on a busy machine can wait
  # that long for a CPU: a timeout is replayed once at normal priority, and only one that takes
  # as long again counts. A starved one is noted and fuzzing resumes (the corpus is kept).
  while ((done_runs < runs && SECONDS - start < max_seconds)); do
    rm -f "$dir"/timeout-*
    # The seed folder is only read: libFuzzer writes new inputs into the first folder.
    if (cd "$dir" && nice -n 19 "$fuzz/tests/fuzz/$target" "${args[@]}" -runs=$((runs - done_runs)) \
        -max_total_time=$((max_seconds - (SECONDS - start))) -timeout="$timeout" -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$dir/") >"$dir/last.log" 2>&1; then
      failure=""
    else
      failure=yes
    fi
    cat "$dir/last.log" >>"$dir/log"
    runs_now="$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/last.log" | tail -n1)"
    done_runs=$((done_runs + ${runs_now:-0}))
    [[ -z "$failure" ]] && continue
    if [[ "${runs_now:-0}" -le 1 ]]; then  # failing at the first input: nothing to resume
      result="FAILED (at the first input)"
      break
    fi
    timeout_input="$(ls "$dir"/timeout-* 2>/dev/null | head -n1)"
    if [[ -n "$timeout_input" ]] &&
      "$fuzz/tests/fuzz/$target" -timeout="$timeout" "$timeout_input" >"$dir/replay.log" 2>&1; then
      spurious=$((spurious + 1))
      continue
    fi
    result=FAILED
    break
  done
  elapsed=$((SECONDS - start))
  last_status="$(grep -E '^#[0-9]+' "$dir/log" | tail -n1 || true)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last_status")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last_status")"
  if [[ "$result" == ok && "$done_runs" -lt "$runs" ]]; then
    result="stopped at MAX_MINUTES"
  fi
  ((spurious > 0)) && result="$result ($spurious starved timeouts, none reproduced)"
  [[ "$result" == FAILED* ]] && failed=1
  printf '| %s | %s | %s | %s | %s | %s | %dh%02dm | %s |\n' "$target" "$done_runs" \
    "$((done_runs / (elapsed > 0 ? elapsed : 1)))" "${cov:-?}" "${ft:-?}" \
    "$(find "$dir/corpus" -type f | wc -l)" $((elapsed / 3600)) $((elapsed % 3600 / 60)) "$result"
done
exit "$failed"
