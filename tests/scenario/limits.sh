#!/usr/bin/env bash
# Volume limits, end to end: a camera allowed to reach its vendor cloud starts uploading 30 MB a
# minute (labnet hold: 10,000-byte exchanges every 20 ms) through the allowed path. The kernel
# counts its traffic per traffic class (the vendor-cloud group here), muzzled reads the counts
# every accounting interval (2 s), and:
#   cam1 (profile `camera`, limit upload 2MB per 10m, action block): event=volume-exceeded
#     within one interval of passing the limit (the observed amount says so), the open upload is
#     cut on its next packet, a new flow to the cloud is refused (reason volume-limit), while its
#     other traffic (the time server: class internet) still passes; an admin's release lets the
#     cloud in again;
#   cam2 (profile `camera-watch`, the same limit, action alert): the event, and the upload goes on.
# `muzzlectl device` shows the traffic split by class.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

trap lab_down EXIT
scenario_lab_up
cat >"$LAB_STATE/policy.yaml" <<'POLICY'
version: 1
defaults:
  profile: quarantine
addresses:
  vendor-cloud: [203.0.113.10, "2001:db8:cafe::10"]
  time: [198.51.100.2]
profiles:
  quarantine:
    preset: quarantine
  camera:
    egress:
      - {allow: [vendor-cloud], proto: tcp, ports: [443]}
      - {allow: [internet], proto: udp, ports: [123]}
    limits:
      - {to: vendor-cloud, upload: 2MB, per: 10m, action: block}
  camera-watch:
    egress:
      - {allow: [vendor-cloud], proto: tcp, ports: [443]}
    limits:
      - {to: vendor-cloud, upload: 2MB, per: 10m, action: alert}
devices:
  - {name: lobby-cam, mac: "44:47:cc:00:00:11", profile: camera}
  - {name: garage-cam, mac: "44:47:cc:00:00:12", profile: camera-watch}
POLICY
LAB_CONFIG_EXTRA='devices: {accounting_interval_seconds: 2}'
export LAB_CONFIG_EXTRA
lab_start_muzzled

cloud="$(lab_addr cloud1 4)"
limit=2000000
# One interval's upload at 500 kB/s is 1 MB: an alarm within one interval has seen at most the
# limit plus that (and a little for the read's own timing).
within_interval=$((limit + 1500000))
# observed MAC: the observed= of MAC's volume-exceeded event.
observed() { grep -m1 "event=volume-exceeded device=$1" "$LAB_STATE/muzzled.log" | sed -n 's/.* observed=\([0-9]*\).*/\1/p'; }
exceeded() { grep -q "event=volume-exceeded device=$1 .*action=$2" "$LAB_STATE/muzzled.log"; }

echo "== cam1 (block): uploads 500 kB/s to its allowed vendor cloud"
lab_check "cam1's upload to the cloud runs" lab_hold_start cam1 "$cloud" 443 --size 10000 \
  --interval-ms 20 --max-ms 60000 --echo-timeout-ms 1500
lab_check "event=volume-exceeded for cam1, action=block" wait_until 20 exceeded 44:47:cc:00:00:11 block
got="$(observed 44:47:cc:00:00:11)"
echo "    observed ${got:-?} bytes at the alarm (limit $limit)"
lab_check "  the alarm came within one accounting interval of the limit (< $within_interval bytes)" \
  test "${got:-0}" -gt "$limit" -a "${got:-0}" -lt "$within_interval"
cut="$(lab_hold_wait 6)"
echo "    $cut"
lab_check "the open upload is cut on its next packet" grep -q "result=cut" <<<"$cut"
lab_check "  the block is logged with reason=volume-limit" \
  grep -q "event=deny .*mac=44:47:cc:00:00:11 .*reason=volume-limit" "$LAB_STATE/muzzled.log"
status_blocked() { grep -q "accounting .*1 devices blocked by a volume limit" <<<"$(ctl status)"; }
lab_check "muzzlectl status counts the blocked device" status_blocked
lab_table_header
lab_expect rejected cam1 cloud1 tcp 443 4
lab_expect rejected cam1 cloud1 tcp 443 6
lab_check "cam1's other traffic (the time server: internet) still passes" \
  lab_flow cam1 udp "$(lab_addr inet 4)" 123
class_upload() { ctl --json devices "$1" | jq -r ".by_class[] | select(.to == \"$2\") | .upload.bytes"; }
over_limit() { (($(class_upload 44:47:cc:00:00:11 vendor-cloud) > limit)); }
lab_check "muzzlectl device shows cam1's vendor-cloud upload past the limit" over_limit
lab_check "  and its classes in a table" bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' devices 44:47:cc:00:00:11 | grep -q '^vendor-cloud '"

echo "== an admin releases cam1: the cloud passes again until the window ends"
lab_check "muzzlectl device release-limits 44:47:cc:00:00:11" ctl device release-limits 44:47:cc:00:00:11
lab_check "  event=volume-released why=admin" grep -q "event=volume-released device=44:47:cc:00:00:11 .*why=admin" \
  "$LAB_STATE/muzzled.log"
lab_expect allowed cam1 cloud1 tcp 443 4
# Exit 4 (FAILED_PRECONDITION) and the reason.
release_again() {
  local out rc=0
  out="$(ctl device release-limits 44:47:cc:00:00:11 2>&1)" || rc=$?
  ((rc == 4)) && grep -q "is not blocked by a volume limit" <<<"$out"
}
lab_check "  a second release says it is not blocked (exit 4)" release_again

echo "== cam2 (alert): the event, and the upload goes on"
lab_check "cam2's upload to the cloud runs" lab_hold_start cam2 "$cloud" 443 --size 10000 \
  --interval-ms 20 --max-ms 60000 --echo-timeout-ms 1500
lab_check "event=volume-exceeded for cam2, action=alert" wait_until 20 exceeded 44:47:cc:00:00:12 alert
echoes="$(lab_hold_echoes)"
sleep 4  # two intervals: a block would have cut it by now
lab_check "cam2's upload still runs two intervals after the alarm" lab_hold_alive
lab_check "  and keeps exchanging" test "$(lab_hold_echoes)" -gt "$echoes"
lab_summary
