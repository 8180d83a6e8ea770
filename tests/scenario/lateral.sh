#!/usr/bin/env bash
# Lateral movement on the camera bridge: cam1 and cam2 sit on separate ports of br-cam on the
# gateway. Their traffic never reaches a router, but the kernel hands bridged IP traffic to
# table inet muzzle (bridge-nf-call-ip*tables), so both devices' profiles judge it. With that
# switched off, muzzled says at start that lateral traffic on the bridge is not judged.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

scenario_lab_up
lab_start_muzzled

echo "== camera to camera on the same bridge"
lab_table_header
lab_expect rejected cam1 cam2 tcp 80
lab_expect rejected cam1 cam2 tcp 80 6
lab_expect rejected cam2 cam1 tcp 554
lab_expect rejected vacuum cam1 tcp 23
lab_check "the lateral attempt is logged as a denial" \
  wait_log 'event=deny .*src=198\.18\.10\.11:[0-9]+ dst=198\.18\.10\.12:80 ' 2
lab_check "no warning while bridged traffic is judged" bash -c "! grep -q 'event=warning' '$LAB_STATE/muzzled.log'"

echo "== bridged traffic no longer handed to the firewall: muzzled says so"
lab_stop_muzzled
lab_exec gw sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0
lab_start_muzzled
lab_check "start-up warns that lateral traffic on br-cam passes" \
  wait_log 'event=warning segment=cameras problem="traffic between devices on bridge br-cam is not judged' 2
lab_table_header
lab_expect allowed cam1 cam2 tcp 80  # what the warning is about: the bridge forwards it unjudged
lab_summary
