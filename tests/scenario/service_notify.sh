#!/usr/bin/env bash
# Under systemd (Type=notify) muzzled reports through $NOTIFY_SOCKET: READY=1 once it enforces,
# WATCHDOG=1 from the engine loop while $WATCHDOG_USEC asks for it, STOPPING=1 when it stops. It
# sends them after becoming the user muzzle, so this checks what systemd's socket would receive
# from the real process, not from a test double.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

scenario_lab_up

# Stands in for systemd's notify socket: a datagram socket anyone may write to, as
# /run/systemd/notify is; every message is appended to a file, NUL-separated.
socket="$LAB_STATE/notify.sock"
received="$LAB_STATE/notify.received"
: >"$received"
lab_exec gw python3 -c '
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "ab", buffering=0) as f:
    while True:
        f.write(s.recv(4096) + b"\0")
' "$socket" "$received" </dev/null >>"$LAB_STATE/notify.log" 2>&1 &
_lab_remember_pid $!
lab_wait_file "$socket" 10 || {
  lab_log "the notify socket did not appear:"
  cat "$LAB_STATE/notify.log" >&2
  exit 1
}

# One message equal to $1 has arrived, within $2 seconds.
arrived() {
  local message="$1" seconds="$2" i
  for ((i = 0; i < seconds * 10; i++)); do
    grep -qx -- "$message" <<<"$(tr '\0' '\n' <"$received")" && return 0
    sleep 0.1
  done
  return 1
}

echo "== muzzled with NOTIFY_SOCKET and a watchdog of 2 s"
NOTIFY_SOCKET="$socket" WATCHDOG_USEC=2000000 lab_start_muzzled
lab_check "READY=1 arrives once muzzled enforces" arrived 'READY=1' 30
lab_check "WATCHDOG=1 arrives from the engine loop" arrived 'WATCHDOG=1' 30
lab_expect allowed cam1 nvr tcp 554
lab_check "muzzled stops cleanly" lab_stop_muzzled
lab_check "STOPPING=1 arrives when it stops" arrived 'STOPPING=1' 30
echo "   received: $(tr '\0' '|' <"$received" | tr '\n' ' ')"

lab_summary
