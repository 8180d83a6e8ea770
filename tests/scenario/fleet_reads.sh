#!/usr/bin/env bash
# A central admin reads a fleet from its fleet directory (muzzlectl fleet check/plan/devices/
# events) across three lab gateways, reached on their unix sockets, and a fourth box that is
# down:
#   - check: every box's desired policy compiles offline; a broken one is named with file, line
#     and box;
#   - plan: every box drifts from the fleet's policy; once one box runs its desired text, that
#     box is in sync and the others still drift (--fail-on-drift: 12); the box that is down is
#     listed as unreachable (exit 10);
#   - devices: the lab's devices from every box with its name and site, a --vendor filter;
#   - events --follow: a deny from each box, prefixed with its name; interrupted, it saves where
#     each box stood, and the next run goes on from there without repeating what was shown.
#
# Each gateway is its own lab, built by this script re-run as `--gateway ID READY` (as in
# mgmt_fleet.sh): it brings the lab up, starts muzzled, writes its socket path to READY and
# waits; killing it tears the lab down.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

if [[ "${1:-}" == --gateway ]]; then
  lab_up "$2" >/dev/null  # its errors (stderr) go to the gateway's log
  lab_start_muzzled
  echo "$LAB_STATE/muzzled.sock" >"$3.tmp" && mv "$3.tmp" "$3"
  # READY.restart asks for a restart of muzzled (a new run: new event numbers); READY.restarted
  # says it is back.
  while true; do
    if [[ -e "$3.restart" ]]; then
      rm -f "$3.restart"
      lab_stop_muzzled && lab_start_muzzled && touch "$3.restarted"
    fi
    sleep 0.2
  done
fi

work="$(mktemp -d /tmp/muzzle-fleet-reads.XXXXXX)"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

indent() { sed 's/^/    /' "$@"; }

ids=()
for n in 1 2 3; do
  id="r$$n$n"
  id="${id:0:12}"
  ids+=("$id")
  bash "$0" --gateway "$id" "$work/ready-$n" >"$work/gw-$n.log" 2>&1 &
  pids+=($!)
done

# The fleet directory: one group for the three gateways, and a spare box that is down. The
# fleet's policy is the example with one more rule for cameras (no DNS to the gateway), so every
# box, running the example, drifts from it by one line.
fleet="$work/fleet"
mkdir -p "$fleet/policies"
sed '/^  camera:$/,/^    egress:$/s/^    egress:$/&\n      - {deny: [gateway], proto: udp, ports: [53]}/' \
  "$LAB_REPO/policies/site-example.yaml" >"$fleet/policies/site.yaml"
for n in 1 2 3; do
  # Nothing below means anything without all three (lab_check itself never fails).
  if lab_wait_file "$work/ready-$n" 60; then lab_pass "gateway $n is up"; else
    lab_fail "gateway $n is up"
    indent "$work/gw-$n.log"
    exit 1
  fi
done
{
  echo "version: 1"
  echo "groups:"
  echo "  - {name: sites, select: {role: gateway}, policy: policies/site.yaml}"
  echo "  - {name: spares, select: {role: spare}, policy: policies/site.yaml}"
  echo "boxes:"
  for n in 1 2 3; do
    echo "  - {name: gw$n, target: \"unix:$(cat "$work/ready-$n")\", labels: {role: gateway, site: site$n}}"
  done
  echo "  - {name: gw4, target: \"unix:$work/nothing.sock\", labels: {role: spare, site: site4}}"
} >"$fleet/fleet.yaml"
socket() { echo "$(cat "$work/ready-$1")"; }
ctl() { "$BUILD/mgmt/muzzlectl" "$@"; }
# Runs muzzlectl, keeping its exit code in $rc (set -e would stop at the first non-zero).
ctl_rc() {
  rc=0
  "$BUILD/mgmt/muzzlectl" "$@" || rc=$?
}

echo "== fleet check: every box's desired policy compiles, offline"
ctl_rc fleet check "$fleet" --shipped-policies "$LAB_REPO/policies" >"$work/check.out" 2>&1
indent "$work/check.out"
lab_check "fleet check: exit 0" test "$rc" = 0
cp -r "$fleet" "$work/broken"
sed -i 's/ports: \[53\]}/ports: [70000]}/' "$work/broken/policies/site.yaml"
ctl_rc fleet check "$work/broken" --shipped-policies "$LAB_REPO/policies" >"$work/check-broken.out" 2>&1
indent "$work/check-broken.out"
lab_check "a broken policy: exit 3" test "$rc" = 3
line="$(grep -n 'ports: \[70000\]' "$work/broken/policies/site.yaml" | cut -d: -f1)"
lab_check "the error names the box, the file and the line" \
  grep -q "^gw1: policies/site.yaml:$line: .*70000" "$work/check-broken.out"

echo "== fleet plan: every box drifts from the fleet's policy"
ctl_rc fleet plan "$fleet" --select role=gateway >"$work/plan1.out" 2>&1
indent "$work/plan1.out"
lab_check "plan: exit 0 without --fail-on-drift" test "$rc" = 0
for n in 1 2 3; do
  lab_check "gw$n drifts, +1 -0, running r1" grep -Eq "^gw$n +unix:.* sites +drift +r1 +\+1 -0 " "$work/plan1.out"
