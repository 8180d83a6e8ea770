#!/usr/bin/env bash
# A box whose muzzled.yaml names no segment (the package's default) serves the management API
# and is set up with `muzzlectl setup`: idle, it says so and lists what to configure and its
# interfaces, refuses the calls that need an enforcing box (FAILED_PRECONDITION) and touches no
# nftables; a viewer's setup is refused (PERMISSION_DENIED, over mutual TLS); bad setups
# (unknown interface, uplink = segment) are refused naming the field, and the box stays idle; a
# setup the box cannot enforce (another process holds its queue: hold_queue.py) is answered
# UNAVAILABLE and the same process is idle again, saying why; a good one makes the same process
# enforce (a denied flow rejected, an allowed one passes), and after a restart the box comes
# back enforcing from state_dir/setup.yaml.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

certs="$(mktemp -d /tmp/muzzle-idle.XXXXXX)"
trap 'lab_down; rm -rf "$certs"' EXIT
scenario_certs "$certs"
scenario_issue box box "subjectAltName=IP:198.18.1.1"
scenario_issue viewer dash "extendedKeyUsage=clientAuth"
scenario_lab_up

# The package's config: no segment, no uplink, no policy; management on the socket and, for the
# viewer, mutual TLS on the gateway's NVR-side address.
tls="$(scenario_tls_management <<'MORE'
    allow: [198.18.1.0/24]
    roles:
      - {identity: dash, role: viewer}
MORE
)"
cat >"$LAB_STATE/muzzled.yaml" <<CONFIG
segments: []
state_dir: $LAB_STATE
# The source tree's policies, as /usr/share/muzzle/policies holds them on a box.
shipped_policies: $LAB_REPO/policies
management:
  socket: $LAB_STATE/muzzled.sock
$tls
CONFIG

# Starts muzzled as lab_start_muzzled does, but on the file above; waits for PATTERN's count in
# the log to grow.
start_muzzled() {
  local pattern="$1" before
  : >>"$LAB_STATE/muzzled.log"
  chown -R muzzle:muzzle "$LAB_STATE"
  before="$(log_count "$pattern")"
  ip netns exec "$(lab_ns gw)" "$BUILD/mgmt/muzzled" --config "$LAB_STATE/muzzled.yaml" \
    >>"$LAB_STATE/muzzled.log" 2>&1 </dev/null &
  LAB_MUZZLED_PID=$!
  _lab_remember_pid "$LAB_MUZZLED_PID"
  wait_until 20 _log_count_above "$pattern" "$before"
}
no_table() { ! lab_exec gw nft list table inet muzzle >/dev/null 2>&1; }
# The whole answer first: `grep -q` leaving early would make the pipeline fail (pipefail).
idle_status() { [[ "$(ctl status)" == *'IDLE: no segment configured'* ]]; }
enforcing_status() { [[ "$(ctl status 2>/dev/null)" == *"(from $LAB_STATE/setup.yaml)"* ]]; }
viewer() {
  lab_exec nvr "$BUILD/mgmt/muzzlectl" --target 198.18.1.1:7443 --ca "$certs/ca.pem" --timeout 5 \
    --cert "$certs/viewer.pem" --key "$certs/viewer.key" "$@"
}

echo "== idle: the management API, and nothing enforced"
lab_check "muzzled starts idle and serves management" start_muzzled 'event=management .*state=idle'
lab_check "status: exit 0" expect_exit 0 ctl status
lab_check "  it says idle" grep -q 'IDLE: no segment configured; nothing is judged' "$LAB_STATE/last.out"
lab_check "  and what to configure" grep -q 'segments: none named' "$LAB_STATE/last.out"
ctl status >"$LAB_STATE/status.out"
lab_check "  and the interfaces it sees (the bridge, the uplink)" \
  bash -c "grep -Eq '^br-cam +bridge' '$LAB_STATE/status.out' && grep -q '^uplink0 ' '$LAB_STATE/status.out'"
lab_check "a call that needs an enforcing box: FAILED_PRECONDITION (exit 4)" \
  expect_exit 4 ctl devices
lab_check "  idle: no segment configured; run muzzlectl setup" \
  grep -q 'idle: no segment configured; run muzzlectl setup' "$LAB_STATE/last.out"
lab_check "no nftables table" no_table

echo "== setups that are refused; the box stays idle"
lab_check "a viewer's setup: PERMISSION_DENIED (exit 5)" \
  expect_exit 5 viewer setup --segment br-cam --uplink uplink0
