#!/usr/bin/env bash
# The connection limit, end to end (muzzled.yaml flood_guard.connections: 20): cam1 opens 25 TCP
# connections to the NVR, which its policy allows, and keeps them open. The first 20 connect;
# the next 5 are allowed by muzzled and dropped by the kernel before the verdict is saved,
# counted under cam1's MAC in @conn-limit-dropped, one SYN each. Meanwhile cam2, with a count of
# its own, connects as usual, and cam1's held connections go on. muzzled reads
# the count and says so: event=connection-limit naming cam1 and the number, `muzzlectl status`
# (table and --json) and the counters line. When cam1 closes some of its connections, it
# connects again.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

export LAB_FLOOD_GUARD='{connections: 20}'
scenario_lab_up
lab_start_muzzled
cam1_mac="${LAB_MAC[cam1]}"

echo "== the table holds the limit, muzzled's status says it is on"
rule="$(lab_exec gw nft list chain inet muzzle save-allowed | grep 'conn-limit' || true)"
echo "    $rule"
lab_check "save-allowed holds the limit's rule at 20 connections" \
  grep -q 'ct state new iifname @segments add @conn-limit { ether saddr ct count over 20 } update @conn-limit-dropped { ether saddr counter } counter.* drop' <<<"$rule"
status="$(ctl --json status || true)"
lab_check "status --json: the limit on at 20, the guard at its default" \
  test "$(json_field connections "$status"):$(json_field new_flows_per_second "$status")" = 20:500

echo "== cam1 opens 25 connections to the NVR and keeps them"
# One SYN a connection (a timeout under the first retransmission's second), so that what the
# limit drops is one packet a refused connection. The connections stay open until the file
# `close` appears: then the last 10 echo a line, and the first 10 are closed; the rest stay
# until `stop`.
opened="$LAB_STATE/limit-opened"
lab_exec cam1 python3 -c '
import os, socket, sys, time
host, port, state = sys.argv[1], int(sys.argv[2]), sys.argv[3]
held, results = [], []
for i in range(25):
    s = socket.socket()
    s.settimeout(0.5)
    try:
        s.connect((host, port))
        held.append(s)
        results.append("c")
    except OSError:
        s.close()
        results.append("x")
with open(state + "-opened", "w") as f:
    f.write("".join(results) + "\n")
while not os.path.exists(state + "-close"):
    time.sleep(0.05)
echoed = 0
for s in held[10:]:
    try:
        s.sendall(b"still here\n")
        if s.recv(64).startswith(b"still here"):
            echoed += 1
    except OSError:
        pass
for s in held[:10]:
    s.close()
with open(state + "-closed", "w") as f:
    f.write("echoed=%d\n" % echoed)
while not os.path.exists(state + "-stop"):
    time.sleep(0.05)
' "$(lab_addr nvr)" 554 "$LAB_STATE/limit" </dev/null >>"$LAB_STATE/limit.log" 2>&1 &
_lab_remember_pid $!
lab_wait_file "$opened" 30 || {
  lab_log "the connections were not opened:"
  cat "$LAB_STATE/limit.log" >&2
  exit 1
}
results="$(cat "$opened")"
echo "    connected (c) or not (x), in order: $results"
lab_check "the first 20 connected and the last 5 did not" \
  test "$results" = "ccccccccccccccccccccxxxxx"
dropped="$(device_drops conn-limit-dropped "$cam1_mac")"
echo "    dropped by the limit: $dropped"
lab_check "the limit dropped the 5 SYNs, exactly" test "$dropped" = 5
# cam2 has a count of its own. cam1's DNS queries are connections too (each holds an entry for
# half a minute), so they wait with the rest: a device at its limit cannot hold the table by
# asking names either.
lab_table_header
lab_expect allowed cam2 nvr tcp 554
lab_expect blocked cam1 nvr tcp 554
lab_expect blocked cam1 gw udp 53
lab_expect allowed cam2 gw udp 53

echo "== muzzled reads the count and names the device"
dropped="$(device_drops conn-limit-dropped "$cam1_mac")"
lab_check "event=connection-limit names cam1 and the number dropped" \
  wait_log "event=connection-limit .*device=$cam1_mac .*limit=20" 10
guard_json="$(flood_guard_status connection_dropped "$dropped")"
echo "$guard_json" | sed 's/^/    /'
lab_check "status --json: connection_dropped is the kernel's count ($dropped), one device" \
  test "$(json_field connection_dropped "$guard_json"):$(json_field connection_devices "$guard_json")" = "$dropped:1"
table="$(ctl status | grep '^connection limit' || true)"
echo "    $table"
lab_check "the status table's connection limit row says it" \
  grep -q "20 per device, $dropped new flows dropped, 1 device at it" <<<"$table"
kill -USR1 "$LAB_MUZZLED_PID"
lab_check "the counters line carries the sum" \
  wait_log "event=counters .*connection_limit_dropped=$dropped" 3

echo "== cam1 closes 10 of its connections: it connects again"
touch "$LAB_STATE/limit-close"
lab_wait_file "$LAB_STATE/limit-closed" 10 || true
lab_check "the 10 connections cam1 keeps still echo, at its limit" \
  grep -qx 'echoed=10' "$LAB_STATE/limit-closed"
# The kernel forgets closed connections a few at a time, each time the device opens one: the
# first tries may still be dropped.
connected=0
for _ in $(seq 20); do
  line="$(lab_flow cam1 tcp "$(lab_addr nvr)" 554 --timeout-ms 500)" || true
  if grep -q 'result=connected' <<<"$line"; then
    connected=1
    break
  fi
  sleep 0.2
done
lab_check "cam1 connects again once it holds fewer than 20" test "$connected" = 1
touch "$LAB_STATE/limit-stop"

lab_stop_muzzled
lab_summary
