#!/usr/bin/env bash
# The fast path: once a flow is judged, its later packets are decided in the kernel by the
# conntrack mark and never reach muzzled. Measured with the queue's id_sequence (the number of
# packets the kernel ever queued to user space) around ~50 echo exchanges of one connection.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

scenario_lab_up
lab_start_muzzled

lab_check "hold cam1 -> nvr tcp/554 established" \
  lab_hold_start cam1 "$(lab_addr nvr)" 554 --interval-ms 20 --max-ms 60000
# A few exchanges first, so the handshake's packets are all counted before we start measuring.
lab_hold_wait_echoes 3 5 || true
seq_before="$(lab_queue_seq 100)"
echoes_before="$(lab_hold_echoes)"
lab_check "queue 100 saw the flow's first packet (id_sequence $seq_before > 0)" \
  test "$seq_before" -gt 0
lab_check "50 more echo exchanges" lab_hold_wait_echoes $((echoes_before + 50)) 15
seq_after="$(lab_queue_seq 100)"
echoes_after="$(lab_hold_echoes)"
echo "    id_sequence $seq_before -> $seq_after over $((echoes_after - echoes_before)) exchanges"
lab_check "fewer than 5 packets queued during the exchanges" \
  test $((seq_after - seq_before)) -lt 5
lab_check "hold still alive" lab_hold_alive
lab_queue_stats | sed 's/^/    queue: /'

lab_summary
