#!/usr/bin/env bash
# Issue 16's "done when": `muzzlectl fleet` rolls a fleet directory out to 32 gateways (the fleet
# lab, tests/lab/fleet_lab.sh: one muzzled each, in namespaces, managed over mutual TLS from an
# admin namespace) in waves, and stops where it must:
#   1. the lab up, every box on revision 1; `fleet check` passes, and a broken override on one
#      box fails it (exit 3) naming the box and fleet.yaml's line;
#   2. `fleet plan --json`: 32 rows, all drift;
#   3. a 3-wave rollout (1, 4, 27 boxes) while the canary's camera streams to its NVR: exit 0,
#      every box on the desired text and confirmed, the plan all in-sync;
#   4. a change that makes the canary deny its NVR: its deny rate jumps, the health gate fails,
#      the rollout halts (exit 11) with no other box touched, and the canary rolls back by itself
#      at its confirm deadline;
#   5. a box killed (kill -9) once it has been applied in wave 2: the rollout halts (exit 11), and
#      the box, started again, rolls its pending commit back by itself;
#   6. the CLI itself killed (kill -9) in wave 2: the same command again finishes (exit 0), each
#      box on the desired text, confirmed, and no box given that text twice.
# Checks read exit codes, the rollout state file (.fleet-rollout.json) and what each box says
# about itself (status, policy show, policy history), not the wording of progress lines.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"
# shellcheck source=tests/lab/fleet_lab.sh
source "$(dirname "$0")/../lab/fleet_lab.sh"
fleet_trap

BOXES="${FLEET_BOXES:-32}"
test_start=$SECONDS
declare -A took=()
phase_start=$SECONDS
phase_end() { took[$1]=$((SECONDS - phase_start)); phase_start=$SECONDS; }

