#!/bin/bash
# Per-device accounting in a real kernel: NftRulesetWriter (through accounting_check, one
# process driven line by line) installs table `inet muzzle` with accounting on in a firewall
# namespace between a device and a far host, real UDP datagrams cross it, and readAccounting()
# must report exactly their IP bytes and packets: upload keyed by the device's address as the
# source, download as the destination, IPv4 and IPv6. Then: traffic whose conntrack mark says
# drop is not counted; forgetAccounting() removes an element and takes a missing one without
# error; a policy change (new generation, the chains rewritten in place) keeps the counts, and
# counting goes on under the new generation; a base change (the accounting size) starts empty;
# three segments in @segments (a change of segments: the table replaced, the sets empty), a
# packet between two of them counted as upload for one device and download for the other; a
# table deleted behind the writer's back reads as nothing, not as an error.
#
# No muzzled runs here: a table of this test's own (`inet acctlab`, forward hook, priority -10,
# before muzzle's chains at 0) sets the conntrack mark muzzled would have set: the allow verdict
# of the current generation for UDP port 9999, the drop verdict for port 9998. The ruleset is
# fail-open, so anything else passes unjudged.
#
#   dev (198.18.0.2, fd00:acc::2) ──seg0── fw ──wan0── far (203.0.113.2, 2001:db8:acc::2)
#   dev2 (198.18.1.2, fd00:acc:0:1::2) ──seg1──┘
#
# Namespaces acctprobe-<pid>-{dev,dev2,fw,far}, deleted on exit whatever happens. Nothing is sent
# outside them, and the root namespace's firewall is never touched.
set -u
if ((EUID != 0)); then
  echo "skipped: needs root (network namespaces)"
  exit 77
