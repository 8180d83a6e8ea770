#!/usr/bin/env bash
# The state folder (state_dir) may be read-only, full, torn or corrupted; the box must keep
# enforcing, say so loudly, and refuse only what it cannot store and audit:
#   1. a fresh box on a read-only state folder (a read-only bind mount), and
#   2. a fresh box on a full one (a 16 kB tmpfs, filled): the configured policy is enforced with
#      the fail-closed ruleset, GetStatus says the folder cannot be written, `policy apply` and
#      SIGHUP are refused with what to do, and kill -9 leaves new flows blocked (fail closed);
#   3. a writable folder whose `current` pointer, then whose current revision, gets damaged: the
#      restart falls back to the newest intact revision (an event, the status, the log), keeps the
#      damaged files, and an admin's apply clears the report;
#   4. an audit log cut short, or deleted: `audit --verify` exits 9.
# The mounts live in this test's own mount namespace and go away with it.
set -euo pipefail
if [[ -z "${MUZZLE_OWN_MOUNTS:-}" ]]; then
  if ((EUID != 0)); then
    echo "skipped: the lab needs root (network namespaces, mounts)"
    exit 77
  fi
  exec env MUZZLE_OWN_MOUNTS=1 unshare --mount --propagation private bash "$0" "$@"
fi
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

MOUNTS="$(mktemp -d /tmp/muzzle-state-mounts.XXXXXX)"
chmod 755 "$MOUNTS"  # muzzled runs as the user muzzle: it must reach the state folders inside
cleanup_mounts() {
  umount -l "$MOUNTS/ro" 2>/dev/null || true
  umount -l "$MOUNTS/full" 2>/dev/null || true
  rm -rf "$MOUNTS"
}
# errexit still holds inside a trap: nothing may stop it before lab_down, which returns the
# test's status.
trap 'status=$?; set +e; cleanup_mounts; (exit "$status"); lab_down' EXIT

scenario_lab_up
status_says() { ctl status >"$LAB_STATE/status.out" 2>&1 && grep -q -- "$1" "$LAB_STATE/status.out"; }
table_present() { lab_exec gw nft list table inet muzzle >/dev/null; }

cp "$LAB_REPO/policies/site-example.yaml" "$LAB_STATE/orig.yaml"
# The example policy with cameras allowed to reach cloud1 on 443.
sed '/^  camera:$/,/^    egress:$/s/^    egress:$/&\n      - {allow: [203.0.113.10], proto: tcp, ports: [443]}/' \
  "$LAB_STATE/orig.yaml" >"$LAB_STATE/open.yaml"

# A fresh box on state folder $1: enforces, reports, refuses changes, fails closed.
unwritable_box() {
  local dir="$1" why="$2" errno_text="$3"
  export LAB_STATE_DIR="$dir"
  lab_start_muzzled
  lab_check "ruleset installed although $why" table_present
  lab_check "the problem is logged (event=state-unwritable)" wait_log 'event=state-unwritable' 5
  lab_table_header
  lab_expect allowed cam1 nvr tcp 554
  lab_expect rejected cam1 cloud1 tcp 443
  lab_expect allowed cam1 nvr tcp 554 6
  lab_check "status: the state folder is not writable" status_says 'NOT WRITABLE'
  lab_check "status names the folder" status_says "state unwritable: $dir"
  lab_check "events show it" bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' events | grep -q 'event=state-unwritable'"
  lab_check "policy apply is refused: exit 4 (FAILED_PRECONDITION)" expect_exit 4 ctl policy apply "$LAB_STATE/open.yaml"
  lab_check "the refusal says why and what to do" \
    grep -q "FAILED_PRECONDITION: cannot apply revision 1: the state folder $dir cannot be written .*$errno_text.*Make $dir writable" "$LAB_STATE/last.out"
  lab_check "validate still works" bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' policy validate '$LAB_STATE/open.yaml' >/dev/null"
  cp "$LAB_STATE/open.yaml" "$LAB_STATE/policy.yaml"
  lab_reload_muzzled
  lab_check "SIGHUP is refused the same way" wait_log "event=policy-error error=\"cannot apply revision 1: the state folder $dir" 5
  lab_table_header
  lab_expect rejected cam1 cloud1 tcp 443
  cp "$LAB_STATE/orig.yaml" "$LAB_STATE/policy.yaml"
  echo "== kill -9: the ruleset it installed fails closed"
  lab_kill_muzzled
  lab_table_header
  lab_expect blocked cam1 nvr tcp 554
  unset LAB_STATE_DIR
}

