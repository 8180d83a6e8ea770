#!/usr/bin/env bash
# Unit test (CTest `image_issue`, label `unit`, no privileges) of image/systemd/muzzle-issue, the
# console's first-steps text: on a fake interfaces folder and password file, for each state of
# muzzled (idle, enforcing, failed), it must name every interface but lo with its Ethernet address
# and link, say how to name the segment and uplink only while nothing is enforced, warn about
# root's missing password only while it is missing, and never let a backslash through (agetty
# would expand it). Prints one line per check; exits 1 if any failed.
set -uo pipefail

script="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/systemd/muzzle-issue"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

check() {  # DESCRIPTION COMMAND...
  local what="$1"
  shift
  if "$@"; then
    passed=$((passed + 1))
    printf '  PASS %s\n' "$what"
  else
    failed=$((failed + 1))
    printf '  FAIL %s\n' "$what"
    printf '       text was:\n%s\n' "$(sed 's/^/       | /' "$work/text" 2>/dev/null)"
  fi
}
has() { grep -q -- "$1" "$work/text"; }
lacks() { ! grep -q -- "$1" "$work/text"; }

iface() {  # NAME MAC OPERSTATE
  mkdir -p "$work/net/$1"
  printf '%s\n' "$2" >"$work/net/$1/address"
  printf '%s\n' "$3" >"$work/net/$1/operstate"
}
run() {  # STATUS: writes the text to $work/text (stdout) and $work/run/issue.d/50-muzzle.issue
  MUZZLE_ISSUE_NET="$work/net" MUZZLE_ISSUE_SHADOW="$work/shadow" MUZZLE_ISSUE_STATUS="$1" \
    MUZZLE_ISSUE_OUT="$work/run/issue.d/50-muzzle.issue" bash "$script" >"$work/text" 2>"$work/err"
}

echo "box with two ports, muzzled idle, root without password"
iface lo 00:00:00:00:00:00 unknown
iface enp1s0 52:54:00:12:34:56 up
iface enp2s0 52:54:00:12:34:57 down
printf 'root::19000:0:99999:7:::\nmuzzle:!*:19000::::::\n' >"$work/shadow"
run 'active|idle: no segment configured'
check "exits 0" test $? = 0
check "names enp1s0 with its address and link up" has 'enp1s0 *52:54:00:12:34:56 *link up'
check "names enp2s0 with its address and no link" has 'enp2s0 *52:54:00:12:34:57 *no link'
check "leaves lo out of the list" lacks '^  lo '
check "says nothing is managed yet, with muzzled's status" \
  has 'manages no segment yet (muzzled: idle: no segment configured)'
check "says how: the config file and the restart" has 'edit /etc/muzzle/muzzled.yaml'
check "  and systemctl restart muzzled" has 'then: systemctl restart muzzled'
check "says root has no password and to run passwd" has 'root has no password yet.*run passwd'
check "writes the same text to the issue file" cmp -s "$work/text" "$work/run/issue.d/50-muzzle.issue"
check "leaves no temporary file" test ! -e "$work/run/issue.d/50-muzzle.issue.new"

echo "box with no port but lo (the smoke boot: qemu without a NIC)"
rm -rf "$work/net/enp1s0" "$work/net/enp2s0"
run 'active|idle: no segment configured'
check "says there is no interface but lo" has 'none but lo (loopback)'
check "says Muzzle needs two Ethernet ports" has 'needs two Ethernet ports'

echo "a muzzlectl with the setup command, and one without"
mkdir -p "$work/bin"
printf '#!/bin/sh\nprintf "Subcommands:\\n  status   x\\n  setup    name the segment\\n"\n' >"$work/bin/muzzlectl"
chmod +x "$work/bin/muzzlectl"
PATH="$work/bin:$PATH" run 'active|idle: no segment configured'
check "names muzzlectl setup when muzzlectl has it" has '^  muzzlectl setup '
printf '#!/bin/sh\nprintf "Subcommands:\\n  status   x\\n"\n' >"$work/bin/muzzlectl"
PATH="$work/bin:$PATH" run 'active|idle: no segment configured'
check "  and not when it has not (an unknown command's --help exits 0 too)" lacks 'muzzlectl setup'
check "  then the config file is the way" has '^  edit /etc/muzzle/muzzled.yaml'

echo "a configured segment, root's password set"
iface br-cam 02:00:00:00:00:01 up
printf 'root:$y$j9T$abc$def:19000:0:99999:7:::\n' >"$work/shadow"
run 'active|enforcing generation 3 on cameras:br-cam (queue_mode=native)'
check "says what muzzled enforces" \
  has '^Muzzle: enforcing generation 3 on cameras:br-cam (queue_mode=native).'
check "  and no longer how to set up" lacks 'manages no segment'
check "no password warning once root has one" lacks 'passwd'

echo "muzzled failed; backslashes in what it reports"
run 'failed|bad \config\n'
check "says muzzled is not running and where to look" has 'muzzled is not running (failed): journalctl -u muzzled'
check "no backslash reaches agetty" lacks '\\'

echo "the issue file cannot be written"
MUZZLE_ISSUE_NET="$work/net" MUZZLE_ISSUE_SHADOW="$work/shadow" MUZZLE_ISSUE_STATUS='active|idle' \
  MUZZLE_ISSUE_OUT="/proc/muzzle-issue-test/50-muzzle.issue" bash "$script" >"$work/text" 2>"$work/err"
check "still exits 0 (never fails the boot)" test $? = 0
check "  and says which file it could not write" \
  grep -q 'cannot write /proc/muzzle-issue-test/50-muzzle.issue' "$work/err"

echo "this machine's own interfaces (read-only)"
MUZZLE_ISSUE_STATUS='inactive|' MUZZLE_ISSUE_OUT=- bash "$script" >"$work/text" 2>&1
check "reads the real /sys/class/net and names each interface but lo" bash -c '
  for d in /sys/class/net/*; do n="${d##*/}"; [[ $n == lo ]] && continue
    grep -q "^  $n " "$0" || exit 1; done' "$work/text"

echo "$passed passed, $failed failed"
((failed == 0))