done
echo "    (3-box plan: $(sed -n 's/.*(\([0-9.]* s\))$/\1/p' "$work/plan1.out"))"

echo "== one box gets its desired text: that box is in sync, the others still drift"
ctl --socket "$(socket 1)" policy apply --comment "fleet desired" "$fleet/policies/site.yaml" | indent
ctl_rc fleet plan "$fleet" --select role=gateway --fail-on-drift --diff >"$work/plan2.out" 2>&1
indent "$work/plan2.out"
lab_check "gw1 in sync at r2" grep -Eq '^gw1 +unix:.* sites +in-sync +r2 +\+0 -0 ' "$work/plan2.out"
lab_check "gw2 and gw3 still drift" test "$(grep -Ec '^gw[23] .* drift ' "$work/plan2.out")" = 2
lab_check "--fail-on-drift: exit 12" test "$rc" = 12
lab_check "--diff: gw2's diff, labelled" grep -q '^--- gw2 running r1$' "$work/plan2.out"
lab_check "--diff: the added line" grep -q '^+      - {deny: \[gateway\], proto: udp, ports: \[53\]}$' "$work/plan2.out"
ctl_rc fleet plan "$fleet" --select site=site1 --json --fail-on-drift >"$work/plan-json.out" 2>&1
indent "$work/plan-json.out"
lab_check "--json: gw1's row says in-sync, revision 2" \
  grep -q '"box":"gw1".*"state":"in-sync","running_revision":"2"' "$work/plan-json.out"
lab_check "--json, in sync: exit 0" test "$rc" = 0

echo "== a box that is down is listed as unreachable"
ctl_rc fleet plan "$fleet" >"$work/plan3.out" 2>"$work/plan3.err"
indent "$work/plan3.out" "$work/plan3.err"
lab_check "exit 10" test "$rc" = 10
lab_check "gw4's row: unreachable" grep -Eq '^gw4 +unix:.* spares +unreachable +- +- ' "$work/plan3.out"
lab_check "stderr says why" grep -q '^muzzlectl: gw4 (unix:.*): unreachable: UNAVAILABLE' "$work/plan3.err"
lab_check "the others are still planned" test "$(grep -Ec '^gw[123] .* (drift|in-sync) ' "$work/plan3.out")" = 3

# Traffic on every box: a deny (camera to the gateway's ssh) that makes an event and makes the
# cameras seen (their vendor known).
deny_from_cameras() {  # PORT
  local id
  for id in "${ids[@]}"; do
    ip netns exec "mz$id-cam1" "$LABNET" tcp 198.18.10.1 "$1" --timeout-ms 300 >/dev/null || true
    ip netns exec "mz$id-cam2" "$LABNET" tcp 198.18.10.1 "$1" --timeout-ms 300 >/dev/null || true
  done
}

