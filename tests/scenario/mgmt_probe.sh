#!/usr/bin/env bash
# The management API is the contract: a client that shares no code with muzzlectl (grpc_probe)
# drives the box. The standard health service answers SERVING (hand-encoded bytes, no code
# generated from health.proto), and StatusService tells the same story as muzzlectl and the
# daemon's own log.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

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

lab_stop_muzzled
down="$(probe health || true)"
echo "    health after stop: $down"
lab_check "with muzzled stopped the probe fails, it does not hang" grep -q '^status=error ' <<<"$down"
lab_summary
