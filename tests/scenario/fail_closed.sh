#!/usr/bin/env bash
# Fail closed (the default): when muzzled dies (kill -9), flows it already allowed keep working
# from the kernel's conntrack marks, but no new flow passes until it is back.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

export FAIL_MODE=closed
scenario_lab_up
lab_start_muzzled

lab_check "hold cam1 -> nvr tcp/554 established" \
  lab_hold_start cam1 "$(lab_addr nvr)" 554 --interval-ms 100 --max-ms 60000

echo "== kill -9 muzzled"
lab_kill_muzzled
echoes_before="$(lab_hold_echoes)"
sleep 2
echoes_after="$(lab_hold_echoes)"
echo "    hold: $echoes_before -> $echoes_after echoes in 2 s"
lab_check "held connection keeps working for 2 s" lab_hold_alive
lab_check "held connection kept exchanging (>= 10 echoes in 2 s)" \
  test $((echoes_after - echoes_before)) -ge 10
lab_table_header
lab_expect blocked cam1 nvr tcp 554
lab_expect blocked cam1 nvr tcp 554 6
lab_expect blocked cam1 cloud1 tcp 443

echo "== restart muzzled"
lab_start_muzzled
lab_table_header
lab_expect allowed cam1 nvr tcp 554
lab_expect allowed cam1 nvr tcp 554 6
lab_expect rejected cam1 cloud1 tcp 443
lab_expect rejected cam1 cloud1 tcp 443 6

lab_summary
