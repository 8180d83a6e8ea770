#!/usr/bin/env bash
# Under systemd (Type=notify) muzzled reports through $NOTIFY_SOCKET: READY=1 once it enforces,
# WATCHDOG=1 from the engine loop while $WATCHDOG_USEC asks for it, STOPPING=1 when it stops. It
# sends them after becoming the user muzzle, so this checks what systemd's socket would receive
# from the real process, not from a test double.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

scenario_lab_up

scenario_notify_socket

echo "== muzzled with NOTIFY_SOCKET and a watchdog of 2 s"
NOTIFY_SOCKET="$NOTIFY_SOCKET_PATH" WATCHDOG_USEC=2000000 lab_start_muzzled
lab_check "READY=1 arrives once muzzled enforces" notify_arrived 'READY=1' 30
lab_check "WATCHDOG=1 arrives from the engine loop" notify_arrived 'WATCHDOG=1' 30
lab_expect allowed cam1 nvr tcp 554
lab_check "muzzled stops cleanly" lab_stop_muzzled
lab_check "STOPPING=1 arrives when it stops" notify_arrived 'STOPPING=1' 30
echo "   received: $(tr '\0' '|' <"$NOTIFY_RECEIVED" | tr '\n' ' ')"

lab_summary
