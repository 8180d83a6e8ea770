#!/usr/bin/env bash
# The management socket checks who connects (their credentials, not only the file's mode): root
# and the uids and groups in management.socket_access get in; any other local user is
# disconnected and logged, even with the socket file opened up to 0666. And one muzzled per
# network namespace: a second one started with the same config exits with a clear error,
# leaving the first one's socket, ruleset and queues as they were.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

# Numeric ids that need no account on this machine: uid 65533 and group 65532 are allowed.
export LAB_MANAGEMENT='  socket_access: {uids: [65533], groups: ["65532"]}'
scenario_lab_up
lab_start_muzzled
sock="$LAB_STATE/muzzled.sock"
probe="$BUILD/tests/lab/grpc_probe"

# Let any user reach the socket through the state folder, and open the file itself to everyone:
# whatever happens now is muzzled's own check.
chmod o+x "$LAB_STATE"
chmod 0666 "$sock"

# as UID GID [SUPPLEMENTARY-GROUP] command...: runs the command as that user, no other groups.
as() {
  local uid="$1" gid="$2" groups=(--clear-groups)
  shift 2
  if [[ "$1" =~ ^[0-9]+$ ]]; then
    groups=(--groups "$1")
    shift
  fi
  setpriv --reuid="$uid" --regid="$gid" "${groups[@]}" "$@"
}
status_as() {  # status_as UID GID [GROUP]: grpc_probe status as that user; prints its line
  as "$@" "$probe" "unix:$sock" status 2>&1 || true
}

echo "== who may connect"
printf '    %-40s %-9s %s\n' 'caller' 'expected' 'got'
row() {  # row EXPECTED DESCRIPTION UID GID [GROUP]
  local expected="$1" what="$2" got
  shift 2
  got="$(status_as "$@")"
  if [[ "$got" == *role=admin* ]]; then got=served; else got="refused: $got"; fi
  printf '    %-40s %-9s %s\n' "$what" "$expected" "$got"
  if [[ "$expected" == served ]]; then [[ "$got" == served ]]; else [[ "$got" == refused* ]]; fi
}
lab_check "root" row served "root (uid 0)" 0 0
lab_check "a uid in socket_access.uids" row served "uid 65533" 65533 65533
lab_check "primary group in socket_access.groups" row served "uid 65531, group 65532" 65531 65532
lab_check "supplementary group in socket_access.groups" row served "uid 65531, group 65531 + 65532" 65531 65531 65532
lab_check "nobody, socket file mode 0666" row refused "nobody (65534)" 65534 65534
lab_check "another user, none of its groups listed" row refused "uid 65531, group 65531" 65531 65531
lab_check "the refusal is logged with uid, gid and pid" \
  wait_log 'event=management-refused uid=65534 gid=65534 pid=[0-9]+ socket=.*muzzled\.sock' 5
lab_check "  and for the other user" wait_log 'event=management-refused uid=65531 gid=65531 ' 5
rc=0
as 65534 65534 "$BUILD/mgmt/muzzlectl" --socket "$sock" --timeout 5 status >"$LAB_STATE/ctl.out" 2>&1 || rc=$?
sed 's/^/    /' "$LAB_STATE/ctl.out"
lab_check "muzzlectl as nobody: exit 6, no call served" test "$rc" = 6
lab_check "  and it says this user may not use the socket" \
  grep -q 'this user may not use its management socket' "$LAB_STATE/ctl.out"

echo "== a second muzzled in the same network namespace"
ruleset() { lab_exec gw nft -a list table inet muzzle 2>/dev/null | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/'; }
ruleset_before="$(ruleset)"
status_before="$("$probe" "unix:$sock" status)"
rc=0
lab_exec gw timeout 30 "$BUILD/mgmt/muzzled" --config "$LAB_STATE/muzzled.yaml" >"$LAB_STATE/second.log" 2>&1 || rc=$?
sed 's/^/    /' "$LAB_STATE/second.log"
lab_check "it exits with status 1" test "$rc" = 1
lab_check "  saying which muzzled runs there" \
  grep -q "event=start-failed error=\"another muzzled (pid $LAB_MUZZLED_PID, uid $(id -u muzzle)) runs in this network namespace" \
  "$LAB_STATE/second.log"
lab_check "the first one's socket is still there and answers" \
  bash -c "'$probe' 'unix:$sock' status | grep -q role=admin"
lab_check "  with the same generation and revision" \
  bash -c "[[ \"\$('$probe' 'unix:$sock' status)\" == '$status_before' ]]"
lab_check "the ruleset is untouched (same rules, same handles)" \
  bash -c "[[ \"\$1\" == \"\$2\" ]]" _ "$ruleset_before" "$(ruleset)"
echo "    the first one's queues still judge:"
lab_table_header
lab_expect allowed cam1 nvr tcp 554
lab_expect rejected cam1 cloud1 tcp 443
lab_check "the first muzzled is still running" kill -0 "$LAB_MUZZLED_PID"
# Another socket path changes nothing: the lock is the network namespace's, not the socket's.
sed "s#socket: .*#socket: $LAB_STATE/other.sock#" "$LAB_STATE/muzzled.yaml" >"$LAB_STATE/other.yaml"
rc=0
lab_exec gw timeout 30 "$BUILD/mgmt/muzzled" --config "$LAB_STATE/other.yaml" >"$LAB_STATE/other.log" 2>&1 || rc=$?
lab_check "with another socket path it is refused the same way" \
  bash -c "[[ $rc == 1 ]] && grep -q 'another muzzled (pid $LAB_MUZZLED_PID' '$LAB_STATE/other.log' && [[ ! -e '$LAB_STATE/other.sock' ]]"
lab_summary
