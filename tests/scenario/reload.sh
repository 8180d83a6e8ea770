#!/usr/bin/env bash
# Policy reload (SIGHUP): revoking an allow cuts the flows it allowed within one packet, and an
# invalid policy is refused with an error naming file and line, leaving the old policy in force.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

scenario_lab_up
lab_start_muzzled

# Replaces the policy the way an admin should: write aside, then rename, so muzzled can never
# read half a file.
install_policy() {
  cat >"$LAB_STATE/policy.yaml.new"
  mv "$LAB_STATE/policy.yaml.new" "$LAB_STATE/policy.yaml"
}

echo "== before: cam1 may stream to the NVR"
lab_table_header
lab_expect allowed cam1 nvr tcp 554
lab_check "hold cam1 -> nvr tcp/554 established" \
  lab_hold_start cam1 "$(lab_addr nvr)" 554 --interval-ms 100 --max-ms 30000
lab_check "hold exchanges data" lab_hold_wait_echoes 3 5

echo "== revoke camera -> nvr, SIGHUP"
install_policy <<'POLICY'
version: 1
defaults:
  profile: quarantine
addresses:
  nvr: [198.18.1.10, fd00:1::10]
profiles:
  camera:
    egress:
      - allow: [gateway]
        proto: udp
        ports: [53, 123]
    otherwise: reject
  quarantine:
    egress:
      - allow: [gateway]
        proto: udp
        ports: [53, 67]
devices:
  - name: lobby-cam
    mac: "44:47:cc:00:00:11"
    profile: camera
POLICY
# A policy change must not re-create the table or its base chains (re-registering a hook makes
# the kernel drop every packet waiting in the queue). Table handles come from a per-namespace
# counter, so a re-created table would show a new one.
base_chains() { lab_exec gw nft -a list table inet muzzle | grep -E '^table|chain (forward|input|output)'; }
chains_before="$(base_chains)"
lab_reload_muzzled
result="$(lab_hold_wait 5)"
echo "    hold: ${result:-still running}"
lab_check "held connection is cut" grep -q 'result=cut' <<<"$result"
lab_check "the reload logged its new generation" wait_log 'event=policy-reloaded generation=2 ' 2
lab_check "base chains kept: only chain judge was rewritten" test "$(base_chains)" == "$chains_before"
lab_table_header
lab_expect rejected cam1 nvr tcp 554
lab_expect rejected cam1 nvr tcp 554 6
lab_expect allowed cam1 gw udp 53

echo "== invalid policy, SIGHUP"
# The shipped example with one typo: a port out of range. Only that line may be reported.
sed 's/ports: \[53, 123\]/ports: [70000, 123]/' "$LAB_REPO/policies/site-example.yaml" |
  install_policy
bad_line="$(grep -n 70000 "$LAB_STATE/policy.yaml" | cut -d: -f1)"
lab_check "the typo is in the file (line ${bad_line:-none})" test -n "$bad_line"
lab_reload_muzzled
lab_check "policy-error logged" wait_log 'event=policy-error' 5
grep 'event=policy-error' "$LAB_STATE/muzzled.log" | sed 's/^/    /' || true
lab_check "error names policy.yaml:$bad_line and the port" \
  wait_log "policy\.yaml:$bad_line: [^ ]*ports\[0\]: 70000" 1
only_one_error() {
  (($(grep 'event=policy-error' "$LAB_STATE/muzzled.log" | grep -o 'policy\.yaml' | wc -l) == 1))
}
lab_check "exactly that one error reported" only_one_error
lab_check "muzzled still running" kill -0 "$LAB_MUZZLED_PID"
echo "== the previous policy still enforces"
lab_table_header
lab_expect allowed cam1 gw udp 53
lab_expect rejected cam1 nvr tcp 554
lab_expect rejected cam1 nvr tcp 554 6

lab_summary
