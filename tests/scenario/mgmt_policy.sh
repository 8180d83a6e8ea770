#!/usr/bin/env bash
# The management plane on one box, through muzzlectl on the unix socket: apply + confirm, apply
# without confirm rolls back by itself, kill -9 inside the window rolls back at restart, stale
# revision -> ABORTED (exit 4), bad policy -> INVALID_ARGUMENT (exit 3) with the line and nothing
# changed, an oversize request -> RESOURCE_EXHAUSTED (exit 8), events resume after a reconnect
# and across a restart (EPOCH:SEQUENCE: a gap marked restarted first),
# and the audit chain verifies and catches an edited entry (exit 9).
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

export LAB_MANAGEMENT="  max_message_bytes: 65536"
scenario_lab_up
lab_start_muzzled

# The example policy with cameras allowed to reach cloud1 on 443 (a rule of the site's, tried
# before the camera preset's), and the original.
cp "$LAB_REPO/policies/site-example.yaml" "$LAB_STATE/orig.yaml"
sed '/^  camera:$/,/^    egress:$/s/^    egress:$/&\n      - {allow: [203.0.113.10], proto: tcp, ports: [443]}/' \
  "$LAB_STATE/orig.yaml" >"$LAB_STATE/open.yaml"
lab_check "the changed policy differs" bash -c "! cmp -s '$LAB_STATE/orig.yaml' '$LAB_STATE/open.yaml'"

echo "== bad policy: INVALID_ARGUMENT with the line, nothing changes"
sed 's/ports: \[53, 123\]/ports: [70000, 123]/' "$LAB_STATE/orig.yaml" >"$LAB_STATE/bad.yaml"
bad_line="$(grep -n 70000 "$LAB_STATE/bad.yaml" | cut -d: -f1)"
lab_check "apply of a bad policy exits 3" expect_exit 3 ctl policy apply "$LAB_STATE/bad.yaml"
lab_check "the error lists policy.yaml:$bad_line and the field, from the error details" \
  grep -qx "policy.yaml:$bad_line: profiles.vacuum.egress\[1\].ports\[0\]: 70000 is not a port" "$LAB_STATE/last.out"
lab_check "apply --json of a bad policy exits 3" expect_exit 3 ctl --json policy apply "$LAB_STATE/bad.yaml"
lab_check "--json prints the violations, line and field apart" \
  bash -c "grep -q '\"line\": $bad_line' '$LAB_STATE/last.out' &&
           grep -q '\"field\": \"profiles.vacuum.egress\[1\].ports\[0\]\"' '$LAB_STATE/last.out'"
lab_check "validate exits 3 too" expect_exit 3 ctl policy validate "$LAB_STATE/bad.yaml"
lab_check "still revision 1" test "$(revision)" = 1

echo "== apply + confirm"
lab_check "diff shows the change" expect_exit 0 ctl policy diff "$LAB_STATE/open.yaml"
lab_check "the diff has the new rule" grep -q '^ *+.*allow: \[203.0.113.10\], proto: tcp, ports: \[443\]' "$LAB_STATE/last.out"
lab_check "apply --confirm 30s" expect_exit 0 ctl policy apply --expect 1 --confirm 30s --comment "open cloud" "$LAB_STATE/open.yaml"
lab_check "status shows the pending commit" bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' status | grep -q 'revision 2 awaits confirmation'"
lab_check "another apply while pending exits 4 (FAILED_PRECONDITION)" expect_exit 4 ctl policy apply "$LAB_STATE/orig.yaml"
grep -q FAILED_PRECONDITION "$LAB_STATE/last.out" || lab_fail "FAILED_PRECONDITION named"
lab_table_header
lab_expect allowed cam1 cloud1 tcp 443
lab_check "confirm" expect_exit 0 ctl policy confirm
lab_check "stale --expect 1 exits 4 (ABORTED)" expect_exit 4 ctl policy apply --expect 1 "$LAB_STATE/orig.yaml"
lab_check "ABORTED named" grep -q 'ABORTED: expected revision 1, but the box is at revision 2' "$LAB_STATE/last.out"