fleet_up "$(printf 'r%s' "$$" | cut -c1-10)" "$BOXES"
LAB_STATE="$FLEET_STATE"  # common.sh's expect_exit keeps its output there
fleet_start_all
phase_end "lab up ($BOXES gateways, ready)"
work="$FLEET_STATE/work"
mkdir -p "$work"
dir="$FLEET_STATE/fleet"
mkdir -p "$dir/policies"
ctl() { "$BUILD/mgmt/muzzlectl" "$@"; }
fleet() { fleet_admin "$BUILD/mgmt/muzzlectl" fleet "$@"; }
state_file="$dir/.fleet-rollout.json"
box_number() { echo $((10#${1#gw})); }
jqe() { jq -e "$@" >/dev/null; }  # a jq condition as a check

# Every box's status, revision list and running text in one muzzlectl --targets call each (a
# JSON line per box: box, exit, result): $work/snap.{status,history,text}.
names() { local n; for ((n = 1; n <= BOXES; n++)); do echo "$(fleet_name "$n")"; done; }
for name in $(names); do echo "$name $(fleet_target "$(box_number "$name")")"; done >"$work/targets"
every_box() {
  fleet_admin "$BUILD/mgmt/muzzlectl" --targets "$work/targets" --ca "$FLEET_CERTS/ca.pem" \
    --cert "$FLEET_CERTS/admin.pem" --key "$FLEET_CERTS/admin.key" --timeout 10 --json "$@"
}
snapshot() {
  every_box status >"$work/snap.status" || true  # exit 10 when a box did not answer: counted below
  every_box policy history >"$work/snap.history" || true
  every_box policy show >"$work/snap.text" || true
}
_snap() { jq -r --arg b "$1" "select(.box == \$b) | .result | $2" "$work/snap.$3"; }
snap_revision() { _snap "$1" .policy_revision status; }
snap_pending() { _snap "$1" '.pending.revision // "none"' status; }
snap_text() { _snap "$1" .content text; }
snap_failed() { cat "$work"/snap.{status,history,text} | jq -s 'map(select(.exit != 0)) | length'; }
snap_answers() { cat "$work"/snap.{status,history,text} | jq -s 'length'; }
# How many of box NAME's kept revisions have the text of its current one.
snap_same_text_count() {
  _snap "$1" '(.current) as $c | (.revisions | map(select(.number == $c)) | .[0].sha256) as $s
         | .revisions | map(select(.sha256 == $s)) | length' history
}

# Checks over the snapshot: every box (or those named) meets a condition.
all_boxes() {  # all_boxes FUNCTION: FUNCTION NAME succeeds for each box
  local name bad=()
  for name in $(names); do "$1" "$name" || bad+=("$name"); done
  ((${#bad[@]} == 0)) || { echo "    not so for: ${bad[*]}"; return 1; }
}

echo "== 1. the lab: $BOXES gateways on revision 1, a fleet directory that checks"
snapshot
lab_check "every box answers over mTLS from the admin namespace" \
  test "$(snap_answers)/$(snap_failed)" = "$((3 * BOXES))/0"
on_rev1() { [[ "$(snap_revision "$1")" == 1 ]]; }
lab_check "every box runs revision 1" all_boxes on_rev1
snap_text gw01 >"$work/text-initial"

# The desired state: the example site's policy with a visible change (cameras lose DNS to the
# gateway: a rule of the site, tried before the preset's), every box's NVR named in fleet.yaml.
sed '/^  camera:$/,/^    egress:$/s/^    egress:$/&\n      - {deny: [gateway], proto: udp, ports: [53]}/' \
  "$LAB_REPO/policies/site-example.yaml" >"$dir/policies/cameras.yaml"
grep -q 'deny: \[gateway\], proto: udp, ports: \[53\]' "$dir/policies/cameras.yaml"
# write_fleet [NAME=NVR ...]: fleet.yaml, each box's nvr 198.18.1.10 unless named otherwise.
write_fleet() {
  local -A nvr=()
  local pair n name
  for pair in "$@"; do nvr[${pair%%=*}]="${pair#*=}"; done
  {
    cat <<EOF
version: 1
tls: {ca: ../certs/ca.pem, cert: ../certs/admin.pem, key: ../certs/admin.key}
groups:
  - name: cameras
    select: {role: cameras}
    policy: policies/cameras.yaml
boxes:
EOF
    for ((n = 1; n <= BOXES; n++)); do
      name="$(fleet_name "$n")"
      cat <<EOF
  - name: $name
    target: "$(fleet_target "$n")"
    labels: {site: site$n, region: $( ((n % 2)) && echo north || echo south), role: cameras}
    addresses: {nvr: [${nvr[$name]:-198.18.1.10}]}
EOF
    done
    cat <<EOF
rollout: {waves: "1,10%,rest", confirm: "2m", parallel: 16}
health: {window: "3s", deny_rate_multiple: 3, deny_rate_floor: 1}
EOF
  } >"$dir/fleet.yaml"
}
write_fleet
lab_check "fleet check: exit 0" expect_exit 0 fleet check "$dir" --shipped-policies "$LAB_REPO/policies"
broken="$(fleet_name $((BOXES >= 5 ? 5 : BOXES)))"
write_fleet "$broken"='"198.18.1.10/99"'
bad_line="$(grep -n 'nvr: \["198.18.1.10/99"\]' "$dir/fleet.yaml" | cut -d: -f1)"
lab_check "a broken override on $broken: fleet check exits 3" expect_exit 3 fleet check "$dir" --shipped-policies "$LAB_REPO/policies"
lab_check "  naming the box and fleet.yaml:$bad_line" \
  grep -q "$broken: fleet.yaml:$bad_line: " "$LAB_STATE/last.out"
write_fleet
phase_end "1. check"

echo "== 2. plan: $BOXES boxes, all drift"
plan_start=$(date +%s%N)
rc=0
fleet plan "$dir" --json >"$work/plan.json" 2>"$work/plan.err" || rc=$?
plan_ms=$((($(date +%s%N) - plan_start) / 1000000))
echo "    fleet plan took $plan_ms ms (exit $rc)"
lab_check "plan: exit 0" test "$rc" = 0
plan_count() { jq -s --arg s "$1" 'map(select(.state == $s)) | length' "$work/plan.json"; }
# What the last plan said, for the log: each state's count, and the rows not in-sync.
plan_says() {
  echo "    plan: $(jq -s -c 'group_by(.state) | map({(.[0].state): length}) | add' "$work/plan.json" 2>&1)"
  jq -c 'select(.state != "in-sync")' "$work/plan.json" 2>/dev/null | sed -n '1,8s/^/      /p'
}
lab_check "plan: $BOXES rows" test "$(jq -s length "$work/plan.json")" = "$BOXES"
lab_check "plan: all drift" test "$(plan_count drift)" = "$BOXES"
rc=0
fleet plan "$dir" --json --fail-on-drift >/dev/null 2>&1 || rc=$?
lab_check "plan --fail-on-drift: exit 12" test "$rc" = 12
phase_end "2. plan"

echo "== 3. a 3-wave rollout while the canary's camera streams to its NVR"
fleet_cam_start 1 4
lab_check "the canary's camera reaches its NVR" \
  wait_until 10 bash -c '(( $(grep -c result=connected "$1") >= 2 ))' _ "$FLEET_STATE/cam01.flows"
apply() {  # apply ARGS...: fleet apply, output in $work/apply.out, exit code in $apply_rc
  apply_rc=0
  fleet apply "$dir" --window 3s --parallel 32 "$@" >"$work/apply.out" 2>&1 || apply_rc=$?
  lab_excerpt "$work/apply.out" 60
}
apply --waves 1,10%,rest --confirm 2m
lab_check "apply: exit 0" test "$apply_rc" = 0
lab_check "state: 3 waves of 1, 4 and 27" test "$(jq -c '[.boxes | group_by(.wave)[] | length]' "$state_file")" = "[1,4,27]"
lab_check "state: every box confirmed" test \
  "$(jq '[.boxes[] | select(.step == "STEP_CONFIRMED")] | length' "$state_file")" = "$BOXES"
snapshot
snap_text gw01 >"$work/text-3"
confirmed_new() {
  [[ "$(snap_revision "$1")" == 2 && "$(snap_pending "$1")" == none ]] &&
    [[ "$(snap_text "$1")" == "$(cat "$work/text-3")" ]]
}
lab_check "every box on revision 2, the desired text, not pending" all_boxes confirmed_new
lab_check "  the text has the change" grep -q 'deny: \[gateway\], proto: udp, ports: \[53\]' "$work/text-3"
lab_check "  and gw01's NVR from fleet.yaml" grep -Eq '^  nvr: \["?198.18.1.10"?\]' "$work/text-3"
fleet plan "$dir" --json >"$work/plan.json" 2>"$work/plan.err" || true
plan_says
lab_check "plan: all in-sync" test "$(plan_count in-sync)" = "$BOXES"
lab_check "the canary's camera never lost its NVR" test "$(fleet_cam_count 1 refused)$(fleet_cam_count 1 unreachable)" = 00
phase_end "3. rollout"

echo "== 4. the canary's health gate fails: its NVR moved in fleet.yaml, its camera is denied"
write_fleet gw01=198.18.1.20
denied_before="$(fleet_cam_count 1 refused)"
# The shortest confirm window fleet apply takes: two health windows and its 60 s margin.
apply --confirm 66s
lab_check "apply: exit 11 (halted)" test "$apply_rc" = 11
lab_check "state: halted, naming the canary" jqe '(.halted // "") | test("gw01")' "$state_file"
lab_check "state: the canary failed, no other box touched" test "$(jq -c \
  '[.boxes[] | select(.name != "gw01") | .step // "STEP_WAITING"] | unique' "$state_file")" = '["STEP_WAITING"]'
lab_check "the canary's camera was denied meanwhile" test "$(fleet_cam_count 1 refused)" -gt "$denied_before"
snapshot
lab_check "the canary runs revision 3, pending" \
  test "$(snap_revision gw01)/$(snap_pending gw01)" = 3/3
on_rev2() { [[ "$1" == gw01 || "$(snap_revision "$1")/$(snap_pending "$1")" == 2/none ]]; }
lab_check "no other box changed revision" all_boxes on_rev2
# Asked again while a box does not answer in time (a loaded machine), up to wait_until's bound.
# The first answer that was not yet right is kept for the log: a retry must not hide what it was.
plan_canary_pending() {
  fleet plan "$dir" --json >"$work/plan.json" 2>"$work/plan.err" || true
  [[ "$(plan_count pending)/$(plan_count in-sync)" == "1/$((BOXES - 1))" ]] && return 0
  [[ -f "$work/plan-first-miss" ]] || { plan_says; cat "$work/plan.err"; } >"$work/plan-first-miss" 2>&1
  return 1
}
plan_ok=0
wait_until 20 plan_canary_pending || plan_ok=$?
if [[ -f "$work/plan-first-miss" ]]; then
  echo "    a plan was asked again; the first answer:"
  lab_excerpt "$work/plan-first-miss" 12
fi
plan_says
lab_excerpt "$work/plan.err" 8
lab_check "plan: the canary pending, the other boxes in-sync" test "$plan_ok" = 0
canary_rolled_back() {
  local status
  status="$(fleet_ctl 1 --json status)" || return 1
  [[ "$(jq -r '.policy_revision' <<<"$status")" == 4 && "$(jq -r '.pending.revision // "none"' <<<"$status")" == none ]]
}
lab_check "the canary rolls back by itself at its deadline (revision 4, not pending)" \
  wait_until 90 canary_rolled_back
fleet_ctl 1 --json policy show | jq -r .content >"$work/gw01-after-rollback" 2>&1 || true
lab_check "  to the text of revision 2" cmp -s "$work/gw01-after-rollback" "$work/text-3"
connected_before="$(fleet_cam_count 1 connected)"
lab_check "  and its camera reaches its NVR again" \
  wait_until 10 bash -c '(( $(grep -c result=connected "$1") > $2 ))' _ "$FLEET_STATE/cam01.flows" "$connected_before"
phase_end "4. health gate"

echo "== 5. a box killed once it is applied in wave 2: the rollout halts, the box rolls back"
write_fleet
previous_sha="$(jq -r .desired_sha256 "$state_file")"
# A new change: cameras lose SSH to the gateway too.
sed -i 's/^      - {deny: \[gateway\], proto: udp, ports: \[53\]}$/&\n      - {deny: [gateway], proto: tcp, ports: [22]}/' \
  "$dir/policies/cameras.yaml"
apply_rc=0
fleet apply "$dir" --window 3s --parallel 32 --confirm 66s >"$work/apply5.out" 2>&1 &
apply_pid=$!
applied_in_wave2() {  # in this rollout's state, not the last one's
  jq -e --arg p "$previous_sha" '.desired_sha256 != $p' "$state_file" >/dev/null 2>&1 &&
  jq -r '.boxes[] | select(.wave == 2 and .step == "STEP_APPLIED") | .name' "$state_file" 2>/dev/null |
    head -n1 | grep .
}
victim=""
if wait_until 60 applied_in_wave2 >/dev/null; then victim="$(applied_in_wave2)"; fi
lab_check "a wave-2 box is applied (state file): ${victim:-none}" test -n "$victim"
if [[ -n "$victim" ]]; then
  victim_n="$(box_number "$victim")"
  lab_check "kill -9 $victim's muzzled" fleet_kill "$victim_n"
fi
wait "$apply_pid" || apply_rc=$?
lab_excerpt "$work/apply5.out" 40
lab_check "apply: exit 11 (halted)" test "$apply_rc" = 11
lab_check "state: halted" jqe '(.halted // "") != ""' "$state_file"
lab_check "state: wave 3 untouched" test "$(jq -c \
  '[.boxes[] | select(.wave == 3) | .step // "STEP_WAITING"] | unique' "$state_file")" = '["STEP_WAITING"]'
if [[ -n "$victim" ]]; then
  fleet_start "$victim_n"
  victim_status="$(fleet_ctl "$victim_n" --json status)"
  fleet_ctl "$victim_n" --json policy show | jq -r .content >"$work/victim-text" 2>&1 || true
  lab_check "$victim started again: not pending" \
    test "$(jq -r '.pending.revision // "none"' <<<"$victim_status")" = none
  lab_check "  runs a new revision (the rollback at start: 4)" \
    test "$(jq -r '.policy_revision' <<<"$victim_status")" = 4
  lab_check "  with the old text" cmp -s "$work/victim-text" "$work/text-3"
  lab_check "  its log says it rolled back at start" \
    grep -Eq 'event=policy-rolled-back .*restart inside the confirmation window' "$(fleet_dir "$victim_n")/muzzled.log"
fi
# The wave's other applied boxes would roll back at their deadline too (phase 4 waited for one);
# the admin, who read why the rollout halted, rolls them back now instead of waiting.
none_pending() {
  snapshot
  local name
  for name in $(names); do [[ "$(snap_pending "$name")" == none ]] || return 1; done
}
snapshot
for name in $(names); do
  if [[ "$(snap_pending "$name")" != none ]]; then
    echo "    rolling back $name's unconfirmed revision $(snap_pending "$name")"
    fleet_ctl "$(box_number "$name")" policy rollback >/dev/null
  fi
done
lab_check "nothing pending on any box" wait_until 20 none_pending
phase_end "5. box killed"

echo "== 6. the CLI killed in wave 2; the same command again finishes the rollout"
previous_sha="$(jq -r .desired_sha256 "$state_file")"
# A new change again: cameras lose NTP from the gateway.
sed -i 's/^      - {deny: \[gateway\], proto: tcp, ports: \[22\]}$/&\n      - {deny: [gateway], proto: udp, ports: [123]}/' \
  "$dir/policies/cameras.yaml"
# Started directly (not through a shell function), so that $! is muzzlectl itself: ip netns exec
# execs it.
ip netns exec "$(fleet_ns admin)" "$BUILD/mgmt/muzzlectl" fleet apply "$dir" --window 3s \
  --parallel 32 --confirm 2m >"$work/apply6a.out" 2>&1 &
cli_pid=$!
# Killed once every wave-2 box is applied and saved so (the CLI is then in the health window):
# the resumed run must gate and confirm those, not apply them again.
wave2_under_way() {
  jq -e --arg p "$previous_sha" '.desired_sha256 != $p and
         ([.boxes[] | select(.wave == 1 and .step == "STEP_CONFIRMED")] | length) == 1 and
         ([.boxes[] | select(.wave == 2 and .step != "STEP_APPLIED")] | length) == 0' \
    "$state_file" >/dev/null 2>&1
}
lab_check "wave 1 confirmed, wave 2 applied (state file)" wait_until 60 wave2_under_way
lab_check "kill -9 muzzlectl (pid $cli_pid)" \
  bash -c '[[ "$(cat /proc/$1/comm)" == muzzlectl ]] && kill -KILL "$1"' _ "$cli_pid"
wait "$cli_pid" 2>/dev/null || true
lab_excerpt "$work/apply6a.out" 20
lab_check "the killed CLI left the rollout unfinished" \
  jqe '[.boxes[] | select(.step != "STEP_CONFIRMED")] | length > 0' "$state_file"
apply_rc=0
fleet apply "$dir" --window 3s --parallel 32 --confirm 2m >"$work/apply6b.out" 2>&1 || apply_rc=$?
lab_excerpt "$work/apply6b.out" 40
lab_check "the same command again: exit 0" test "$apply_rc" = 0
lab_check "state: every box confirmed" test \
  "$(jq '[.boxes[] | select(.step == "STEP_CONFIRMED")] | length' "$state_file")" = "$BOXES"
snapshot
snap_text gw01 >"$work/text-6"
lab_check "  the desired text has the last change" grep -q 'ports: \[123\]' "$work/text-6"
on_text6() { [[ "$(snap_pending "$1")" == none ]] && [[ "$(snap_text "$1")" == "$(cat "$work/text-6")" ]]; }
lab_check "every box runs the desired text, confirmed" all_boxes on_text6
once() { [[ "$(snap_same_text_count "$1")" == 1 ]]; }
lab_check "no box was given the desired text twice (policy history)" all_boxes once
fleet plan "$dir" --json >"$work/plan.json" 2>"$work/plan.err" || true
plan_says
lab_check "plan: all in-sync" test "$(plan_count in-sync)" = "$BOXES"
phase_end "6. CLI killed, resumed"

echo "== timings"
for phase in "lab up ($BOXES gateways, ready)" "1. check" "2. plan" "3. rollout" "4. health gate" \
  "5. box killed" "6. CLI killed, resumed"; do
  printf '    %-32s %4s s\n' "$phase" "${took[$phase]:-?}"
done
printf '    %-32s %4s ms\n' "fleet plan ($BOXES boxes)" "$plan_ms"
printf '    %-32s %4s s\n' "whole test (before teardown)" "$((SECONDS - test_start))"
lab_summary
