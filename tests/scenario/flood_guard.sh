#!/usr/bin/env bash
# The flood guard, end to end (muzzled.yaml flood_guard: 50 new flows a second per device, burst
# 100): cam1 sends 5000 new UDP flows at once. The kernel drops what is past cam1's bucket before
# muzzled's queue, and counts it under cam1's MAC in @flood-dropped; what the queue received and
# what the guard dropped add up to the 5000, exactly. muzzled reads the count within its read
# period and says so: event=flood-guard naming cam1 and the number, `muzzlectl status` (table and
# --json) and the counters line. Meanwhile cam2, with a bucket of its own, opens its flows as
# usual; a flow of a connection already judged is never held to the guard; and cam1 itself
# opens a flow again once its bucket refilled. Then what a device sends muzzled packet by
# packet spends the same bucket: cam3's DHCP requests, the speaker's DNS queries on one TCP
# connection.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

export LAB_FLOOD_GUARD='{new_flows_per_second: 50, burst: 100}'
scenario_lab_up
lab_start_muzzled
cam1_mac="${LAB_MAC[cam1]}"

echo "== the table holds the guard, muzzled's status says it is on"
rule="$(lab_exec gw nft list chain inet muzzle judge | grep 'flood-guard' || true)"
echo "    $rule"
lab_check "judge holds the guard's rule at 50/second, burst 100" \
  grep -q 'ct state new update @flood-guard { ether saddr limit rate over 50/second burst 100 packets } update @flood-dropped { ether saddr counter } counter.* drop' <<<"$rule"
status="$(ctl --json status || true)"
lab_check "status --json: the guard on at 50 a second, burst 100, nothing dropped yet" \
  test "$(json_field new_flows_per_second "$status")$(json_field burst "$status")" = 50100
lab_table_header
lab_expect allowed cam1 nvr tcp 554

echo "== cam1 sends 5000 new UDP flows at once"
# A TCP connection of cam1 that is open and judged before the flood: its packets during the
# flood belong to no new connection, and the guard never holds them.
lab_hold_start cam1 "$(lab_addr nvr)" 554
queued_before="$(lab_queue_seq 100)"
burst="$(lab_exec cam1 "$LABNET" burst "$(lab_addr cloud1)" 40000 --flows 5000 </dev/null || true)"
echo "    labnet: $burst"
lab_check "the burst was sent" grep -q 'result=sent flows=5000' <<<"$burst"
# cam2 right after, with its own bucket: as usual.
lab_table_header
lab_expect allowed cam2 nvr tcp 554
lab_check "cam1's judged connection went on through the flood (echoes kept coming)" \
  lab_hold_wait_echoes $(($(lab_hold_echoes) + 3)) 5
sleep 0.5
queued=$(($(lab_queue_seq 100) - queued_before))
dropped="$(device_drops flood-dropped "$cam1_mac")"
echo "    queued to muzzled: $queued, dropped by the guard: $dropped (cam2's flow: 1 more queued)"
lab_check "the guard dropped most of the burst (>= 4000 of 5000)" test "$dropped" -ge 4000
lab_check "the bucket's burst reached muzzled (>= 100 queued)" test "$queued" -ge 100
lab_check "queued and dropped add up to the burst and cam2's one flow, exactly" \
  test $((queued + dropped)) = 5001

echo "== muzzled reads the count and names the device"
lab_check "event=flood-guard names cam1 and the number dropped" \
  wait_log "event=flood-guard .*device=$cam1_mac .*dropped=$dropped .*rate=50 burst=100" 10
guard_json="$(flood_guard_status dropped "$dropped")"
echo "$guard_json" | sed 's/^/    /'
lab_check "status --json: flood_guard.dropped is the kernel's count, one device" \
  test "$(json_field dropped "$guard_json"):$(json_field devices "$guard_json")" = "$dropped:1"
table="$(ctl status | grep '^flood guard' || true)"
echo "    $table"
lab_check "the status table's flood guard row says it" \
  grep -q "50 new flows a second per device (burst 100), $dropped dropped, 1 device past it" <<<"$table"
kill -USR1 "$LAB_MUZZLED_PID"
lab_check "the counters line carries the sum" wait_log "event=counters .*flood_guard_dropped=$dropped" 3

echo "== cam1's bucket refills: it opens a flow again"
sleep 1
lab_table_header
lab_expect allowed cam1 nvr tcp 554

echo "== what a device sends muzzled packet by packet spends its bucket too"
# cam3 broadcasts 500 DHCP requests at once: each reaches muzzled's inspection queue, which every
# device's DNS answers pass, whatever its conntrack state. Past cam3's bucket they are dropped.
cam3_mac="${LAB_MAC[cam3]}"
queued_before="$(lab_queue_seq 101)"
lab_exec cam3 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
s.bind(("0.0.0.0", 68))
for i in range(500):
    s.sendto(b"\x01" * 240, ("255.255.255.255", 67))
' </dev/null || true
sleep 0.5
dhcp_dropped="$(device_drops flood-dropped "$cam3_mac")"
queued=$(($(lab_queue_seq 101) - queued_before))
# The bridge's copies to the other ports meet the guard in `judge` too: more drops than requests.
echo "    cam3's DHCP requests: $queued queued to muzzled, $dhcp_dropped packets dropped by the guard"
lab_check "the guard dropped cam3's requests past its bucket (>= 300)" test "$dhcp_dropped" -ge 300
lab_check "the inspection queue got cam3's burst, not its 500 requests (< 200)" test "$queued" -lt 200
# The speaker asks 300 names from one UDP socket, as fast as it can: one flow, whose first
# packet met the guard in `judge`; every later query on it meets the guard in `inspected` (a TCP
# connection's queries do too: tests/unit/fw/nft/established_path_test.cc).
speaker_mac="${LAB_MAC[speaker]}"
queued_before="$(lab_queue_seq 101)"
lab_exec speaker python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((sys.argv[1], 53))
for i in range(300):
    s.send(struct.pack("!HHHHHH", i, 0x0100, 1, 0, 0, 0) + b"\x05probe\x03lab\x07example\x00" + struct.pack("!HH", 1, 1))
' "$(lab_addr gw)" </dev/null || true
sleep 0.5
dns_dropped="$(device_drops flood-dropped "$speaker_mac")"
queued=$(($(lab_queue_seq 101) - queued_before))
echo "    the speaker's queries on one flow: $dns_dropped dropped by the guard, $queued packets queued to 101 (answers included)"
lab_check "the guard held the speaker's queries on one flow (>= 100 of 300 dropped)" \
  test "$dns_dropped" -ge 100

lab_stop_muzzled
lab_summary
