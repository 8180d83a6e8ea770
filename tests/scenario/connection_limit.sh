#!/usr/bin/env bash
# The connection limit, end to end (muzzled.yaml flood_guard.connections: 20): cam1 opens 25 TCP
# connections to the NVR, which its policy allows, and keeps them open. The first 20 connect;
# the next 5 are allowed by the policy and dropped for the limit, one SYN each. Meanwhile cam2,
# with a count of its own, connects as usual, and cam1's held connections go on. muzzled says so:
# event=connection-limit naming cam1 and the number, `muzzlectl status` (table and --json) and the
# counters line. When cam1 closes some of its connections, it connects again.
#
# Two ways to count, one scenario (COUNTED_BY):
# - muzzled (the default, with accounting; read every 30 s here, the longest interval muzzled
#   counts at): each allowed new connection counts for its device, and each accounting read
#   counts them anew from conntrack (fw/device/connection_counts.h); a refusal has the table read
#   at once (at most once a second), which is what lets cam1 in again within seconds here; the
#   table holds no rule for it, `muzzlectl devices` shows what each device holds;
# - kernel (connection_limit_kernel.sh: a box without accounting): conntrack's count in
#   @conn-limit, the drops counted per device in @conn-limit-dropped, read by muzzled.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

COUNTED_BY="${COUNTED_BY:-muzzled}"
export LAB_FLOOD_GUARD='{connections: 20}'
if [[ "$COUNTED_BY" == kernel ]]; then
  export LAB_CONFIG_EXTRA='devices: {accounting_interval_seconds: 0}'
else
  export LAB_CONFIG_EXTRA='devices: {accounting_interval_seconds: 30}'
fi
scenario_lab_up
lab_start_muzzled
cam1_mac="${LAB_MAC[cam1]}"

# What the limit dropped for cam1 so far: the kernel's count of it, or muzzled's (its status,
# which muzzled brings up to date every 2 s: read after one such period).
limit_drops() {
  if [[ "$COUNTED_BY" == kernel ]]; then
    device_drops conn-limit-dropped "$cam1_mac"
  else
    sleep 2.5
    json_field connection_dropped "$(ctl --json status | sed -n '/"flood_guard"/,/}/p')"
  fi
}

echo "== the table and muzzled's status say who counts ($COUNTED_BY)"
save_allowed="$(lab_exec gw nft list chain inet muzzle save-allowed)"
ask="$(lab_exec gw nft list chain inet muzzle ask)"
rule="$(grep 'conn-limit' <<<"$save_allowed" || true)"
echo "    ${rule:-(no conn-limit rule in save-allowed)}"
if [[ "$COUNTED_BY" == kernel ]]; then
  lab_check "save-allowed holds the limit's rule at 20 connections" \
    grep -q 'ct state new iifname @segments add @conn-limit { ether saddr ct count over 20 } update @conn-limit-dropped { ether saddr counter } counter.* drop' <<<"$rule"
  lab_check "ask marks no first packet" test -z "$(grep 'ct state new' <<<"$ask" || true)"
else
  lab_check "save-allowed holds no limit rule: muzzled counts" test -z "$rule"
  lab_check "ask labels and marks a connection's first packet for muzzled's count" \
    grep -q 'ct state new ct label set ether saddr meta mark set 0x00000020' <<<"$ask"
fi
status="$(ctl --json status || true)"
by="$(sed -n 's/.*"connections_counted_by": *"\([a-z]*\)".*/\1/p' <<<"$status")"
lab_check "status --json: the limit on at 20, counted by $COUNTED_BY, the guard at its default" \
  test "$(json_field connections "$status"):$by:$(json_field new_flows_per_second "$status")" = "20:$COUNTED_BY:500"
lab_check "the log says who counts, and why" \
  grep -q "event=connection-count by=$COUNTED_BY why=" "$LAB_STATE/muzzled.log"

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
dropped="$(limit_drops)"
echo "    dropped by the limit: $dropped"
lab_check "the limit dropped the 5 SYNs, exactly" test "$dropped" = 5
if [[ "$COUNTED_BY" == muzzled ]]; then
  # The refusals had the table read at once, long before the 30-s interval's first read.
  reads="$(json_field reads "$(ctl --json status | sed -n '/"accounting"/,/}/p')")"
  echo "    accounting reads since the start (a 30-s interval): ${reads:-0}"
  lab_check "the refusals had conntrack read at once" test "${reads:-0}" -ge 1
  # Each accounting read counts anew from conntrack: cam1 holds its 20, whatever it tried.
  held=""
  for _ in $(seq 50); do
    held="$(ctl --json devices "$cam1_mac" | sed -n 's/.*"connections": *\([0-9]*\).*/\1/p' | head -n1)"
    [[ "$held" == 20 ]] && break
    sleep 0.1
  done
  lab_check "muzzlectl devices: cam1 holds 20 connections (read back from conntrack)" \
    test "$held" = 20
