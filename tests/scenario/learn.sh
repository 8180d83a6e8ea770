#!/usr/bin/env bash
# Learning mode on a running box. garage-cam (cam2, a camera: NVR, DNS and time on the box,
# nothing else) is put in a learning session and lives a day: it looks up its cloud names and
# connects to them, asks for the time by name, streams to the NVR, connects to one hard-coded
# IP and tries DNS over TLS. muzzled is restarted half-way and the record survives it.
# `learn show` lists the flows; `learn propose` answers a profile that allows the named cloud
# and time, with the hard-coded IP and DoT as findings; applied (commit-confirmed) and given to
# garage-cam, the same traffic passes and the hard-coded IP and DoT do not. Then lobby-cam (cam1)
# learns in observe mode: loud (events, marked in `devices`), allowed what its profile does not
# explicitly deny, and back under its profile once stopped. Bad input: clear errors, exit codes.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

scenario_lab_up
lab_start_muzzled

CAM2=44:47:cc:00:00:12
CAM1=44:47:cc:00:00:11

# A UDP flow to a name: looked up through the gateway first, then one datagram to it.
#   expect_udp_name EXPECTED FROM NAME PORT
# EXPECTED: rejected (the box answers ICMP), or passes: not rejected. The lab's UDP echo answers
# from its uplink address, not the cloud address asked, so an allowed datagram to a cloud name
# gets no answer the prober accepts; the verdict itself is checked in `learn show`.
expect_udp_name() {
  local expected="$1" from="$2" name="$3" port="$4" host line got ok=0
  host="$(lab_resolve "$from" "$name" 4)"
  line="$(lab_flow "$from" udp "${host:-0.0.0.0}" "$port" --timeout-ms 1000)" || true
  got="$(sed -n 's/.*result=\([a-z-]*\).*/\1/p' <<<"$line")"
  case "$expected" in
    passes) [[ "$got" == answered || "$got" == connected || "$got" == timeout ]] && ok=1 ;;
    rejected) [[ "$got" == refused || "$got" == unreachable ]] && ok=1 ;;
  esac
  _lab_row "$ok" "$from -> $name ${host:-(no-address)} udp/$port" "$expected" "$got" ""
}

# garage-cam's day, IPv4; EXPECTED per row is what its profile answers at that point.
day_morning() {  # day_morning EXPECTED_CLOUD EXPECTED_TIME
  lab_expect_name "$1" cam2 telemetry.vendor.example tcp 443
  expect_udp_name "$2" cam2 time.vendor.example 123
  lab_expect allowed cam2 nvr tcp 554
  lab_expect allowed nvr cam2 tcp 554
}
day_evening() {  # day_evening EXPECTED_CLOUD
  lab_expect_name "$1" cam2 telemetry.vendor.example tcp 443
  lab_expect allowed cam2 gw udp 123
  lab_expect rejected cam2 cloud1 tcp 443  # 203.0.113.10, never looked up: a hard-coded IP
  lab_expect rejected cam2 inet tcp 853    # DNS over TLS
}

echo "== bad input: clear errors and exit codes"
lab_check "a bad MAC: exit 3" expect_exit 3 ctl learn start zz:47:cc:00:00:12 --for 1h
lab_check "it names the field" grep -q 'mac: "zz:47:cc:00:00:12" is not an Ethernet address' "$LAB_STATE/last.out"
lab_check "a zero duration: exit 2" expect_exit 2 ctl learn start "$CAM2" --for 0
lab_check "a bad duration: exit 2" expect_exit 2 ctl learn start "$CAM2" --for 1y
lab_check "too long: exit 3" expect_exit 3 ctl learn start "$CAM2" --for 721h
lab_check "it says the limit" grep -q 'at most 720 hours' "$LAB_STATE/last.out"
lab_check "show without a session: exit 7" expect_exit 7 ctl learn show "$CAM2"
lab_check "stop without a session: exit 7" expect_exit 7 ctl learn stop "$CAM2"
lab_check "propose without a session: exit 7" expect_exit 7 ctl learn propose "$CAM2"

echo "== garage-cam learns for a day"
lab_check "learn start --for 24h" expect_exit 0 ctl learn start "$CAM2" --for 24h
lab_check "the box says so" wait_log "event=learn-start mac=$CAM2 .*observe=no"
lab_table_header
day_morning rejected rejected
lab_check "devices marks it" bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' devices | grep '$CAM2' | grep -q '(learning)'"

echo "== muzzled restarts; the record survives"
lab_check "learn show before" expect_exit 0 ctl learn show "$CAM2"
lab_check "it lists the cloud by name" grep -q 'egress.*telemetry.vendor.example.*tcp.*443.*reject' "$LAB_STATE/last.out"
lab_stop_muzzled
lab_start_muzzled
lab_check "the session was loaded" wait_log "event=learn-loaded sessions=1"
lab_table_header
day_evening rejected