echo "== fleet events --follow: a deny from each box, prefixed with its name"
# muzzlectl itself in the background (not through a function: a subshell would take the signal).
"$BUILD/mgmt/muzzlectl" fleet events "$fleet" --follow >"$work/events1.out" 2>"$work/events1.err" &
watcher=$!
pids+=("$watcher")
sleep 0.5
deny_from_cameras 22
streamed() {  # FILE PORT [GATEWAY...] (default: 1 2 3)
  local file="$1" port="$2" n gateways
  shift 2
  gateways=("$@")
  ((${#gateways[@]})) || gateways=(1 2 3)
  for n in "${gateways[@]}"; do
    grep -q "^\[gw$n\] [0-9]* .*event=deny device=lobby-cam .*dst=198.18.10.1:$port" "$file" || return 1
  done
}
# Up to 10 s: a box that was down is tried again after up to 4 s by then.
wait_streamed() { for _ in $(seq 1 100); do streamed "$@" && return 0; sleep 0.1; done; return 1; }
lab_check "a deny line from gw1, gw2 and gw3" wait_streamed "$work/events1.out" 22
grep 'event=deny device=lobby-cam' "$work/events1.out" | indent

echo "== gw3's muzzled restarts: its stream is taken up again, the restart shown as a gap"
touch "$work/ready-3.restart"
lab_check "gw3 restarted" lab_wait_file "$work/ready-3.restarted" 30
ip netns exec "mz${ids[2]}-cam1" "$LABNET" tcp 198.18.10.1 24 --timeout-ms 300 >/dev/null || true
lab_check "gw3's deny after the restart (the stream was tried again)" \
  wait_streamed "$work/events1.out" 24 3
lab_check "a gap line: muzzled restarted" \
  grep -q '^\[gw3\] gap: muzzled restarted since event [0-9]*:[0-9]*' "$work/events1.out"
grep -E '^\[gw3\] (gap: |.*dst=198.18.10.1:24)' "$work/events1.out" | indent
lab_check "gw4 (down) is tried again, 1 s then 2 s" \
  grep -Pzq '\[gw4\] UNAVAILABLE: [^\n]*trying again in 1 s, after 0:0\n(.*\n)*\[gw4\] UNAVAILABLE: [^\n]*trying again in 2 s' "$work/events1.err"
grep -E '^\[gw[34]\]' "$work/events1.err" | cut -c1-160 | indent
kill -INT "$watcher"
rc=0
for _ in $(seq 1 50); do kill -0 "$watcher" 2>/dev/null || break; sleep 0.1; done
wait "$watcher" || rc=$?
lab_check "interrupted: exit 130" test "$rc" = 130
lab_check "the state file has each box that answered" \
  test "$(grep -c '"gw[123]"' "$fleet/.fleet-events.json")" = 3
indent "$fleet/.fleet-events.json"

echo "== fleet events again: goes on where the last run stopped"
deny_from_cameras 23
sleep 0.3
ctl_rc fleet events "$fleet" --select role=gateway >"$work/events2.out" 2>"$work/events2.err"
indent "$work/events2.out" "$work/events2.err"
lab_check "exit 0" test "$rc" = 0
lab_check "the new denies, from each box" streamed "$work/events2.out" 23
lab_check "none of the events shown before" \
  bash -c "! grep -Eq 'dst=198.18.10.1:2[24]' '$work/events2.out'"
lab_check "no gap (nothing lost)" bash -c "! grep -q '] gap: ' '$work/events2.out'"
ctl_rc fleet events "$fleet" --select role=gateway >"$work/events3.out" 2>&1
lab_check "a third run: nothing new to show" test ! -s "$work/events3.out"
ctl_rc fleet events "$fleet" --select role=gateway --from-start --json >"$work/events4.out" 2>&1
lab_check "--from-start --json: every box's events again, one JSON line each, with the box" \
  test "$(grep -c '^{"box":"gw[123]","event":{.*"dst":"198.18.10.1:22"' "$work/events4.out")" -ge 3

echo "== fleet devices: the lab's devices from every box"
ctl_rc fleet devices "$fleet" >"$work/devices.out" 2>"$work/devices.err"
indent "$work/devices.out" "$work/devices.err"
lab_check "exit 10: gw4 is down" test "$rc" = 10
lab_check "gw4 named on stderr" grep -q '^muzzlectl: gw4 (unix:.*): not listed: UNAVAILABLE' "$work/devices.err"
for n in 1 2 3; do
  lab_check "gw$n's lobby-cam, with its site" \
    grep -Eq "^gw$n +site$n +44:47:cc:00:00:11 +lobby-cam +Hangzhou Hikvision" "$work/devices.out"
done
ctl_rc fleet devices "$fleet" --select role=gateway --vendor HIKVISION >"$work/hik.out" 2>&1
indent "$work/hik.out"
lab_check "--vendor: exit 0" test "$rc" = 0
lab_check "--vendor: only Hikvision devices" \
  bash -c "! tail -n +2 '$work/hik.out' | grep -vq 'Hikvision'"
lab_check "--vendor: both seen cameras on all three boxes" \
  test "$(grep -Ec '^gw[123] .* 44:47:cc:00:00:1[12] ' "$work/hik.out")" = 6
ip netns exec "mz${ids[1]}-unknown" "$LABNET" tcp 198.18.10.1 22 --timeout-ms 300 >/dev/null || true
ctl_rc fleet devices "$fleet" --select role=gateway --new >"$work/new.out" 2>&1
indent "$work/new.out"
lab_check "--new: the one device a policy does not list, on gw2 alone" \
  test "$(tail -n +2 "$work/new.out" | awk '{print $1, $3}')" = "gw2 02:5a:00:00:00:99"
ctl_rc fleet devices "$fleet" --select role=gateway --json --vendor hikvision >"$work/hik.json" 2>&1
lab_check "--json: a line per device, with its box and labels" \
  grep -q '^{"box":"gw2","labels":{.*"site":"site2".*},"device":{"mac":"44:47:cc:00:00:11"' "$work/hik.json"

echo "== a 1,000-box plan (every box one of the three gateways)"
big="$work/fleet-1000"
mkdir -p "$big"
cp -r "$fleet/policies" "$big/"
{
  echo "version: 1"
  echo "groups: [{name: all, select: {}, policy: policies/site.yaml}]"
  echo "boxes:"
  for i in $(seq 1 1000); do
    echo "  - {name: b$i, target: \"unix:$(socket $(((i % 3) + 1)))\"}"
  done
} >"$big/fleet.yaml"
start=$(date +%s%N)
ctl_rc fleet plan "$big" >"$work/plan-1000.out" 2>&1
end=$(date +%s%N)
tail -n 1 "$work/plan-1000.out" | indent
echo "    (1,000-box plan: $(((end - start) / 1000000)) ms wall, muzzlectl and three muzzled on this machine)"
lab_check "1,000 rows, none failed" grep -q '^1000 boxes: [0-9]* in-sync, [0-9]* drift, 0 pending, 0 unreachable, 0 error' "$work/plan-1000.out"

lab_summary
