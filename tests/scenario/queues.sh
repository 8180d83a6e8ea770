#!/usr/bin/env bash
# Two flow queues and the inspection queue: with queue {first: 100, count: 2}, muzzled runs
# threads muzzle-q100 and muzzle-q101 (which also drains the inspection queue's socket, so there
# is no thread muzzle-inspect); the ruleset fans new flows out by CPU, so
# flows sent from CPU 0 and from CPU 1 land on different queues and are judged alike. The flow
# queues copy 512 header bytes, the inspection queue (102) whole packets: DNS answers are
# learned there, and a 1400-byte first packet is still judged right from its headers.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

export LAB_QUEUE_COUNT=2
scenario_lab_up
lab_serve gw --udp 123
lab_start_muzzled

echo "== threads and queues"
threads() { cat /proc/"$LAB_MUZZLED_PID"/task/*/comm; }
lab_check "thread muzzle-q100 runs" grep -qx muzzle-q100 <(threads)
lab_check "thread muzzle-q101 runs" grep -qx muzzle-q101 <(threads)
lab_check "no thread of its own for the inspection queue" bash -c "! grep -qx muzzle-inspect /proc/$LAB_MUZZLED_PID/task/*/comm"
lab_check "ready line names queues 100-101, inspection queue 102 and 2 queue threads" \
  wait_log 'event=ready .*queues=100-101 inspection_queue=102 queue_threads=2' 2
# /proc columns: queue peer_portid waiting copy_mode copy_range dropped user_dropped id_sequence 1
copy_range() { lab_queue_stats | awk -v q="$1" '$1 == q { print $5 }'; }
lab_check "queues 100 and 101 copy 512 header bytes" \
  test "$(copy_range 100) $(copy_range 101)" == "512 512"
# Whole packets: the kernel caps the 65535 we ask for at 65531 (the largest netlink attribute).
lab_check "inspection queue 102 copies whole packets ($(copy_range 102) bytes)" test "$(copy_range 102)" -ge 65000

echo "== the demo's flows, sent from each CPU"
cpus="$(nproc)"
for cpu in 0 1; do
  if ((cpu >= cpus)); then
    echo "    (one CPU only: skipping CPU $cpu)"
    continue
  fi
  q="$((100 + cpu))"
  before="$(lab_queue_seq "$q")"
  taskset -pc "$cpu" $$ >/dev/null  # every probe this shell starts runs on CPU $cpu
  echo "-- CPU $cpu"
  site_example_rows
  after="$(lab_queue_seq "$q")"
  lab_check "flows sent from CPU $cpu were judged on queue $q (id_sequence $before -> $after)" \
    test "$after" -gt "$before"
done
taskset -pc "0-$((cpus - 1))" $$ >/dev/null

echo "== the inspection queue"
seq_dns="$(lab_queue_seq 102)"
lab_check "speaker resolves avs.voice.example" \
  test "$(lab_resolve speaker avs.voice.example)" == 203.0.113.30
lab_check "the answer went through queue 102 (id_sequence $seq_dns -> $(lab_queue_seq 102))" \
  test "$(lab_queue_seq 102)" -gt "$seq_dns"
connects() { [[ "$(lab_flow "$@" --timeout-ms 2000 || true)" == *result=connected* ]]; }
lab_check "and was learned: speaker -> avs.voice.example:443 connects" connects speaker tcp 203.0.113.30 443

echo "== first packets bigger than the copied headers"
gw4="$(lab_addr gw 4)"
gw6="$(lab_addr gw 6)"
udp_result() { lab_flow "$@" --timeout-ms 2000 || true; }
for size in 1400 7; do
  lab_check "cam1 -> gw udp/123, $size bytes: answered (v4)" \
    grep -q result=answered <(udp_result cam1 udp "$gw4" 123 --size "$size")
  lab_check "cam1 -> gw udp/123, $size bytes: answered (v6)" \
    grep -q result=answered <(udp_result cam1 udp "$gw6" 123 --size "$size")
done
lab_check "cam1 -> cloud1 udp/123, 1400 bytes: rejected (v4)" \
  grep -q result=unreachable <(udp_result cam1 udp "$(lab_addr cloud1 4)" 123 --size 1400)
no_malformed() { ! grep -q 'event=malformed' "$LAB_STATE/muzzled.log"; }
lab_check "no packet judged malformed" no_malformed
lab_queue_stats | sed 's/^/    queue: /'

lab_summary
