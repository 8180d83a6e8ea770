#!/usr/bin/env bash
# The segment guard, end to end (muzzled.yaml flood_guard: 50 new flows a second per segment,
# burst 100; the per-device guard at its default, 500 a second per device): a device on the camera
# segment forges a new source MAC address for every new flow, 1,000 a second for 4 seconds. Each
# forged address gets a fresh per-device bucket, which the flood never empties: the per-device
# guard drops nothing. The segment's bucket holds it: muzzled's queue takes about
# burst + rate x seconds of the flood, and the kernel drops the rest, counted under br-cam in
# @segment-dropped. Meanwhile the NVR (its own LAN) and the internet (the uplink) still open new
# flows to the cameras, judged as usual: the flood costs its own segment's new flows alone.
# muzzled names the segment within its read period: event=segment-guard segment=cameras, whose
# sum is the kernel's count, and so are `muzzlectl status` (table and --json) and the counters
# line. Once the flood ends, the segment's bucket refills and its devices open flows again.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

rate=50
burst=100
export LAB_FLOOD_GUARD="{segment_new_flows_per_second: $rate, segment_burst: $burst}"
scenario_lab_up
lab_start_muzzled

echo "== the table holds the segment guard behind the device's, muzzled's status says it is on"
judge="$(lab_exec gw nft list chain inet muzzle judge)"
device_rule="$(grep -n 'update @flood-guard' <<<"$judge" | cut -d: -f1 || true)"
segment_rule="$(grep -n 'update @segment-guard' <<<"$judge" | cut -d: -f1 || true)"
grep 'segment-guard' <<<"$judge" | sed 's/^ */    /' || true
lab_check "judge holds the segment guard's rule at 50/second, burst 100" \
  grep -q "ct state new update @segment-guard { iifname limit rate over $rate/second burst $burst packets } update @segment-dropped { iifname counter } counter.* drop" <<<"$judge"
lab_check "right behind the device's rule" test "${segment_rule:-none}" = "$((device_rule + 1))"
status="$(ctl --json status || true)"
lab_check "status --json: the segment guard on at 50 a second, burst 100" \
  test "$(json_field segment_new_flows_per_second "$status"):$(json_field segment_burst "$status")" = "$rate:$burst"
lab_table_header
lab_expect allowed cam1 nvr tcp 554
lab_expect allowed nvr cam1 tcp 554
# The buckets the checks above spent are full again before the flood.
sleep $((burst / rate + 1))

echo "== cam2 forges a new source MAC address for each of 4000 new UDP flows, 1000 a second"
# From cam2's port, by AF_PACKET: every frame a new source MAC (02:5f:..., no device's) and a new
# source port, from the segment's unused addresses, to cloud1, routed by the gateway.
gw_mac="$(lab_exec gw cat /sys/class/net/br-cam/address)"
queued_before="$(lab_queue_seq 100)"
flood_out="$LAB_STATE/flood.out"
lab_exec cam2 python3 - "$gw_mac" "$(lab_addr cloud1)" 4000 4 >"$flood_out" 2>&1 </dev/null <<'PY' &
import socket, struct, sys, time

dst_mac = bytes.fromhex(sys.argv[1].replace(":", ""))
daddr = socket.inet_aton(sys.argv[2])
count, seconds = int(sys.argv[3]), float(sys.argv[4])

def checksum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
start = time.monotonic()
for i in range(count):
    due = start + i * seconds / count
    now = time.monotonic()
    if due > now:
        time.sleep(due - now)
    src_mac = bytes([0x02, 0x5F, 0x00, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF])
    saddr = socket.inet_aton("198.18.10.%d" % (100 + i % 100))
    udp = struct.pack("!HHHH", 20000 + i, 40000, 8 + 4, 0) + b"seg!"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0, saddr, daddr)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    s.send(dst_mac + src_mac + b"\x08\x00" + ip + udp)
