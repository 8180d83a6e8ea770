#!/usr/bin/env bash
# The MUD manager on a running box: `muzzlectl mud import` previews a MUD file as a diff (nothing
# changes), refuses a malformed one naming the JSON path (exit 3), and with --apply makes it a
# revision (commit-confirmed, audited). The site fills the controller group, garage-cam (cam2)
# is given the profile, and it then reaches what the file allows and nothing else: its cloud by
# name, the box for DNS and time, the NVR (its controller) on 8000; and the NVR may open RTSP to
# it. What the camera profile allowed before and the file does not (the NVR on 554, the web UI)
# is stopped.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

scenario_lab_up
lab_start_muzzled
ctl() { "$BUILD/mgmt/muzzlectl" --socket "$LAB_STATE/muzzled.sock" "$@"; }
expect_exit() {  # expect_exit CODE cmd...: passes when the command exits with CODE
  local want="$1" got=0
  shift
  "$@" >"$LAB_STATE/last.out" 2>&1 || got=$?
  sed 's/^/    /' "$LAB_STATE/last.out"
  [[ "$got" == "$want" ]] || { echo "    exit $got, expected $want"; return 1; }
}
revision() { ctl --json status | sed -n 's/.*"policy_revision": "\{0,1\}\([0-9]*\).*/\1/p'; }

# The lab camera's MUD file (RFC 8520): its cloud by name, DNS and NTP from the network's
# controllers, its own controller (the NVR) on 8000 and RTSP from it, GRE (not importable).
cat >"$LAB_STATE/lab-cam.json" <<'JSON'
{
  "ietf-mud:mud": {
    "mud-version": 1,
    "mud-url": "https://cams.vendor.example/lab-cam",
    "cache-validity": 24,
    "is-supported": true,
    "systeminfo": "Lab camera",
    "mfg-name": "Lab Vendor",
    "from-device-policy": {"access-lists": {"access-list": [{"name": "fr4"}, {"name": "fr6"}]}},
    "to-device-policy": {"access-lists": {"access-list": [{"name": "to4"}]}}
  },
  "ietf-access-control-list:acls": {"acl": [
    {"name": "fr4", "type": "ipv4-acl-type", "aces": {"ace": [
      {"name": "cloud-frdev", "matches": {
         "ipv4": {"ietf-acldns:dst-dnsname": "telemetry.vendor.example", "protocol": 6},
         "tcp": {"ietf-mud:direction-initiated": "from-device",
                 "destination-port": {"operator": "eq", "port": 443}}},
       "actions": {"forwarding": "accept"}},
      {"name": "dns-frdev", "matches": {
         "ietf-mud:mud": {"controller": "urn:ietf:params:mud:dns"},
         "ipv4": {"protocol": 17}, "udp": {"destination-port": {"operator": "eq", "port": 53}}},
       "actions": {"forwarding": "accept"}},
      {"name": "ntp-frdev", "matches": {
         "ietf-mud:mud": {"controller": "urn:ietf:params:mud:ntp"},
         "ipv4": {"protocol": 17}, "udp": {"destination-port": {"operator": "eq", "port": 123}}},
       "actions": {"forwarding": "accept"}},
      {"name": "myctl-frdev", "matches": {
         "ietf-mud:mud": {"my-controller": [null]},
         "ipv4": {"protocol": 6}, "tcp": {"destination-port": {"operator": "eq", "port": 8000}}},
       "actions": {"forwarding": "accept"}},
      {"name": "rtsp-frdev", "matches": {
         "ietf-mud:mud": {"my-controller": [null]},
         "ipv4": {"protocol": 6}, "tcp": {"ietf-mud:direction-initiated": "to-device",
                                          "source-port": {"operator": "eq", "port": 554}}},
       "actions": {"forwarding": "accept"}}]}},
    {"name": "fr6", "type": "ipv6-acl-type", "aces": {"ace": [
      {"name": "cloud-frdev", "matches": {
         "ipv6": {"ietf-acldns:dst-dnsname": "telemetry.vendor.example", "protocol": 6},
         "tcp": {"ietf-mud:direction-initiated": "from-device",
                 "destination-port": {"operator": "eq", "port": 443}}},
       "actions": {"forwarding": "accept"}}]}},
    {"name": "to4", "type": "ipv4-acl-type", "aces": {"ace": [
      {"name": "cloud-todev", "matches": {
         "ipv4": {"ietf-acldns:src-dnsname": "telemetry.vendor.example", "protocol": 6},
         "tcp": {"ietf-mud:direction-initiated": "from-device",
                 "source-port": {"operator": "eq", "port": 443}}},
       "actions": {"forwarding": "accept"}},
      {"name": "rtsp-todev", "matches": {
         "ietf-mud:mud": {"my-controller": [null]},
         "ipv4": {"protocol": 6}, "tcp": {"ietf-mud:direction-initiated": "to-device",
                                          "destination-port": {"operator": "eq", "port": 554}}},
       "actions": {"forwarding": "accept"}},
      {"name": "gre-todev", "matches": {"ipv4": {"protocol": 47}},
       "actions": {"forwarding": "accept"}}]}}]}
}
JSON

