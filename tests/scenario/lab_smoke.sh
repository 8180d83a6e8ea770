#!/usr/bin/env bash
# The lab itself, without muzzled: every flow of the demo passes (so a failure in the other
# scenarios is the firewall's doing, not the lab's), pings work, and the lab leaves no
# interface in the root namespace.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

root_links_before="$(ip -o link show | awk -F': ' '{print $2}' | sort)"
scenario_lab_up

echo "== no firewall: every flow passes"
lab_table_header
while read -r from to proto port; do
  for family in 4 6; do
    lab_expect allowed "$from" "$to" "$proto" "$port" "$family"
  done
done <<'ROWS'
cam1    nvr    tcp 554
cam1    nvr    tcp 8000
cam1    cloud1 tcp 443
cam1    gw     udp 53
cam1    gw     udp 123
cam1    gw     tcp 22
cam2    nvr    tcp 554
unknown nvr    tcp 554
unknown gw     udp 53
vacuum  cloud2 tcp 443
inet    cam1   tcp 80
nvr     cam1   tcp 554
nvr     cam1   tcp 23
cam1    cam2   tcp 80
ROWS

echo "== probes tell outcomes apart"
refused() { [[ "$(lab_flow cam1 tcp "$(lab_addr nvr)" 9 || true)" == result=refused* ]]; }
udp_unreachable() { [[ "$(lab_flow cam1 udp "$(lab_addr gw)" 9 || true)" == result=unreachable* ]]; }
lab_check "closed tcp port -> refused" refused
lab_check "closed udp port -> unreachable" udp_unreachable

echo "== ping"
pings() { lab_exec cam1 ping -q -c1 -W2 "$@" >/dev/null; }
lab_check "ping cam1 -> cloud1 v4" pings 203.0.113.10
lab_check "ping cam1 -> cloud1 v6" pings -6 2001:db8:cafe::10

echo "== isolation"
no_new_root_links() {
  [[ "$(ip -o link show | awk -F': ' '{print $2}' | sort)" == "$root_links_before" ]]
}
lab_check "no interface created in the root namespace" no_new_root_links

lab_summary
