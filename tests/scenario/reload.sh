#!/usr/bin/env bash
# Policy reload (SIGHUP): revoking an allow cuts the flows it allowed within one packet, an
# invalid policy is refused with an error naming file and line, leaving the old policy in force,
# and a list file the policy names counts as it reads at each reload: changed, its new addresses
# hold; unchanged, what muzzled made of it before is reused (fw/policy/list_cache.h) and holds.
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
lab_check "base chains kept: only the per-policy chains were rewritten" test "$(base_chains)" == "$chains_before"
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

echo "== a list file: a changed list holds after SIGHUP, an unchanged one is reused"
mkdir -p "$LAB_STATE/lists"
write_list() {
  printf '# hosts the cameras must not reach\n%s\n' "$1" >"$LAB_STATE/lists/blocked.txt.new"
  mv "$LAB_STATE/lists/blocked.txt.new" "$LAB_STATE/lists/blocked.txt"
}
# The same policy each time but for its first line, so every reload is a new policy text.
policy_with_list() {
  install_policy <<POLICY
# edit $1
version: 1
defaults:
  profile: quarantine
addresses:
  blocked: {file: lists/blocked.txt}
profiles:
  camera:
    egress:
      - deny: [blocked]
      - allow: [198.18.1.10]
        proto: tcp
        ports: [554]
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
}
reloads() { grep -c 'event=policy-reloaded' "$LAB_STATE/muzzled.log" || true; }
# SIGHUP, then waits for one more policy-reloaded line.
reload_and_wait() {
  local before i
  before="$(reloads)"
  lab_reload_muzzled
  for ((i = 0; i < 100; i++)); do (($(reloads) > before)) && return 0; sleep 0.05; done
  return 1
}
steps=(
  "1|198.18.1.10|blocked|the list names the NVR: denied"
  "2|198.18.1.10|blocked|the policy edited, the list unchanged (reused): still denied"
  "3|198.18.1.99|allowed|the list changed: the NVR is no longer in it"
  "4|198.18.1.99|allowed|the policy edited, the changed list unchanged (reused): still allowed"
)
for step in "${steps[@]}"; do
  IFS='|' read -r n listed expected what <<<"$step"
  write_list "$listed"
  policy_with_list "$n"
  lab_check "SIGHUP $n reloaded" reload_and_wait
  echo "    $what"
  lab_table_header
  lab_expect "$expected" cam1 nvr tcp 554
done

lab_summary
