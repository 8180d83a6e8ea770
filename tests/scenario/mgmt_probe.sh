#!/usr/bin/env bash
# The management API is the contract: a client that shares no code with muzzlectl (grpc_probe)
# drives the box. The standard health service answers SERVING (hand-encoded bytes, no code
# generated from health.proto), and StatusService tells the same story as muzzlectl and the
# daemon's own log; a watcher that stops reading is dropped with a reason and where to resume.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

# A small lag limit, so the slow-watcher check needs few events.
export LAB_MANAGEMENT="  max_watcher_lag: 5"
scenario_lab_up
lab_start_muzzled
probe() { "$BUILD/tests/lab/grpc_probe" "unix:$LAB_STATE/muzzled.sock" "$@"; }

health="$(probe health || true)"
echo "    health: $health"
lab_check "grpc.health.v1.Health/Check answers SERVING" grep -q '^status=SERVING ' <<<"$health"

status="$(probe status || true)"
echo "    status: $status"
generation="$(sed -n 's/.*generation=\([0-9]*\) .*/\1/p' "$LAB_STATE/muzzled.log" | tail -n1)"
lab_check "GetStatus: the generation muzzled logged ($generation)" grep -q " generation=$generation " <<<"$status"
lab_check "GetStatus: queue mode and fail mode" grep -q 'queue_mode=compat fail_mode=closed' <<<"$status"
lab_check "GetStatus: the unix socket caller is admin" grep -q 'role=admin' <<<"$status"

services="$(probe services || true)"
echo "    reflection: $(tr '\n' ' ' <<<"$services")"
lab_check "server reflection lists the management services and health" bash -c '
  for s in muzzle.v1.PolicyService muzzle.v1.DeviceService muzzle.v1.EventService \
           muzzle.v1.StatusService grpc.health.v1.Health; do grep -qx "$s" <<<"$1" || exit 1; done' _ "$services"

echo "== a watcher that stops reading is dropped with a reason; the data plane does not wait"
lab_flow cam1 tcp 203.0.113.10 443 --timeout-ms 500 >/dev/null || true  # at least one event to read
probe stall 4 >"$LAB_STATE/stall.out" 2>&1 &
stall_pid=$!
_lab_remember_pid "$stall_pid"
sleep 0.5
# Denied flows, each a new event, while the watcher is not reading: a few hundred, well inside
# the log's 200 lines a second over the stall.
lab_exec cam1 bash -c "for p in \$(seq 9000 9300); do '$LABNET' udp 203.0.113.10 \$p --timeout-ms 1 >/dev/null; done" || true
lab_check "denials kept being judged while the watcher stalled" wait_log 'event=deny .*dst=203\.0\.113\.10:9300 ' 3
stall_ended() { grep -q 'result=ended' "$LAB_STATE/stall.out"; }
for _ in $(seq 100); do stall_ended && break; sleep 0.1; done
sed 's/^/    /' "$LAB_STATE/stall.out"
lab_check "the stalled watcher ended with RESOURCE_EXHAUSTED (8) and where to resume" \
  grep -q 'result=ended code=8 .*watcher too slow: .*reconnect with after_sequence=' "$LAB_STATE/stall.out"
lab_check "a new watcher reads the events it missed" \
  bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' events --after 1 | grep -q 'dst=203.0.113.10:9300'"

lab_stop_muzzled
down="$(probe health || true)"
echo "    health after stop: $down"
lab_check "with muzzled stopped the probe fails, it does not hang" grep -q '^status=error ' <<<"$down"
lab_summary
