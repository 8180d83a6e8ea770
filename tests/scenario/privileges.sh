#!/usr/bin/env bash
# muzzled started as root (as the lab, a script or an admin by hand starts it) becomes the user
# muzzle holding CAP_NET_ADMIN alone before it reads a packet or a request, and still installs
# its ruleset, judges traffic, writes its state and serves its socket. Without the user it
# refuses to start and says what to do; `--user root` stays root, with a warning.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

if ! getent passwd muzzle >/dev/null; then
  echo "FAIL: no user muzzle: run tests/setup.sh (it creates it, as the package does)"
  exit 1
fi
uid="$(id -u muzzle)"
gid="$(id -g muzzle)"
readonly cap_net_admin_only=0000000000001000  # 1 << CAP_NET_ADMIN (12)

scenario_lab_up
lab_start_muzzled

# A field of /proc/PID/status as the kernel prints it (tab-separated).
status_field() { sed -n "s/^$1:\t//p" "/proc/$LAB_MUZZLED_PID/status"; }
# Every thread's four uids are muzzle's: no thread kept root's.
threads_dropped() {
  awk -v u="$uid" '$1 == "Uid:" && !($2 == u && $3 == u && $4 == u && $5 == u) { bad = 1 }
                   END { exit bad }' "/proc/$LAB_MUZZLED_PID"/task/*/status
}
echo "== muzzled (pid $LAB_MUZZLED_PID) started as root"
grep -E '^(Uid|Gid|Groups|Cap[A-Za-z]+|NoNewPrivs):' "/proc/$LAB_MUZZLED_PID/status" | sed 's/^/    /'
lab_check "it logged the drop (event=privileges user=muzzle ... from=root)" \
  grep -q "event=privileges user=muzzle uid=$uid gid=$gid capabilities=cap_net_admin from=root" \
  "$LAB_STATE/muzzled.log"
lab_check "real, effective, saved and filesystem uid are muzzle's ($uid)" \
  test "$(status_field Uid)" = "$(printf '%s\t%s\t%s\t%s' "$uid" "$uid" "$uid" "$uid")"
lab_check "all four gids are muzzle's ($gid)" \
  test "$(status_field Gid)" = "$(printf '%s\t%s\t%s\t%s' "$gid" "$gid" "$gid" "$gid")"
lab_check "CapEff is CAP_NET_ADMIN alone" test "$(status_field CapEff)" = "$cap_net_admin_only"
lab_check "CapPrm is CAP_NET_ADMIN alone" test "$(status_field CapPrm)" = "$cap_net_admin_only"
lab_check "CapBnd is CAP_NET_ADMIN alone" test "$(status_field CapBnd)" = "$cap_net_admin_only"
lab_check "no inheritable or ambient capability" \
  test "$(status_field CapInh)$(status_field CapAmb)" = 00000000000000000000000000000000
lab_check "no_new_privs is set" test "$(status_field NoNewPrivs)" = 1
lab_check "every thread ($(ls "/proc/$LAB_MUZZLED_PID/task" | wc -l)) runs as muzzle too" threads_dropped

echo "== and it still enforces"
lab_table_header
lab_expect allowed cam1 nvr tcp 554
lab_expect rejected cam1 cloud1 tcp 443
lab_expect allowed cam1 nvr tcp 554 6
lab_expect rejected cam1 cloud1 tcp 443 6
lab_check "its state is written as muzzle (revisions/)" \
  test "$(stat -c %U "$LAB_STATE/revisions")" = muzzle
"$BUILD/mgmt/muzzlectl" --socket "$LAB_STATE/muzzled.sock" status >"$LAB_STATE/status.out" 2>&1 || true
lab_check "the management socket answers (muzzlectl status)" grep -q '^your role  *admin' "$LAB_STATE/status.out"
lab_check "the kernel's queue counters (root's file, opened before the drop) are read" \
  bash -c "grep -q '^queues ' '$LAB_STATE/status.out' && ! grep -q 'counters .*unavailable' '$LAB_STATE/status.out'"
lab_reload_muzzled
lab_check "a reload (SIGHUP) re-reads the policy as muzzle" wait_log 'event=policy-unchanged' 10
lab_check "muzzled stops cleanly" lab_stop_muzzled

echo "== no such user: a clear refusal, not root"
refused() { ! lab_start_muzzled "$@" 2>/dev/null; }
lab_check "start with --user muzzle-ghost fails" refused --user muzzle-ghost
lab_check "  event=start-failed says to create the user or pass --user root" \
  grep -q 'event=start-failed error="user \\"muzzle-ghost\\" does not exist.*useradd --system.*--user root to stay root on purpose' \
  "$LAB_STATE/muzzled.log"

echo "== --user root: root on purpose, and said so"
lab_check "start with --user root" lab_start_muzzled --user root
lab_check "  a warning says it keeps every privilege" \
  grep -q 'event=warning problem="running as root (--user root)"' "$LAB_STATE/muzzled.log"
lab_check "  it runs as uid 0" test "$(status_field Uid | cut -f1)" = 0
lab_expect allowed cam1 nvr tcp 554

lab_summary