echo "== apply without confirm rolls back by itself"
events_before="$(ctl --json status | sed -n 's/.*"last_event_sequence": "\{0,1\}\([0-9]*\).*/\1/p')"
lab_check "rollback to 1 (revision 3)" expect_exit 0 ctl policy rollback 1
lab_check "apply --confirm 1s" expect_exit 0 ctl policy apply --confirm 1s "$LAB_STATE/open.yaml"
rolled_back() { grep -q '^5\*.*muzzled.*was not confirmed in time' <<<"$(ctl policy history)"; }
wait_rollback() { for _ in $(seq 1 60); do rolled_back && return 0; sleep 0.1; done; return 1; }
lab_check "revision 5 (the text of 3) is current, by muzzled" wait_rollback
lab_table_header
lab_expect rejected cam1 cloud1 tcp 443

echo "== kill -9 inside the window rolls back at restart"
lab_check "apply --confirm 5m" expect_exit 0 ctl policy apply --confirm 5m "$LAB_STATE/open.yaml"
lab_expect allowed cam1 cloud1 tcp 443
lab_kill_muzzled
lab_start_muzzled
lab_check "after restart: revision 7 from the rollback" test "$(revision)" = 7
lab_check "audit names the restart" bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' audit | grep -q 'auto-rollback.*6 -> 7.*restart inside the confirmation window'"
lab_table_header
lab_expect rejected cam1 cloud1 tcp 443

echo "== events resume after a reconnect"
lab_expect rejected cam2 cloud1 tcp 443
lab_check "events --after N (a reconnect) shows the deny from before" \
  bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' events --after 2 | grep -q 'event=deny device=garage-cam'"
last="$(ctl events | tail -n1 | cut -d' ' -f1)"
lab_expect rejected cam1 cloud1 tcp 443
lab_check "events --after $last: exactly what came since" \
  bash -c "out=\$('$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' events --after $last); echo \"\$out\" | sed 's/^/    /'; head -n1 <<<\"\$out\" | grep -q '^$((last + 1)) '"
: "$events_before"

echo "== events resume across a restart: the resume token EPOCH:SEQUENCE"
token="$(ctl status | grep -o 'last event *[0-9]*:[0-9]*' | grep -o '[0-9]*:[0-9]*$')"
lab_check "status shows the resume token of the newest event ($token)" grep -Eq '^[1-9][0-9]*:[1-9][0-9]*$' <<<"$token"
lab_check "resuming with it before a restart: nothing lost, no gap" \
  bash -c "! '$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' events --after '$token' | grep -q '^gap'"
lab_stop_muzzled
lab_start_muzzled
resumed="$(ctl events --after "$token")"
sed -n '1,2p' <<<"$resumed" | sed 's/^/    /'
lab_check "after a restart: a gap marked restarted comes first" \
  grep -q "^gap: muzzled restarted since event $token; " <<<"$(head -n1 <<<"$resumed")"
lab_check "... then this run's events from its first" grep -q '^1 ' <<<"$(sed -n 2p <<<"$resumed")"
lab_check "a bare sequence this run never reached is an earlier run's too" \
  grep -q '^gap: this run of muzzled never reached event 999999 ' <<<"$(ctl events --after 999999 | head -n1)"
lab_check "a malformed token is a usage error (exit 2)" expect_exit 2 ctl events --after 12:x

echo "== oversize request refused"
head -c 70000 /dev/zero | tr '\0' '#' >"$LAB_STATE/huge.yaml"
lab_check "a 70 kB policy exits 8 (RESOURCE_EXHAUSTED)" expect_exit 8 ctl policy apply "$LAB_STATE/huge.yaml"

echo "== audit"
lab_check "audit --verify" expect_exit 0 ctl audit --verify
sed -i '2s/"apply"/"apply!"/' "$LAB_STATE/audit.log"
lab_check "an edited entry: audit --verify exits 9" expect_exit 9 ctl audit --verify
lab_check "it names line 2" grep -q 'audit.log:2: hash does not match' "$LAB_STATE/last.out"

lab_summary