lab_check "learn show" expect_exit 0 ctl learn show "$CAM2"
out="$LAB_STATE/last.out"
lab_check "still learning" grep -q "^$CAM2 learning" "$out"
lab_check "the cloud by name, twice" grep -Eq 'egress +telemetry.vendor.example +tcp +443 +2 ' "$out"
lab_check "the time by name" grep -Eq 'egress +time.vendor.example +udp +123 ' "$out"
lab_check "the NVR by address" grep -Eq 'egress +198.18.1.10 +tcp +554 .*allow' "$out"
lab_check "the NVR connecting to it" grep -Eq 'inbound +198.18.1.10 +tcp +554 .*allow' "$out"
lab_check "the hard-coded IP" grep -Eq 'egress +203.0.113.10 +tcp +443 .*reject' "$out"
lab_check "the DoT attempt" grep -Eq 'egress +198.51.100.2 +tcp +853 .*reject' "$out"
lab_check "--json too" bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' --json learn show $CAM2 | grep -q '\"target\": \"telemetry.vendor.example\"'"

echo "== the proposal: names allowed, the rest findings; nothing changes yet"
lab_check "learn propose --profile garage-cam" expect_exit 0 ctl learn propose "$CAM2" --profile garage-cam
out="$LAB_STATE/last.out"
sed -n '21,80s/^/    /p' "$out"
lab_check "the hard-coded IP is a finding" grep -Eq '^hard-coded-ip +203.0.113.10 +tcp +443' "$out"
lab_check "DoT is a finding" grep -Eq '^dns-bypass +198.51.100.2 +tcp +853' "$out"
lab_check "the siblings collapse below vendor.example, tcp 443" grep -q '^+      - {allow: \["\*.vendor.example"\], proto: tcp, ports: \[443\]}' "$out"
lab_check "and udp 123 (time)" grep -q '^+      - {allow: \["\*.vendor.example"\], proto: udp, ports: \[123\]}' "$out"
lab_check "built on the camera profile" grep -q '^+    preset: camera-nvr-only' "$out"
lab_check "no rule for the hard-coded IP" bash -c "! grep -q '^+.*203.0.113.10' '$out'"
lab_check "no rule for DoT" bash -c "! grep -q '^+.*853' '$out'"
lab_check "a preview" grep -q '^preview: profile garage-cam into revision 1, not applied' "$out"
lab_check "still revision 1" test "$(revision)" = 1

echo "== applied (commit-confirmed) and given to garage-cam"
lab_check "learn propose --apply --confirm 10m" expect_exit 0 ctl learn propose "$CAM2" --profile garage-cam --apply --confirm 10m
lab_check "revision 1 -> 2, to confirm" grep -q '^revision 1 -> 2, confirm by' "$LAB_STATE/last.out"
lab_check "confirm" expect_exit 0 ctl policy confirm
lab_check "the audit log says why" bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' audit | grep -q 'learning proposal for $CAM2'"
lab_check "device set garage-cam --profile garage-cam" expect_exit 0 ctl device set "$CAM2" --profile garage-cam

echo "== the same day again: the named traffic passes, the hard-coded IP and DoT do not"
lab_table_header
day_morning allowed passes
day_evening allowed
lab_check "learn show: the time by name was allowed by a rule now" expect_exit 0 ctl learn show "$CAM2"
lab_check "time.vendor.example udp 123: allow" grep -Eq 'egress +time.vendor.example +udp +123 +2 .* allow *$' "$LAB_STATE/last.out"
lab_check "the cloud: allow" grep -Eq 'egress +telemetry.vendor.example +tcp +443 +4 .* allow *$' "$LAB_STATE/last.out"
lab_check "the hard-coded IP: still reject" grep -Eq 'egress +203.0.113.10 +tcp +443 +2 .* reject *$' "$LAB_STATE/last.out"
lab_check "learn stop" expect_exit 0 ctl learn stop "$CAM2"
lab_check "the session ended" wait_log "event=learn-end mac=$CAM2 observe=no why=stopped"
lab_expect_name rejected cam2 avs.voice.example tcp 443   # never seen: still refused
lab_expect_name rejected cam2 relay.p2p.example tcp 443   # the site's explicit deny stays
lab_expect allowed cam1 nvr tcp 554                       # lobby-cam keeps the camera profile
lab_expect_name rejected cam1 telemetry.vendor.example tcp 443

echo "== observe mode: loud, and only explicit denies hold"
lab_check "learn start --observe" expect_exit 0 ctl learn start "$CAM1" --for 1h --observe
lab_check "the box says so" wait_log "event=learn-start mac=$CAM1 .*observe=yes"
lab_check "devices marks it" bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' devices | grep '$CAM1' | grep -q 'OBSERVE'"
lab_table_header
lab_expect allowed cam1 cloud1 tcp 443                    # refused by `otherwise` only
lab_expect_name rejected cam1 relay.p2p.example tcp 443   # an explicit deny
lab_check "the observed flow is logged as such" wait_log "event=allow .*mac=$CAM1 .*learn=observe"
lab_check "learn stop" expect_exit 0 ctl learn stop "$CAM1"
lab_check "the end is an event" wait_log "event=learn-end mac=$CAM1 observe=yes why=stopped"
lab_expect rejected cam1 cloud1 tcp 443                   # under its profile again

lab_summary
