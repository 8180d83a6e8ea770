#!/usr/bin/env bash
# Fail open (fail_mode: open): when muzzled dies (kill -9), the queue is bypassed and new flows
# pass, even ones the policy denies. A site chooses this when availability beats containment.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

export FAIL_MODE=open
scenario_lab_up
lab_start_muzzled

echo "== muzzled running: the policy holds"
lab_table_header
lab_expect rejected cam1 cloud1 tcp 443
lab_expect allowed cam1 nvr tcp 554

echo "== kill -9 muzzled: new flows pass"
lab_kill_muzzled
lab_table_header
lab_expect allowed cam1 cloud1 tcp 443
lab_expect allowed cam1 cloud1 tcp 443 6
lab_expect allowed cam1 nvr tcp 554

lab_summary
