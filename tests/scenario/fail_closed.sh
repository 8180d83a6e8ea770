#!/usr/bin/env bash
# Fail closed (the default): when muzzled dies (kill -9), flows it already allowed keep working
# from the kernel's conntrack marks, but no new flow passes until it is back.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

export FAIL_MODE=closed
scenario_lab_up
lab_start_muzzled

lab_check "hold cam1 -> nvr tcp/554 established" \
  lab_hold_start cam1 "$(lab_addr nvr)" 554 --interval-ms 100 --max-ms 60000

echo "== kill -9 muzzled"
lab_kill_muzzled
echoes_before="$(lab_hold_echoes)"
sleep 2
echoes_after="$(lab_hold_echoes)"
echo "    hold: $echoes_before -> $echoes_after echoes in 2 s"
lab_check "held connection keeps working for 2 s" lab_hold_alive
lab_check "held connection kept exchanging (>= 10 echoes in 2 s)" \
  test $((echoes_after - echoes_before)) -ge 10
lab_table_header
lab_expect blocked cam1 nvr tcp 554
lab_expect blocked cam1 nvr tcp 554 6
lab_expect blocked cam1 cloud1 tcp 443

echo "== restart muzzled"
lab_start_muzzled
# Same policy, same generation: the flow judged before the restart keeps its conntrack verdict
# and stays in the kernel (the new muzzled never sees its packets).
seq_before="$(lab_queue_seq 100)"
echoes_before="$(lab_hold_echoes)"
lab_check "held connection survives the restart" lab_hold_wait_echoes $((echoes_before + 10)) 5
lab_check "its packets stay in the kernel after the restart (id_sequence +$(($(lab_queue_seq 100) - seq_before)))" \
  test $(($(lab_queue_seq 100) - seq_before)) -lt 3
lab_check "held connection still open" lab_hold_alive
lab_table_header
lab_expect allowed cam1 nvr tcp 554
lab_expect allowed cam1 nvr tcp 554 6
lab_expect rejected cam1 cloud1 tcp 443
lab_expect rejected cam1 cloud1 tcp 443 6

echo "== SIGTERM stops cleanly and leaves the ruleset in place (fail closed still holds)"
lab_check "muzzled exits on SIGTERM" lab_stop_muzzled
lab_check "it logged its final counters" wait_log 'event=stopped packets=[0-9]+' 2
table_present() { lab_exec gw nft list table inet muzzle >/dev/null; }
lab_check "table inet muzzle is still installed" table_present
lab_table_header
lab_expect blocked cam1 nvr tcp 554

lab_summary