print("result=sent frames=%d seconds=%.3f" % (count, time.monotonic() - start))
PY
# Not handed to the lab's pid list (which disowns): this shell waits for it below, and the lab's
# teardown kills whatever still runs in its namespaces.
flood_pid=$!

# Meanwhile, new flows to the cameras from the other sides: the NVR's LAN and the internet.
sleep 1.5
lab_table_header
lab_expect allowed nvr cam1 tcp 554
lab_expect refused inet cam1 tcp 80
others=2  # their first packets, queued to muzzled during the flood
wait "$flood_pid" || true
flood="$(cat "$flood_out")"
echo "    forger: $flood"
lab_check "the flood was sent" grep -q 'result=sent frames=4000' <<<"$flood"
seconds="$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' <<<"$flood")"
sleep 0.5
queued=$(($(lab_queue_seq 100) - queued_before))
dropped="$(device_drops segment-dropped '"br-cam"')"
device_dropped="$(device_drops flood-dropped '02:5f:00:[0-9a-f:]*')"
# What the segment's bucket lets by in that time: its burst, and its rate over the flood.
expected="$(awk -v r="$rate" -v b="$burst" -v s="$seconds" 'BEGIN { printf "%d", b + r * s }')"
echo "    in $seconds s: $queued queued to muzzled (the flood's and $others more), $dropped dropped by the segment guard; burst + rate x seconds = $expected"
lab_check "the per-device guard dropped none of it: every forged address has a fresh bucket" \
  test "$device_dropped" = 0
lab_check "the segment guard dropped most of the flood (>= 3000 of 4000)" test "$dropped" -ge 3000
lab_check "the queue took about burst + rate x seconds of it ($expected, within 10 % and 10)" \
  test "$((queued - others))" -ge "$((expected * 9 / 10 - 10))" -a "$((queued - others))" -le "$((expected * 11 / 10 + 10))"
lab_check "queued and dropped add up to the flood and the other sides' flows, exactly" \
  test "$((queued + dropped))" = "$((4000 + others))"
lab_check "no other interface's bucket ran dry (the uplink's, the NVR LAN's)" \
  test "$(lab_exec gw nft list set inet muzzle segment-dropped | grep -c 'uplink0\|lan-nvr' || true)" = 0

echo "== muzzled reads the count and names the segment"
guard_json="$(flood_guard_status segment_dropped "$dropped")"
echo "$guard_json" | sed 's/^/    /'
lab_check "status --json: segment_dropped is the kernel's count, one segment past it" \
  test "$(json_field segment_dropped "$guard_json"):$(json_field segments "$guard_json")" = "$dropped:1"
lines="$(grep 'event=segment-guard' "$LAB_STATE/muzzled.log" || true)"
sed 's/^/    /' <<<"$lines"
lab_check "event=segment-guard lines name the camera segment and its interface" \
  grep -q "event=segment-guard segment=cameras interface=br-cam dropped=[0-9]* rate=$rate burst=$burst" <<<"$lines"
lab_check "their drops add up to the kernel's count" \
  test "$(sed -n 's/.* dropped=\([0-9]*\).*/\1/p' <<<"$lines" | awk '{ n += $1 } END { print n + 0 }')" = "$dropped"
lab_check "no line names another segment" test -z "$(grep -v 'segment=cameras' <<<"$lines" | grep . || true)"
table="$(ctl status | grep '^segment guard' || true)"
echo "    $table"
lab_check "the status table's segment guard row says it, and why" \
  grep -q "$rate new flows a second per segment (burst $burst), $dropped dropped (cameras (br-cam) $dropped), 1 segment past it in the last 2 min: a device there forging source addresses" <<<"$table"
kill -USR1 "$LAB_MUZZLED_PID"
lab_check "the counters line carries the sum" wait_log "event=counters .*segment_guard_dropped=$dropped( |$)" 3

echo "== the flood over, the segment's bucket refills: its devices open flows again"
sleep $((burst / rate + 1))
lab_table_header
lab_expect allowed cam1 nvr tcp 554
lab_expect allowed cam3 nvr tcp 554

lab_stop_muzzled
lab_summary
