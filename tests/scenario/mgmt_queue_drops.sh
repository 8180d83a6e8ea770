#!/usr/bin/env bash
# Packets the kernel drops before muzzled sees them show in `muzzlectl status`. With muzzled
# stopped (SIGSTOP) and fail_mode closed, a burst of more new flows than the queue holds
# (max_len 4096, fw/nfq/packet_queue.h) fills the queue; the kernel drops the rest and counts
# them in /proc/net/netfilter/nfnetlink_queue (queue_dropped). Once muzzled runs again, status
# (table and --json) and the `counters` log line report those drops, and report none before.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

export FAIL_MODE=closed
# The flood guard and the segment guard off: they would drop all but their bursts of cam1's 5000
# new flows before the queue (flood_guard.sh and segment_guard.sh test them).
export LAB_FLOOD_GUARD='{new_flows_per_second: 0, segment_new_flows_per_second: 0}'
scenario_lab_up
lab_start_muzzled
# A column of queue 100's line in the gateway's /proc/net/netfilter/nfnetlink_queue.
proc_column() { lab_queue_stats | awk -v c="$1" '$1 == 100 { print $c }'; }

before="$(ctl --json status || true)"
echo "    before: queue_dropped=$(json_field kernel_queue_dropped "$before") user_dropped=$(json_field kernel_user_dropped "$before") waiting=$(json_field kernel_waiting "$before") error=$(sed -n 's/.*"kernel_counters_error": "\([^"]*\)".*/\1/p' <<<"$before")"
lab_check "status --json has the kernel's counters, and they read no drops yet" \
  test "$(json_field kernel_queue_dropped "$before")" = 0 -a "$(json_field kernel_user_dropped "$before")" = 0
lab_check "status --json lists queue 100 in kernel_queues, with no read error" \
  bash -c 'grep -q "\"queue\": 100" <<<"$1" && grep -q "\"kernel_counters_error\": \"\"" <<<"$1"' _ "$before"

echo "== SIGSTOP muzzled, then 5000 new flows from cam1: more than the queue's 4096"
kill -STOP "$LAB_MUZZLED_PID"
burst="$(lab_exec cam1 "$LABNET" burst "$(lab_addr cloud1)" 40000 --flows 5000 </dev/null || true)"
echo "    labnet: $burst"
lab_check "the burst was sent" grep -q 'result=sent flows=5000' <<<"$burst"
sleep 0.5
echo "    kernel while muzzled is stopped: waiting=$(proc_column 3) queue_dropped=$(proc_column 6) user_dropped=$(proc_column 7)"
lab_check "the kernel holds a full queue (4096 waiting) while muzzled is stopped" test "$(proc_column 3)" = 4096
kill -CONT "$LAB_MUZZLED_PID"

# muzzled now drains the 4096 queued packets; wait until none is left waiting.
after=""
for _ in $(seq 100); do
  after="$(ctl --json status || true)"
  [[ "$(json_field kernel_waiting "$after")" == 0 ]] && break
  sleep 0.1
done
dropped="$(json_field kernel_queue_dropped "$after")"
echo "    after: queue_dropped=$dropped user_dropped=$(json_field kernel_user_dropped "$after") waiting=$(json_field kernel_waiting "$after") (proc: $(proc_column 6) $(proc_column 7))"
lab_check "status --json shows the kernel's queue-full drops (> 0)" test "${dropped:-0}" -gt 0
lab_check "... the same number the kernel's file shows" test "$dropped" = "$(proc_column 6)"
lab_check "... the drops and the queued packets add up to the burst (queue_dropped + 4096 >= 5000)" \
  test $((${dropped:-0} + $(json_field kernel_user_dropped "$after") + 4096)) -ge 5000
lab_check "the queue is drained again (waiting 0)" test "$(json_field kernel_waiting "$after")" = 0

kernel_table="$(ctl status | sed -n '/^kernel queues/,/^$/p' || true)"
sed 's/^/    /' <<<"$kernel_table"
lab_check "the status table shows the drops (queues, waiting, queue full, socket full)" \
  grep -Eq "^  100 +0 +$dropped +[0-9]+" <<<"$kernel_table"

kill -USR1 "$LAB_MUZZLED_PID"
lab_check "the counters log line carries them" wait_log "event=counters .*kernel_queue_dropped=$dropped " 3

lab_stop_muzzled
lab_summary
