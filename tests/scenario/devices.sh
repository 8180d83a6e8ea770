#!/usr/bin/env bash
# Devices join and are identified: a Hikvision-OUI camera the policy does not list is classified
# by vendor and judged by the camera profile; a randomised-MAC gadget is quarantined and reported
# as new; a device's DHCP request (snooped, accepted at once) reclassifies it, and its open flows
# are judged again under the new profile; an admin assigns the gadget with muzzlectl and its
# traffic follows the new profile, and the policy keeps the admin's text and comments (only the
# gadget's entry is added). Malformed DHCP is counted, and the inventory survives a restart.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

scenario_lab_up
cat >"$LAB_STATE/policy.yaml" <<'POLICY'
version: 1
defaults: {profile: quarantine}
addresses:
  nvr: [198.18.1.10, fd00:1::10]
profiles:
  # cameras: the NVR and this box, nothing else
  camera:
    egress:
      - {allow: [nvr], proto: tcp, ports: [554, 8000]}
      - {allow: [gateway], proto: udp, ports: [53, 123]}
    inbound:
      - {allow: [nvr], proto: tcp, ports: [554, 80]}
  vacuum:
    egress:
      - {allow: [203.0.113.20], proto: tcp, ports: [443]}
      - {allow: [gateway], proto: udp, ports: [53, 123]}
  quarantine:
    egress:
      - {allow: [gateway], proto: udp, ports: [53, 67]}
devices:
  - {name: lobby-cam, mac: "44:47:cc:00:00:11", profile: camera}  # by the lobby door
  # the doorbell goes here once it is known
classify:
  - {dhcp_hostname: "ECOVACS*", profile: vacuum}
  - {vendor: "Hangzhou Hikvision Digital Technology Co.,Ltd.", profile: camera}
  - {vendor_prefix: "Zhejiang Dahua", profile: camera}
POLICY
lab_start_muzzled

echo "== an unlisted Hikvision camera is classified by vendor"
lab_table_header
lab_expect allowed cam2 nvr tcp 554
lab_expect allowed cam2 nvr tcp 554 6
lab_expect rejected cam2 cloud1 tcp 443
lab_expect allowed nvr cam2 tcp 554
lab_check "new-device event: classified by classify[1], vendor named" \
  wait_log 'event=new-device mac=44:47:cc:00:00:12 .*profile=camera assignment=classified by=classify\[1\] vendor="Hangzhou Hikvision Digital Technology Co.,Ltd."' 2

echo "== an unknown gadget with a randomised MAC is quarantined"
lab_table_header
lab_expect rejected unknown nvr tcp 554
lab_expect allowed unknown gw udp 53
lab_check "new-device event: quarantine by default, randomised MAC, no vendor" \
  wait_log 'event=new-device mac=02:5a:00:00:00:99 .*profile=quarantine assignment=default vendor=unknown randomised_mac=yes' 2

echo "== DHCP is snooped: the vacuum says who it is"
lab_table_header
lab_expect rejected vacuum cloud2 tcp 443   # unlisted, vendor not in classify: quarantine
lab_check "vacuum broadcasts a DHCPDISCOVER (hostname ECOVACS-DEEBOT)" \
  lab_exec vacuum "$LABNET" dhcp eth0 --hostname ECOVACS-DEEBOT --vendor-class "udhcp 1.30.1"
lab_check "it is reassigned to vacuum by classify[0]" \
  wait_log 'event=device-reassigned mac=50:ec:50:00:00:21 from=quarantine profile=vacuum assignment=classified by=classify\[0\]' 2
lab_table_header
lab_expect allowed vacuum cloud2 tcp 443
lab_expect rejected vacuum nvr tcp 554

echo "== a reclassified device's open flows are judged again"
lab_check "hold cam2 -> nvr tcp/554 (camera)" \
  lab_hold_start cam2 "$(lab_addr nvr)" 554 --interval-ms 100 --max-ms 20000
lab_check "cam2 claims to be a vacuum over DHCP" lab_exec cam2 "$LABNET" dhcp eth0 --hostname ECOVACS-FAKE
lab_check "cam2 moved camera -> vacuum" \
  wait_log 'event=device-reassigned mac=44:47:cc:00:00:12 from=camera profile=vacuum' 2
lab_check "every flow is re-judged under a new generation" wait_log 'event=rejudge generation=[0-9]+ ' 2
result="$(lab_hold_wait 5)"
echo "    hold: ${result:-still running}"
lab_check "its open NVR stream is cut on the next packet" grep -q 'result=cut' <<<"$result"

echo "== malformed DHCP is counted and passes unlearned"
lab_check "a DHCP request cut at 250 bytes is sent" lab_exec unknown "$LABNET" dhcp eth0 --hostname x --cut 250
lab_check "logged as dhcp-malformed" wait_log 'event=dhcp-malformed error=option_overrun' 2
lab_check "counters line" usr1_counters
lab_check "dhcp_malformed counted" test "$(counter dhcp_malformed)" -ge 1

echo "== the admin assigns the gadget; its traffic follows"
lab_check "muzzlectl device set 02:5a:00:00:00:99 --profile camera" \
  ctl device set 02:5a:00:00:00:99 --name doorbell --profile camera
lab_table_header
lab_expect allowed unknown nvr tcp 554
# The revision is the admin's file and the new entry, nothing else: every comment stays.
only_doorbell_added() {
  ctl policy show >"$LAB_STATE/current.yaml"
  diff "$LAB_STATE/policy.yaml" "$LAB_STATE/current.yaml" >"$LAB_STATE/device-set.diff" || true
  printf '%s\n' '21a22,24' '>   - name: doorbell' '>     mac: "02:5a:00:00:00:99"' \
    '>     profile: camera' | diff - "$LAB_STATE/device-set.diff"
}
lab_check "the policy keeps its comments: the diff is the doorbell's entry alone" only_doorbell_added
lab_check "muzzlectl devices lists the classified camera with why" \
  bash -c "ctl() { '$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' \"\$@\"; }; ctl --json devices | grep -q '\"assignment\": \"classified\"'"

echo "== the inventory survives a restart"
lab_stop_muzzled
lab_check "inventory.pb written" test -s "$LAB_STATE/inventory.pb"
lab_start_muzzled
lab_check "reloaded with the devices seen before" wait_log "event=inventory-loaded devices=3 " 2  # cam2, unknown, vacuum
grep -E "event=(inventory-loaded|warning)" "$LAB_STATE/muzzled.log" | sed "s/^/    /" || true
lab_summary