fi
check=${BUILD:?set BUILD to the build folder}/tests/accounting_check
id=acctprobe-$$
dev=$id-dev dev2=$id-dev2 fw=$id-fw far=$id-far
work=$(mktemp -d /tmp/muzzle-accounting.XXXXXX)
driver=""
cleanup() {
  if [[ -n $driver ]]; then
    exec {drv_in}>&- 2>/dev/null
    kill "$driver" 2>/dev/null
    wait "$driver" 2>/dev/null
  fi
  for ns in "$dev" "$dev2" "$fw" "$far"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# The lab: two veth pairs, addresses only from 198.18.0.0/15, fd00::/8 (the device's side) and
# 203.0.113.0/24, 2001:db8::/32 (the far side).
setup() {
  local ns
  for ns in "$dev" "$dev2" "$fw" "$far"; do ip netns add "$ns" && ip -n "$ns" link set lo up || return 1; done
  ip -n "$fw" link add seg0 type veth peer name eth0 netns "$dev" &&
    ip -n "$fw" link add seg1 type veth peer name eth0 netns "$dev2" &&
    ip -n "$fw" link add wan0 type veth peer name eth0 netns "$far" || return 1
  ip netns exec "$fw" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || return 1
  ip -n "$fw" addr add 198.18.0.1/24 dev seg0 && ip -n "$fw" addr add fd00:acc::1/64 dev seg0 nodad &&
    ip -n "$fw" addr add 203.0.113.1/24 dev wan0 && ip -n "$fw" addr add 2001:db8:acc::1/64 dev wan0 nodad &&
    ip -n "$dev" addr add 198.18.0.2/24 dev eth0 && ip -n "$dev" addr add fd00:acc::2/64 dev eth0 nodad &&
    ip -n "$far" addr add 203.0.113.2/24 dev eth0 && ip -n "$far" addr add 2001:db8:acc::2/64 dev eth0 nodad &&
    ip -n "$fw" addr add 198.18.1.1/24 dev seg1 && ip -n "$fw" addr add fd00:acc:0:1::1/64 dev seg1 nodad &&
    ip -n "$dev2" addr add 198.18.1.2/24 dev eth0 && ip -n "$dev2" addr add fd00:acc:0:1::2/64 dev eth0 nodad ||
    return 1
  for ns in "$dev" "$dev2" "$fw" "$far"; do
    ip -n "$ns" link set seg0 up 2>/dev/null
    ip -n "$ns" link set seg1 up 2>/dev/null
    ip -n "$ns" link set wan0 up 2>/dev/null
    ip -n "$ns" link set eth0 up 2>/dev/null
  done
  ip -n "$dev" route add default via 198.18.0.1 && ip -n "$dev" -6 route add default via fd00:acc::1 &&
    ip -n "$dev2" route add default via 198.18.1.1 &&
    ip -n "$dev2" -6 route add default via fd00:acc:0:1::1 &&
    ip -n "$far" route add 198.18.0.0/23 via 203.0.113.1 &&
    ip -n "$far" -6 route add fd00:acc::/63 via 2001:db8:acc::1 || return 1
  # Neighbours resolved before anything is counted: a datagram sent while they are not may wait
  # or be dropped before it reaches the firewall. ICMP carries no verdict mark, so it is not
  # counted (fail-open passes it unjudged).
  ip netns exec "$dev" ping -q -c1 -W5 203.0.113.2 >/dev/null &&
    ip netns exec "$dev" ping -q -c1 -W5 2001:db8:acc::2 >/dev/null &&
    ip netns exec "$far" ping -q -c1 -W5 198.18.0.2 >/dev/null &&
    ip netns exec "$far" ping -q -c1 -W5 fd00:acc::2 >/dev/null &&
    ip netns exec "$dev2" ping -q -c1 -W5 203.0.113.2 >/dev/null &&
    ip netns exec "$dev2" ping -q -c1 -W5 2001:db8:acc::2 >/dev/null &&
    ip netns exec "$dev" ping -q -c1 -W5 198.18.1.2 >/dev/null || return 1
  # The ends swallow the test datagrams: an ICMP port-unreachable back would be traffic of the
  # flow too (related, with its conntrack mark) and spoil the exact counts.
  for ns in "$dev" "$dev2" "$far"; do
    ip netns exec "$ns" nft -f - <<'EOF' || return 1
table inet sink {
  chain input { type filter hook input priority 0; udp dport { 9998, 9999 } drop; }
}
EOF
  done
}

# The verdict marks muzzled would set (fw/nft/marks.h): generation << 8 | code (1 allow, 3 drop).
set_verdicts() {  # GENERATION
  local allow drop
  allow=$(printf '0x%08x' $(($1 << 8 | 1))) drop=$(printf '0x%08x' $(($1 << 8 | 3)))
  ip netns exec "$fw" nft -f - <<EOF
table inet acctlab
delete table inet acctlab
table inet acctlab {
  chain forward {
    type filter hook forward priority -10; policy accept;
    udp dport 9999 ct mark set $allow
    udp dport 9998 ct mark set $drop
  }
}
EOF
}

# COUNT datagrams of SIZE payload bytes from namespace NS to ADDRESS:PORT, from one socket.
send() {  # NS ADDRESS PORT COUNT SIZE
  ip netns exec "$1" python3 -c '
import socket, sys
addr, port, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(count):
    s.sendto(b"x" * size, (addr, port))
' "$2" "$3" "$4" "$5"
}

# One command to the driver; its answer (without the closing `end`) in $reply.
ask() {
  reply=""
  local line
  echo "$*" >&"${drv_in}"
  while IFS= read -r -t 20 line <&"${drv_out}"; do
    [[ $line == end ]] && return 0
    reply+="${reply:+$'\n'}$line"
  done
  fail "no answer to '$*' (the driver died?)"
  return 1
}
expect_ok() {
  ask "$@" && [[ $reply == ok ]] && echo "ok   $*" || fail "$*: $reply"
}
# What `read` answers must be exactly these lines (sorted), given one per argument.
expect_read() {  # WHAT LINE...
  local what=$1 want
  shift
  want=$(printf '%s\n' "$@" | sort)
  ask read || return
  if [[ $reply == "$want" ]]; then
    echo "ok   read: $what"
  else
    fail "read: $what"$'\n'"  want: ${want//$'\n'/$'\n'        }"$'\n'"  got:  ${reply//$'\n'/$'\n'        }"
    ip netns exec "$fw" nft list table inet muzzle 2>&1 | grep -A6 'set acct'
  fi
}

setup || { echo "FAIL: building the namespaces"; exit 1; }
mkfifo "$work/in" "$work/out"
ip netns exec "$fw" "$check" <"$work/in" >"$work/out" 2>"$work/err" &
driver=$!
exec {drv_in}>"$work/in" {drv_out}<"$work/out"

expect_ok install 7 64 seg0
set_verdicts 7 || fail "the test's own table (inet acctlab)"
expect_read "nothing counted yet"

# IPv4 length = payload + 28, IPv6 = payload + 48.
send "$dev" 203.0.113.2 9999 5 100     # up   198.18.0.2: 5 x 128
send "$far" 198.18.0.2 9999 3 200      # down 198.18.0.2: 3 x 228
send "$dev" 2001:db8:acc::2 9999 4 60  # up   fd00:acc::2: 4 x 108
send "$far" fd00:acc::2 9999 2 1000    # down fd00:acc::2: 2 x 1048
send "$dev" 203.0.113.2 9998 7 100     # conntrack mark: drop -> not counted
send "$dev" 2001:db8:acc::2 9998 7 100
expect_read "allowed traffic, exactly; dropped traffic not at all" \
  "up 198.18.0.2 640 5" "down 198.18.0.2 684 3" "up fd00:acc::2 432 4" "down fd00:acc::2 2096 2"

# The element goes; a missing one (never counted) in the same request is no error.
expect_ok forget up 198.18.0.2 198.18.0.77
expect_ok forget down fd00:acc::99
expect_read "the forgotten element is gone, the others stay" \
  "down 198.18.0.2 684 3" "up fd00:acc::2 432 4" "down fd00:acc::2 2096 2"
expect_ok forget up 198.18.0.2  # already gone: still no error

# A policy change: `judge` and `dns-query` rewritten in place, the sets kept with their counts.
expect_ok install 8 64 seg0
expect_read "a policy change keeps the counts" \
  "down 198.18.0.2 684 3" "up fd00:acc::2 432 4" "down fd00:acc::2 2096 2"
send "$dev" 203.0.113.2 9999 2 100     # generation 7's mark no longer allows: not counted
set_verdicts 8 || fail "the test's own table (inet acctlab), generation 8"
send "$dev" 203.0.113.2 9999 2 100     # allowed under generation 8: counted from zero
send "$far" fd00:acc::2 9999 1 1000
expect_read "counting goes on under the new generation" \
  "up 198.18.0.2 256 2" "down 198.18.0.2 684 3" "up fd00:acc::2 432 4" "down fd00:acc::2 3144 3"

# A base change (the accounting size) replaces the table: the sets start empty.
expect_ok install 8 128 seg0
expect_read "a base change starts empty"
send "$dev" 203.0.113.2 9999 1 100
expect_read "and counts again" "up 198.18.0.2 128 1"

# Three segments, one set: a change of segments replaces the table (the sets start empty), and
# the device's segment is found whichever element of @segments it is. A packet between two
# segments is one device's upload and the other's download.
expect_ok install 9 64 seg9 seg0 seg1
expect_read "a change of segments starts empty"
set_verdicts 9 || fail "the test's own table (inet acctlab), generation 9"
send "$dev" 198.18.1.2 9999 3 100      # up 198.18.0.2 and down 198.18.1.2: 3 x 128 each
send "$dev2" 203.0.113.2 9999 2 100    # up 198.18.1.2: 2 x 128
send "$far" fd00:acc:0:1::2 9999 1 60    # down fd00:acc:0:1::2: 1 x 108
expect_read "three segments: each device counted on its own segment, both ends between two" \
  "up 198.18.0.2 384 3" "down 198.18.1.2 384 3" "up 198.18.1.2 256 2" "down fd00:acc:0:1::2 108 1"
# nft(8) shows the set as the names it holds (in the kernel's order, a hash's).
listing=$(ip netns exec "$fw" nft list set inet muzzle segments 2>&1)
if [[ $listing == *"type ifname"* && $listing == *'"seg9"'* && $listing == *'"seg0"'* &&
  $listing == *'"seg1"'* ]]; then
  echo "ok   nft lists @segments by name"
else
  fail "nft list set inet muzzle segments:"$'\n'"$listing"
fi

# The table deleted behind the writer's back: nothing to read, nothing to forget, no error.
ip netns exec "$fw" nft delete table inet muzzle
expect_read "no table, no elements"
expect_ok forget up 198.18.0.2
expect_ok remove

if [[ -s $work/err ]]; then echo "accounting_check said:"; cat "$work/err"; fi
if ((failures > 0)); then
  echo "$failures failed"
  exit 1
fi
echo "all passed"