fi
# cam2 has a count of its own. cam1's DNS queries are connections too (each holds an entry for
# half a minute), so they wait with the rest: a device at its limit cannot hold the table by
# asking names either.
lab_table_header
lab_expect allowed cam2 nvr tcp 554
lab_expect blocked cam1 nvr tcp 554
lab_expect blocked cam1 gw udp 53
lab_expect allowed cam2 gw udp 53

echo "== muzzled reads the count and names the device"
dropped="$(limit_drops)"
lab_check "event=connection-limit names cam1 and the number dropped" \
  wait_log "event=connection-limit .*device=$cam1_mac .*limit=20" 10
guard_json="$(flood_guard_status connection_dropped "$dropped")"
echo "$guard_json" | sed 's/^/    /'
lab_check "status --json: connection_dropped is the limit's count ($dropped), one device" \
  test "$(json_field connection_dropped "$guard_json"):$(json_field connection_devices "$guard_json")" = "$dropped:1"
table="$(ctl status | grep '^connection limit' || true)"
echo "    $table"
lab_check "the status table's connection limit row says it" \
  grep -q "20 per device, $dropped new flows dropped, 1 device at it.*counted by $COUNTED_BY" <<<"$table"
kill -USR1 "$LAB_MUZZLED_PID"
lab_check "the counters line carries the sum" \
  wait_log "event=counters .*connection_limit_dropped=$dropped" 3

echo "== cam1 closes 10 of its connections: it connects again"
touch "$LAB_STATE/limit-close"
lab_wait_file "$LAB_STATE/limit-closed" 10 || true
lab_check "the 10 connections cam1 keeps still echo, at its limit" \
  grep -qx 'echoed=10' "$LAB_STATE/limit-closed"
# The kernel forgets closed connections a few at a time, each time the device opens one;
# muzzled's count learns of them when a refusal has the table read (within a second): the first
# tries may still be dropped. Ten tries, ~7 s: well inside muzzled's 30-s interval.
connected=0
for _ in $(seq 10); do
  line="$(lab_flow cam1 tcp "$(lab_addr nvr)" 554 --timeout-ms 500)" || true
  if grep -q 'result=connected' <<<"$line"; then
    connected=1
    break
  fi
  sleep 0.2
done
lab_check "cam1 connects again once it holds fewer than 20" test "$connected" = 1

if [[ "$COUNTED_BY" == muzzled ]]; then
  echo "== cam1 opens connections from 40 more addresses of its own: still held to 20"
  # A device may change its source address at will, past the 16 its address bindings keep: the
  # recount finds each connection's device by the MAC address the table put in its label, never
  # by the owner of its source address, which the first 24 of these no longer have.
  for i in $(seq 150 189); do lab_exec cam1 ip addr add "198.18.10.$i/24" dev eth0; done
  lab_exec cam1 python3 -c '
import os, socket, sys, time
host, state = sys.argv[1], sys.argv[2]
held, results = [], []
for i in range(150, 190):
    s = socket.socket()
    s.settimeout(0.5)
    s.bind(("198.18.10.%d" % i, 0))
    try:
        s.connect((host, 554))
        held.append(s)
        results.append("c")
    except OSError:
        s.close()
        results.append("x")
with open(state + "-rotated", "w") as f:
    f.write("".join(results) + "\n")
while not os.path.exists(state + "-stop"):
    time.sleep(0.05)
' "$(lab_addr nvr)" "$LAB_STATE/limit" </dev/null >>"$LAB_STATE/limit.log" 2>&1 &
  _lab_remember_pid $!
  lab_wait_file "$LAB_STATE/limit-rotated" 60 || true
  rotated="$(cat "$LAB_STATE/limit-rotated" 2>/dev/null || true)"
  echo "    connected (c) or not (x), from each new address in turn: $rotated"
  sleep 2.5  # a refusal's recount, and then another
  # cam1's addresses: 198.18.10.11 and .150-.189 (.12 and .13 are cam2's and cam3's).
  established="$(lab_exec gw conntrack -L -p tcp --state ESTABLISHED --dport 554 2>/dev/null |
    grep -c '^tcp .* src=198\.18\.10\.1[15-8]' || true)"
  echo "    cam1's established connections to the NVR in conntrack: $established"
  lab_check "cam1 holds 20 connections, from however many addresses" test "$established" = 20
  lab_check "most of the 40 were refused" test "$(tr -cd x <<<"$rotated" | wc -c)" -ge 29
fi
touch "$LAB_STATE/limit-stop"

lab_stop_muzzled
lab_summary