echo "== before: garage-cam (cam2) is a camera"
lab_table_header
lab_expect_name rejected cam2 telemetry.vendor.example tcp 443
lab_expect allowed nvr cam2 tcp 80

echo "== preview: the diff, the file's metadata and reports; nothing changes"
lab_check "mud import (preview) exits 0" expect_exit 0 ctl mud import "$LAB_STATE/lab-cam.json" --profile lab-cam
out="$LAB_STATE/last.out"
lab_check "it names the file and its metadata" grep -q 'MUD file https://cams.vendor.example/lab-cam (rfc8520)' "$out"
lab_check "cache-validity and is-supported are shown" grep -q 'cache-validity: 24 h' "$out"
lab_check "the controller group is added empty" grep -q 'mud-my-controller-lab-cam (added empty)' "$out"
lab_check "the diff adds the profile with its rules" grep -q '^+      - {allow: \[telemetry.vendor.example\], proto: tcp, ports: \[443\]}  # cloud-frdev' "$out"
lab_check "the inbound rule from the controller" grep -q '^+      - {allow: \[mud-my-controller-lab-cam\], proto: tcp, ports: \[554\]}  # rtsp-todev' "$out"
lab_check "GRE is reported as not imported, with its path" grep -q 'not-imported.*acl\[2\].aces.ace\[2\].matches.ipv4.protocol.*protocol 47' "$out"
lab_check "replies are reported as implied" grep -q 'implied.*acl\[2\].aces.ace\[0\]' "$out"
lab_check "it says it did not apply" grep -q '^preview: profile lab-cam into revision 1, not applied' "$out"
lab_check "still revision 1" test "$(revision)" = 1

echo "== a malformed file: exit 3, the JSON path, nothing changes"
sed 's/"port": 8000/"port": 80000/' "$LAB_STATE/lab-cam.json" >"$LAB_STATE/bad.json"
lab_check "mud import of a bad file exits 3" expect_exit 3 ctl mud import "$LAB_STATE/bad.json" --apply
lab_check "the error names the JSON path" grep -q 'INVALID_ARGUMENT: ietf-access-control-list:acls.acl\[0\].aces.ace\[3\].matches.tcp.destination-port.port: 80000 is not a port' "$LAB_STATE/last.out"
lab_check "still revision 1" test "$(revision)" = 1

echo "== apply (commit-confirmed), fill the controller group, give garage-cam the profile"
lab_check "mud import --apply --confirm 5m" expect_exit 0 ctl mud import "$LAB_STATE/lab-cam.json" --profile lab-cam --apply --confirm 5m
lab_check "revision 1 -> 2, to confirm" grep -q '^revision 1 -> 2, confirm by' "$LAB_STATE/last.out"
lab_check "confirm" expect_exit 0 ctl policy confirm
lab_check "the audit log names the MUD file" bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' audit | grep -q 'MUD import of https://cams.vendor.example/lab-cam'"
ctl policy show >"$LAB_STATE/current.yaml"
lab_check "the site's comments are still there" grep -q '^# Example site policy' "$LAB_STATE/current.yaml"
sed -i 's/^  mud-my-controller-lab-cam: \[\].*/  mud-my-controller-lab-cam: [198.18.1.10, "fd00:1::10"]  # the NVR/' "$LAB_STATE/current.yaml"
lab_check "fill the group with the NVR" expect_exit 0 ctl policy apply --expect 2 "$LAB_STATE/current.yaml"
lab_check "device set garage-cam --profile lab-cam" expect_exit 0 ctl device set 44:47:cc:00:00:12 --profile lab-cam

echo "== garage-cam reaches what the file allows, and nothing else"
lab_table_header
while read -r expected from to proto port; do
  for family in 4 6; do lab_expect "$expected" "$from" "$to" "$proto" "$port" "$family"; done
done <<'ROWS'
allowed  cam2 gw     udp 53
allowed  cam2 gw     udp 123
rejected cam2 gw     tcp 22
allowed  cam2 nvr    tcp 8000
rejected cam2 nvr    tcp 554
rejected cam2 cloud1 tcp 443
rejected cam2 cam1   tcp 554
allowed  nvr  cam2   tcp 554
refused  nvr  cam2   tcp 80
refused  inet cam2   tcp 554
ROWS
for family in 4 6; do
  lab_expect_name allowed cam2 telemetry.vendor.example tcp 443 "$family"
  lab_expect_name rejected cam2 avs.voice.example tcp 443 "$family"
done
echo "== the other camera keeps its profile"
lab_expect allowed cam1 nvr tcp 554
lab_expect allowed nvr cam1 tcp 80

lab_summary
