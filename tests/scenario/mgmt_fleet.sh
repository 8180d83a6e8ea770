#!/usr/bin/env bash
# "Done when" of the management plane: a central admin pushes one policy to three boxes (three
# lab gateways) with one muzzlectl command, sees each box's result, and watches denials stream
# in from all three. The boxes are reached on their unix sockets (the fleet mechanics do not
# depend on the transport; TCP + mTLS is its own concern).
#
# Each gateway is its own lab, built by this script re-run as `--gateway ID READY`: it brings the
# lab up, starts muzzled, writes its socket path to READY and waits; killing it tears it down.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

if [[ "${1:-}" == --gateway ]]; then
  lab_up "$2" >/dev/null 2>&1
  lab_start_muzzled
  echo "$LAB_STATE/muzzled.sock" >"$3.tmp" && mv "$3.tmp" "$3"
  while true; do sleep 1; done
fi

work="$(mktemp -d /tmp/muzzle-fleet.XXXXXX)"
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

ids=()
for n in 1 2 3; do
  id="f$$n$n"
  id="${id:0:12}"
  ids+=("$id")
  bash "$0" --gateway "$id" "$work/ready-$n" >"$work/gw-$n.log" 2>&1 &
  pids+=($!)
done
for n in 1 2 3; do
  # lab_check counts and goes on: a gateway that is not up ends the script here, with its log.
  lab_wait_file "$work/ready-$n" 30 || { cat "$work/gw-$n.log"; lab_fail "gateway $n is up"; exit 1; }
  echo "gw$n unix:$(cat "$work/ready-$n")" >>"$work/fleet"
done
ctl() { "$BUILD/mgmt/muzzlectl" --targets "$work/fleet" "$@"; }

# One policy for the site: cameras also lose DNS to the gateway (a visible change: a rule of the
# site, tried before the camera preset's).
sed '/^  camera:$/,/^    egress:$/s/^    egress:$/&\n      - {deny: [gateway], proto: udp, ports: [53]}/' \
  "$LAB_REPO/policies/site-example.yaml" >"$work/site.yaml"

echo "== one command, three boxes"
start=$(date +%s%N)
ctl policy apply --confirm 2m --comment "site push" "$work/site.yaml" | tee "$work/apply.out"
end=$(date +%s%N)
echo "    (fleet apply took $(((end - start) / 1000000)) ms)"
lab_check "three rows, all ok" test "$(grep -c ' ok  ' "$work/apply.out")" = 3
lab_check "each went 1 -> 2" test "$(grep -c 'revision 1 -> 2, confirm by' "$work/apply.out")" = 3
ctl policy confirm | tee "$work/confirm.out"
lab_check "confirmed on all three" test "$(grep -c 'revision 2 confirmed' "$work/confirm.out")" = 3

echo "== one box down: the fleet command says which, and fails"
cp "$work/fleet" "$work/fleet-broken"
echo "gw4 unix:$work/nothing.sock" >>"$work/fleet-broken"
rc=0
"$BUILD/mgmt/muzzlectl" --targets "$work/fleet-broken" status >"$work/status.out" || rc=$?
sed 's/^/    /' "$work/status.out"
lab_check "exit 10 when a box failed" test "$rc" = 10
lab_check "gw4's row says FAILED(6)" grep -q '^gw4 .*FAILED(6)' "$work/status.out"

echo "== denials stream in from every box"
ctl events --follow --after 0 >"$work/events.out" 2>&1 &
watcher=$!
pids+=("$watcher")
sleep 0.3
for id in "${ids[@]}"; do
  ip netns exec "mz$id-cam1" "$LABNET" udp 198.18.10.1 53 --timeout-ms 300 >/dev/null || true
done
streamed() {
  local n
  for n in 1 2 3; do
    grep -q "^\[gw$n\] .*event=deny device=lobby-cam .*dst=198.18.10.1:53" "$work/events.out" || return 1
  done
}
wait_streamed() { for _ in $(seq 1 50); do streamed && return 0; sleep 0.1; done; return 1; }
lab_check "a deny line from gw1, gw2 and gw3" wait_streamed
grep 'event=deny' "$work/events.out" | sed 's/^/    /'
kill "$watcher" 2>/dev/null || true

lab_summary
