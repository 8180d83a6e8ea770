#!/usr/bin/env bash
# New-device admission, end to end (muzzled.yaml devices: {new_per_minute: 6, new_burst: 5}): a
# device on the camera segment forges a new source MAC (and IPv4 address) for each of 40 UDP
# flows, from Hikvision's prefix, which the policy classifies as a camera allowed to its "cloud"
# (203.0.113.0/24, udp/9000). The segment's bucket admits its burst: those flows pass, each
# forged MAC a device (event=new-device, a record); the rest are dropped before any conntrack
# entry, recorded nowhere, and counted on the segment. muzzled says so: one event=device-flood
# line per segment every few seconds (its refusals add up to the count), `muzzlectl status`
# (table and --json), the counters line and the metrics. Meanwhile the policy-named camera, and
# a device known before the flood, keep working, also while a second flood runs; the inventory
# (`muzzlectl devices`) holds only the admitted forged MACs.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

BENCH_TRAFFIC="$BUILD/tests/bench/bench_traffic"
export LAB_CONFIG_EXTRA='devices: {new_per_minute: 6, new_burst: 5}'
scenario_lab_up
# Every lab device on the segment is named but the vacuum, so no device's own chatter spends
# the bucket before the flood; the vacuum (known before it) shows a known device is never held.
cat >"$LAB_STATE/policy.yaml" <<'POLICY'
version: 1
defaults: {profile: quarantine}
addresses:
  nvr: [198.18.1.10]
  cloud: [203.0.113.0/24]
profiles:
  camera:
    egress:
      - {allow: [nvr], proto: tcp, ports: [554]}
      - {allow: [cloud], proto: udp, ports: [9000]}
  quarantine:
    egress:
      - {allow: [gateway], proto: udp, ports: [53]}
devices:
  - {name: lobby-cam, mac: "44:47:cc:00:00:11", profile: camera}
  - {name: cam2, mac: "44:47:cc:00:00:12", profile: camera}
  - {name: cam3, mac: "44:47:cc:00:00:13", profile: camera}
  - {name: gadget, mac: "02:5a:00:00:00:99", profile: quarantine}
  - {name: speaker, mac: "68:54:fd:00:00:31", profile: quarantine}
classify:
  - {vendor: "Hangzhou Hikvision Digital Technology Co.,Ltd.", profile: camera}
POLICY
lab_start_muzzled
# Every address of the "cloud" is a host there, so each forged flow has a sink.
lab_exec inet ip route add local 203.0.113.0/24 dev lo
gw_mac="$(lab_exec gw cat /sys/class/net/br-cam/address)"

# forge FIRST_MAC FIRST_IP N [bench_traffic options]: N UDP flows from the `unknown` node's
# interface, flow i from FIRST_MAC + i and FIRST_IP + i (raw frames), to the cloud's udp/9000.
# Prints bench_traffic's JSON (sent, received, lost: the flows that reached the cloud).
forge() {
  local mac="$1" ip="$2" n="$3"
  shift 3
  "$BENCH_TRAFFIC" udp --from "$(lab_ns unknown)" --to "$(lab_ns inet)" --ifname eth0 \
    --dst-mac "$gw_mac" --src-mac "$mac" --src-ip "$ip" --devices "$n" --flows "$n" \
    --dst-net 203.0.113.0 --port 9000 --seconds 3 "$@" </dev/null
}
# bench_field NAME JSON: a number of bench_traffic's one-line JSON.
bench_field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<<"$2"; }
admission() { ctl --json status | sed -n '/"device_admission"/,/}/p' || true; }
forged_devices() { grep -c '44:47:cc:77:' <<<"$(ctl devices)" || true; }
forged_new_device_lines() { log_count 'event=new-device mac=44:47:cc:77:'; }
# The refusals the event=device-flood lines add up to.
flood_line_sum() {
  grep -o 'event=device-flood segment=cameras refused=[0-9]*' "$LAB_STATE/muzzled.log" |
    awk -F= '{ s += $NF } END { print s + 0 }'
}
sum_is() { [[ "$(flood_line_sum)" == "$1" ]]; }