echo "== 1. a fresh box on a read-only state folder"
mkdir -p "$MOUNTS/ro"
chown muzzle:muzzle "$MOUNTS/ro"  # the user's own folder, as /var/lib/muzzle is; then read-only
mount --bind "$MOUNTS/ro" "$MOUNTS/ro"
mount -o remount,bind,ro "$MOUNTS/ro"
lab_check "the folder is read-only" bash -c "! touch '$MOUNTS/ro/probe' 2>/dev/null"
unwritable_box "$MOUNTS/ro" "the state folder is read-only" "Read-only file system"

echo "== 2. a fresh box on a full state folder"
mkdir -p "$MOUNTS/full"
mount -t tmpfs -o size=16k,uid=$(id -u muzzle),gid=$(id -g muzzle) tmpfs "$MOUNTS/full"
dd if=/dev/zero of="$MOUNTS/full/filler" bs=4k 2>/dev/null || true
lab_check "the folder is full" bash -c "! echo x >'$MOUNTS/full/probe' 2>/dev/null"
unwritable_box "$MOUNTS/full" "the state folder is full" "No space left on device"

echo "== 3. damaged state on a writable folder falls back to the newest intact revision"
lab_start_muzzled
lab_check "apply revision 2 (cameras may reach cloud1)" expect_exit 0 ctl policy apply "$LAB_STATE/open.yaml"
lab_check "status: the state folder is ok" status_says 'state folder  *ok'
lab_stop_muzzled
printf '\x00\x00garbage' >"$LAB_STATE/revisions/current"
lab_start_muzzled
lab_check "restart logs the damage and the fallback" wait_log "event=state-damaged file=$LAB_STATE/revisions/current .*fallback_revision=2" 5
lab_check "events show it" bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' events | grep -q 'event=state-damaged'"
lab_check "status: fell back to revision 2" status_says 'fell back to the text of revision 2'
lab_check "the damaged pointer is kept" bash -c "ls '$LAB_STATE/revisions/' | grep -q '^current.damaged-'"
lab_table_header
lab_expect allowed cam1 cloud1 tcp 443 # revision 2's text, not the configured file's
lab_stop_muzzled
# Revision 3 (the fallback, current now) torn: its parent, revision 2, runs again.
printf 'version: 1\nprof' >"$LAB_STATE/revisions/r00000003.policy"
lab_start_muzzled
lab_check "a torn revision is set aside" bash -c "ls '$LAB_STATE/revisions/' | grep -q '^r00000003.policy.damaged-'"
lab_check "status: fell back to revision 2 again" status_says 'fell back to the text of revision 2'
lab_check "the new revision is 4 (numbers only grow)" status_says 'policy revision  *4 '
lab_table_header
lab_expect allowed cam1 cloud1 tcp 443
lab_check "an admin's apply clears the report" expect_exit 0 ctl policy apply "$LAB_STATE/orig.yaml"
lab_check "status: ok again" status_says 'state folder  *ok'
lab_table_header
lab_expect rejected cam1 cloud1 tcp 443

echo "== 4. the audit log cut short or deleted"
lab_check "audit --verify" expect_exit 0 ctl audit --verify
cp -p "$LAB_STATE/audit.log" "$LAB_STATE/audit.log.orig"  # -p: muzzled's file, its owner kept
sed -i '$d' "$LAB_STATE/audit.log"
lab_check "the last entry cut: audit --verify exits 9" expect_exit 9 ctl audit --verify
lab_check "it says entries were cut from the end" grep -q 'entries were cut from its end' "$LAB_STATE/last.out"
rm "$LAB_STATE/audit.log"
lab_check "the log deleted: audit --verify exits 9" expect_exit 9 ctl audit --verify
lab_check "it says the log was deleted" grep -q 'the log was deleted' "$LAB_STATE/last.out"
cp -p "$LAB_STATE/audit.log.orig" "$LAB_STATE/audit.log"
lab_check "restored: audit --verify" expect_exit 0 ctl audit --verify

lab_summary