lab_check "  it needs admin" grep -q 'role viewer (dash) may not set up the box; it needs admin' "$LAB_STATE/last.out"
lab_check "the viewer may read the status" expect_exit 0 viewer status
lab_check "an unknown interface: exit 3" expect_exit 3 ctl setup --segment nosuch0 --uplink uplink0
lab_check "  naming the field" grep -q 'segments\[0\]: "nosuch0" is not an interface of this box' "$LAB_STATE/last.out"
lab_check "the uplink as a segment too: exit 3" expect_exit 3 ctl setup --segment br-cam --uplink br-cam
lab_check "  naming the field" grep -q 'uplinks\[0\]: "br-cam" is also segments\[0\]' "$LAB_STATE/last.out"
lab_check "setup alone (no terminal): the interfaces and what to run" expect_exit 0 ctl setup
lab_check "  the uplink listed, and the command" \
  bash -c "grep -q '^uplink0 ' '$LAB_STATE/last.out' && grep -q 'muzzlectl setup --segment IFACE' '$LAB_STATE/last.out'"
lab_check "a dry run of a good setup: exit 0" \
  expect_exit 0 ctl setup --segment cameras=br-cam --uplink uplink0 --dry-run
lab_check "  checked only" grep -q 'checked only (--dry-run): nothing stored, nothing enforced' "$LAB_STATE/last.out"
lab_check "still idle" idle_status
lab_check "  nothing stored" test ! -e "$LAB_STATE/setup.yaml"
lab_check "  no nftables table" no_table

echo "== a setup the box cannot enforce (its queue taken): back to idle, saying why"
lab_exec gw python3 "$(dirname "$0")/hold_queue.py" 100 >"$LAB_STATE/hold.out" 2>&1 &
_lab_remember_pid $!
lab_check "another process holds queue 100" wait_until 10 grep -q bound "$LAB_STATE/hold.out"
holder="$(sed -n 's/^bound pid=//p' "$LAB_STATE/hold.out")"
_lab_remember_pid "$holder"
lab_check "setup: UNAVAILABLE (exit 6)" expect_exit 6 ctl --timeout 60 setup \
  --segment cameras=br-cam --uplink uplink0 --policy "$LAB_REPO/policies/site-example.yaml"
lab_check "  the box stays idle, and says why" \
  grep -q 'the box could not start enforcing, so it stays idle' "$LAB_STATE/last.out"
lab_check "the same process serves again, idle" wait_until 20 idle_status
lab_check "  status names the failure" \
  bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' status | grep -q '^last setup failed: '"
lab_check "  the choice is not kept" test ! -e "$LAB_STATE/setup.yaml"
lab_check "  logged" wait_log 'event=setup-failed '
kill "$holder"
lab_check "the queue is free again" wait_until 10 bash -c "! kill -0 $holder"

echo "== a good setup: enforcing in the same process"
pid_before="$LAB_MUZZLED_PID"
lab_check "setup: exit 0, once enforcing" expect_exit 0 ctl --timeout 60 setup \
  --segment cameras=br-cam --uplink uplink0 --policy "$LAB_REPO/policies/site-example.yaml"
lab_check "  it answers with the generation it enforces" \
  grep -q 'enforcing generation [0-9]* on cameras:br-cam' "$LAB_STATE/last.out"
lab_check "the same process" kill -0 "$pid_before"
lab_check "  logged: the setup, then ready" wait_log 'event=ready .*segments=cameras:br-cam'
lab_check "the socket is served again, the segments from setup.yaml" wait_until 20 enforcing_status
lab_check "  stored in state_dir/setup.yaml" grep -q 'interface: "br-cam"' "$LAB_STATE/setup.yaml"
lab_check "a second setup is refused: the box enforces already (exit 4)" \
  expect_exit 4 ctl setup --segment br-cam --uplink uplink0
echo "    the camera's traffic is judged:"
lab_table_header
lab_expect allowed cam1 nvr tcp 554
lab_expect rejected cam1 cloud1 tcp 443

echo "== a restart comes back enforcing from setup.yaml"
lab_check "muzzled stops" lab_stop_muzzled
lab_check "and starts again, enforcing" start_muzzled 'event=ready .*segments=cameras:br-cam'
lab_check "  the log says where the segments came from" \
  wait_until 20 _log_count_above "event=management .*segments_from=$LAB_STATE/setup.yaml" 1
lab_table_header
lab_expect allowed cam1 nvr tcp 554
lab_expect rejected cam1 cloud1 tcp 443
lab_summary