echo "== before: the segment's whole burst, the vacuum known"
lab_table_header
lab_expect rejected vacuum nvr tcp 554 # quarantined by default, and now in the inventory
before="$(admission)"
echo "$before" | sed 's/^/    /'
lab_check "status --json: 6 a minute after 5 at once" \
  test "$(json_field new_per_minute "$before"):$(json_field new_burst "$before")" = 6:5
tokens="$(json_field tokens "$before")"
lab_check "the bucket holds 4 or 5 (the vacuum took one)" test "$tokens" -ge 4

echo "== a device forges 40 source MACs, one flow each"
flood="$(forge 44:47:cc:77:00:01 198.18.10.150 40)"
echo "    bench_traffic: $flood"
received="$(bench_field received "$flood")"
lab_check "all 40 were sent" test "$(bench_field sent "$flood")" = 40
# A token refills every 10 s: the flood takes well under that.
lab_check "the burst's flows reached the cloud ($received of 40; the bucket held $tokens)" \
  test "$received" -ge "$tokens" -a "$received" -le $((tokens + 1))
admitted="$received"
refused=$((40 - admitted))
lab_check "as many new-device events for the forged MACs as flows passed ($admitted)" \
  wait_until 5 test "$(forged_new_device_lines)" = "$admitted"
lab_check "the inventory holds the admitted forged MACs only ($admitted of 40)" \
  test "$(forged_devices)" = "$admitted"
after="$(admission)"
echo "$after" | sed 's/^/    /'
lab_check "status --json: $refused refused" test "$(json_field refused "$after")" = "$refused"

echo "== muzzled reports the refusals, once every few seconds, and they add up"
lab_check "an event=device-flood line names the segment and the rate" \
  wait_log "event=device-flood segment=cameras refused=[0-9]+ new_devices_per_minute=6 burst=5" 5
lab_check "the device-flood lines add up to the status's $refused" wait_until 10 sum_is "$refused"
echo "    $(grep 'event=device-flood' "$LAB_STATE/muzzled.log" | sed 's/^.*event=/event=/' | head -n3)"
lab_check "the status table's row says it" \
  grep -q "^new devices .*6 a minute per segment after 5 at once, $refused refused (cameras: $refused refused" \
  <<<"$(ctl status)"
kill -USR1 "$LAB_MUZZLED_PID"
lab_check "the counters line carries the count" wait_log "event=counters .*devices_refused=$refused " 5

echo "== named and known devices are never held, also while a flood runs"
tokens2="$(json_field tokens "$(admission)")"
# 50 more forged MACs, 10 a second, for 5 s (addresses no lab device has).
forge 44:47:cc:77:01:01 198.18.10.200 50 --rate 10 --seconds 6 >"$LAB_STATE/flood2.json" \
  2>"$LAB_STATE/flood2.err" &
flood2=$!
_lab_remember_pid "$flood2"
sleep 1
lab_table_header
lab_expect allowed cam1 nvr tcp 554 # named in the policy, first seen during the flood
lab_expect allowed cam2 nvr tcp 554
lab_expect rejected vacuum nvr tcp 554 # known: judged by its profile, not dropped as new
lab_expect allowed cam1 nvr tcp 554
# (Disowned, so the teardown can kill it: waited for by its output.)
lab_check "the second flood ended" wait_until 20 test -s "$LAB_STATE/flood2.json"
echo "    second flood: $(cat "$LAB_STATE/flood2.json" "$LAB_STATE/flood2.err")"
received2="$(bench_field received "$(cat "$LAB_STATE/flood2.json")")"
lab_check "the second flood got only the tokens that refilled through ($received2 of 50; $tokens2 before)" \
  test "$received2" -le $((tokens2 + 1))
total_admitted=$((admitted + received2))
total_refused=$((90 - total_admitted))
lab_check "the inventory holds $total_admitted forged MACs" \
  test "$(forged_devices)" = "$total_admitted"
final="$(admission)"
lab_check "status --json: $total_refused refused in all" \
  test "$(json_field refused "$final")" = "$total_refused"
lab_check "the device-flood lines add up to it again" wait_until 10 sum_is "$total_refused"

lab_stop_muzzled
lab_summary
