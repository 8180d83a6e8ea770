#!/usr/bin/env bash
# Fail open (fail_mode: open): when muzzled dies (kill -9), the queue is bypassed and new flows
# pass, even ones the policy denies. A site chooses this when availability beats containment.
#
# Down is not slow: while muzzled runs, a queue full of flows waiting for it drops the next ones,
# as with fail_mode closed. Otherwise a camera that opens new flows faster than muzzled judges
# them would get its denied flows through. The test stops muzzled (SIGSTOP: alive, bound, not
# judging), sends 5000 new UDP flows from cam1 to cloud1, which its profile may not reach (the
# queue holds 4096), and counts what reached the internet host: nothing, before and after
# muzzled judges the 4096 it queued. Then kill -9: the same kind of burst passes (the bypass).
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

export FAIL_MODE=open
# The flood guard and the segment guard off: their buckets would drop all but 1000 (4000) of the
# 5000-flow burst below before the queue, which must fill (flood_guard.sh and segment_guard.sh
# test the guards).
export LAB_FLOOD_GUARD='{new_flows_per_second: 0, segment_new_flows_per_second: 0}'
scenario_lab_up
lab_start_muzzled

# A column of queue 100's line in the gateway's /proc/net/netfilter/nfnetlink_queue
# (3: waiting, 6: queue_dropped, 7: user_dropped).
proc_column() { lab_queue_stats | awk -v c="$1" '$1 == 100 { print $c }'; }
# IPv4 UDP datagrams that reached inet (cloud1's namespace): delivered to a socket (InDatagrams)
# or to a port none listens on (NoPorts: the bursts' ports 40000-45099 have none).
udp_arrived() {
  local snmp
  snmp="$(lab_exec inet cat /proc/net/snmp)"
  awk '$1 == "Udp:" && !header { for (i = 2; i <= NF; i++) col[$i] = i; header = 1; next }
       $1 == "Udp:" { print $col["InDatagrams"] + $col["NoPorts"]; exit }' <<<"$snmp"
}

echo "== muzzled running: the policy holds"
lab_table_header
lab_expect rejected cam1 cloud1 tcp 443
lab_expect allowed cam1 nvr tcp 554

echo "== SIGSTOP muzzled, then 5000 new UDP flows cam1 -> cloud1:40000-44999 (denied; the queue holds 4096)"
arrived_before="$(udp_arrived)"
dropped_before="$(proc_column 6)"
kill -STOP "$LAB_MUZZLED_PID"
burst="$(lab_exec cam1 "$LABNET" burst "$(lab_addr cloud1)" 40000 --flows 5000 </dev/null || true)"
echo "    labnet: $burst"
lab_check "the burst was sent" grep -q 'result=sent flows=5000' <<<"$burst"
# The burst crosses the gateway in the sender's own system calls; give a loaded machine time.
for _ in $(seq 20); do
  (($(proc_column 6) - dropped_before + $(proc_column 3) >= 5000)) && break
  sleep 0.1
done
arrived_stopped=$(($(udp_arrived) - arrived_before))
dropped=$(($(proc_column 6) - dropped_before))
echo "    while stopped: waiting=$(proc_column 3) queue_dropped=+$dropped user_dropped=$(proc_column 7) arrived at cloud1=$arrived_stopped"
lab_check "the kernel holds a full queue (4096 waiting)" test "$(proc_column 3)" = 4096
lab_check "the kernel dropped what overflowed it (queue_dropped grew: +$dropped)" test "$dropped" -gt 0
lab_check "none of the burst reached cloud1 while the queue was full ($arrived_stopped arrived)" \
  test "$arrived_stopped" = 0
kill -CONT "$LAB_MUZZLED_PID"

# muzzled now judges the 4096 queued flows; wait until none is left waiting.
for _ in $(seq 100); do
  [[ "$(proc_column 3)" == 0 ]] && break
  sleep 0.1
done
sleep 0.2
arrived_judged=$(($(udp_arrived) - arrived_before))
echo "    after SIGCONT: waiting=$(proc_column 3) arrived at cloud1=$arrived_judged"
lab_check "muzzled judged the queued flows (waiting 0)" test "$(proc_column 3)" = 0
lab_check "none of the burst reached cloud1 once judged either ($arrived_judged arrived)" \
  test "$arrived_judged" = 0

echo "== kill -9 muzzled: new flows pass"
lab_kill_muzzled
lab_table_header
lab_expect allowed cam1 cloud1 tcp 443
lab_expect allowed cam1 cloud1 tcp 443 6
lab_expect allowed cam1 nvr tcp 554
# The same count sees what passes: new ports (the first burst's flows keep their reject marks).
arrived_before="$(udp_arrived)"
burst="$(lab_exec cam1 "$LABNET" burst "$(lab_addr cloud1)" 45000 --flows 100 </dev/null || true)"
for _ in $(seq 20); do
  (($(udp_arrived) - arrived_before >= 100)) && break
  sleep 0.1
done
arrived_bypass=$(($(udp_arrived) - arrived_before))
echo "    labnet: $burst; arrived at cloud1=$arrived_bypass"
lab_check "with no muzzled, a burst of 100 new UDP flows to cloud1 arrives whole ($arrived_bypass)" \
  test "$arrived_bypass" = 100

lab_summary
