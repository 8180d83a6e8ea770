#!/bin/bash
# Per-device accounting in a real kernel: conntrack counts each allowed connection, and
# NftRulesetWriter's counter (through accounting_check, one process driven line by line) reads
# the counts with a dump of their cumulative values (each connection's growth worked out by its
# id) and the events of connections that end. In a firewall namespace
# between devices and a far host, with table `inet muzzle` installed, real UDP datagrams cross,
# and readAccounting() must report exactly their IP bytes and packets, per source, destination
# and traffic class, IPv4 and IPv6:
# - startAccounting() turns net.netfilter.nf_conntrack_acct on in the namespace; connections from
#   before it carry no counters (counted as uncounted, not read);
# - connections the device opened and ones opened to it, exactly; refused ones (drop mark) not;
# - exactly, too, with enough connections that the dump spans several messages (the kernel's
#   zeroing dump lost an entry's counts at each message boundary; the dump no longer zeroes);
# - a read returns only what came after the last;
# - the connection limit's recount: read only while someone takes it; unlabelled connections
#   count for no device;
# - a connection that ends between two reads (deleted with conntrack -D) is read from its event;
# - the box's own connection (no verdict mark) is read as the box's, class 0;
# - a policy change (new generation) and a change of segments leave counting alone;
# - accounting's UDP rule (RulesetSpec::udp_ends): with destroy events off, an allowed UDP
#   connection is read from the dumps and its end sends no event; with them on, it does;
#   udpTimeoutsOutlive follows the namespace's own UDP timeouts;
# - without CAP_NET_ADMIN every read fails and says which capability is missing.
#
# No muzzled runs here: a table of this test's own (`inet acctlab`, forward hook, priority -10,
# before muzzle's chains at 0) sets the conntrack mark muzzled would have set: the allow verdict
# of the current generation with traffic class 3 for UDP port 9999, the drop verdict for port
# 9998; for port 9996 it sets the allow verdict in the packet's mark instead, as muzzled's answer
# from the queue does, so that the table's own fresh-verdict rules save it in the connection.
# The ruleset is fail-open, so anything else passes unjudged.
#
#   dev (198.18.0.2, fd00:acc::2) ──seg0── fw ──wan0── far (203.0.113.2, 2001:db8:acc::2)
#   dev2 (198.18.1.2, fd00:acc:0:1::2) ──seg1──┘
#
# Namespaces acctprobe-<pid>-{dev,dev2,fw,far}, deleted on exit whatever happens. Nothing is sent
# outside them, and the root namespace's firewall and conntrack table are never touched.
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
  chain input { type filter hook input priority 0; udp dport { 9996, 9998, 9999 } drop; }
}
EOF
  done
}

# The verdict marks muzzled would set (fw/nft/marks.h): generation << 8 | class << 2 | code
# (1 allow, 3 drop; refusals carry class 0).
set_verdicts() {  # GENERATION
  local allow drop
  allow=$(printf '0x%08x' $(($1 << 8 | 3 << 2 | 1))) drop=$(printf '0x%08x' $(($1 << 8 | 3)))
  ip netns exec "$fw" nft -f - <<EOF
table inet acctlab
delete table inet acctlab
table inet acctlab {
  chain forward {
    type filter hook forward priority -10; policy accept;
    udp dport 9999 ct mark set $allow
    udp dport 9998 ct mark set $drop
    udp dport 9996 ct mark 0 meta mark set $allow
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

# COUNT connections of one datagram of SIZE payload bytes each from namespace NS to
# ADDRESS:PORT: a new socket (a new source port) for each datagram.
send_many() {  # NS ADDRESS PORT COUNT SIZE
  ip netns exec "$1" python3 -c '
import socket, sys
addr, port, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
for _ in range(count):
    with socket.socket(family, socket.SOCK_DGRAM) as s:
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
  want=$(printf '%s\n' "$@" | LC_ALL=C sort)
  ask read || return
  if [[ $reply == "$want" ]]; then
    echo "ok   read: $what"
  else
    fail "read: $what"$'\n'"  want: ${want//$'\n'/$'\n'        }"$'\n'"  got:  ${reply//$'\n'/$'\n'        }"
    ip netns exec "$fw" conntrack -L -o extended 2>&1 | head -20
  fi
}

setup || { echo "FAIL: building the namespaces"; exit 1; }
mkfifo "$work/in" "$work/out"
ip netns exec "$fw" "$check" <"$work/in" >"$work/out" 2>"$work/err" &
driver=$!
exec {drv_in}>"$work/in" {drv_out}<"$work/out"

acct_sysctl=/proc/sys/net/netfilter/nf_conntrack_acct
# muzzled starts accounting before its table; here the table comes first, so that a connection
# exists from before the start (conntrack tracks nothing in a namespace before a table asks for
# it): it has no counters.
expect_ok install 7 seg0
set_verdicts 7 || fail "the test's own table (inet acctlab)"
send "$dev" 203.0.113.2 9997 1 10  # no verdict mark: passes unjudged (fail-open)
echo "     nf_conntrack_acct before the start: $(ip netns exec "$fw" cat $acct_sysctl)"
expect_ok start
if [[ $(ip netns exec "$fw" cat $acct_sysctl) == 1 ]]; then
  echo "ok   start turned nf_conntrack_acct on in the namespace"
else
  fail "nf_conntrack_acct is $(ip netns exec "$fw" cat $acct_sysctl) after start"
fi
# The datagram to port 9997 (no verdict mark, so the dump asks for it) began before the start.
expect_read "nothing counted yet"
if ask stats && [[ $reply =~ uncounted\ ([0-9]+) ]] && ((BASH_REMATCH[1] > 0)); then
  echo "ok   connections from before the start are uncounted ($reply)"
else
  fail "stats after the first read: $reply"
fi

# IPv4 length = payload + 28, IPv6 = payload + 48. Each send is one connection (one socket).
send "$dev" 203.0.113.2 9999 5 100     # opened by the device: 5 x 128
send "$far" 198.18.0.2 9999 3 200      # opened to it: 3 x 228
send "$dev" 2001:db8:acc::2 9999 4 60  # 4 x 108
send "$far" fd00:acc::2 9999 2 1000    # 2 x 1048
send "$dev" 203.0.113.2 9998 7 100     # conntrack mark: drop -> not counted
send "$dev" 2001:db8:acc::2 9998 7 100
# 400 more connections of one datagram each, IPv4 (400 x 38) and IPv6 (400 x 58; a source port
# the kernel happens to reuse joins its earlier connection, the sums are the same): entries of
# ~200 to ~300 bytes in the kernel's hash order, the dump's answer spans several messages (at
# most 32 KiB each) that end at varied places in an entry, and every entry at a boundary must
# count.
send_many "$dev" 203.0.113.2 9999 400 10
send_many "$dev" 2001:db8:acc::2 9999 400 10
echo "     connections in the firewall's table: $(ip netns exec "$fw" conntrack -C 2>/dev/null)"
expect_read "allowed connections, exactly, over several dump messages; refused ones not at all" \
  "198.18.0.2 203.0.113.2 class 3 judged 15840 405 0 0" \
  "203.0.113.2 198.18.0.2 class 3 judged 684 3 0 0" \
  "fd00:acc::2 2001:db8:acc::2 class 3 judged 23632 404 0 0" \
  "2001:db8:acc::2 fd00:acc::2 class 3 judged 2096 2 0 0"
expect_read "a read returns only what came after the last"

# The connection limit's recount (fw/device/connection_counts.h): every live connection judged and
# allowed, by the device its label names. A read counts them only while someone takes them: none
# was taken since the start's read. The connections here carry no label (the test's own table
# judged them, not muzzled's `ask`, which labels a connection's first packet): complete, and no
# device's. connection_limit.sh reads labels muzzled's table set.
ask live
if [[ $reply == "complete no" ]]; then
  echo "ok   live connections: none read while none is taken"
else
  fail "live before a take: $reply"
fi
ask read >/dev/null && ask live
if [[ $reply == "complete yes" ]]; then
  echo "ok   live connections: read after a take; unlabelled ones count for no device"
else
  fail "live after a take: $reply"
fi

# A connection that ends between two reads: its event carries its final counts, and what it
# counted since the last read is counted (the 400 above and the rest, read before: nothing new).
send "$dev" 203.0.113.2 9999 4 100
ip netns exec "$fw" conntrack -D -f ipv4 -p udp --dport 9999 >/dev/null 2>&1 &&
  ip netns exec "$fw" conntrack -D -f ipv6 -p udp --dport 9999 >/dev/null 2>&1 ||
  fail "conntrack -D in the firewall namespace"
sleep 1  # the event thread reads the events as they come
expect_read "ended connections, from their events (the ended ones read before: nothing new)" \
  "198.18.0.2 203.0.113.2 class 3 judged 512 4 0 0"
if ask stats && [[ $reply =~ events\ ([0-9]+)\ overruns\ 0\ errors\ 0 ]] && ((BASH_REMATCH[1] >= 5)); then
  echo "ok   every deleted connection came as an event, none lost ($reply)"
else
  fail "stats after the deletes: $reply"
fi

# The box's own connection to a device: no verdict mark, read as the box's (IPv4 echo: 84 bytes).
ip netns exec "$fw" ping -q -c1 -W5 198.18.0.2 >/dev/null || fail "ping from the firewall"
expect_read "the box's own connection, not judged" "198.18.0.1 198.18.0.2 class 0 box 84 1 84 1"

# A policy change and a change of segments rewrite the table; conntrack keeps counting.
expect_ok install 8 seg0
set_verdicts 8 || fail "the test's own table (inet acctlab), generation 8"
send "$dev" 203.0.113.2 9999 2 100
expect_ok install 9 seg9 seg0 seg1
set_verdicts 9 || fail "the test's own table (inet acctlab), generation 9"
send "$dev" 198.18.1.2 9999 3 100      # between two segments: one connection
send "$far" fd00:acc:0:1::2 9999 1 60
expect_read "counting goes on across policy and segment changes" \
  "198.18.0.2 203.0.113.2 class 3 judged 256 2 0 0" \
  "198.18.0.2 198.18.1.2 class 3 judged 384 3 0 0" \
  "2001:db8:acc::2 fd00:acc:0:1::2 class 3 judged 108 1 0 0"
# nft(8) shows the set as the names it holds (in the kernel's order, a hash's).
listing=$(ip netns exec "$fw" nft list set inet muzzle segments 2>&1)
if [[ $listing == *"type ifname"* && $listing == *'"seg9"'* && $listing == *'"seg0"'* &&
  $listing == *'"seg1"'* ]]; then
  echo "ok   nft lists @segments by name"
else
  fail "nft list set inet muzzle segments:"$'\n'"$listing"
fi
# The table counts nothing itself: no set with a counter, no `counter` on an allowed path.
if ip netns exec "$fw" nft list table inet muzzle | grep -q 'acct\|update @'; then
  fail "table inet muzzle still counts in sets"
else
  echo "ok   the table holds no accounting sets"
fi

# Accounting's UDP rule. Destroy events off: a connection judged by the table's rule (port 9996)
# is read from the dumps, and its end (conntrack -D) sends no event.
events_now() { ask stats && [[ $reply =~ events\ ([0-9]+) ]] && echo "${BASH_REMATCH[1]}"; }
expect_ok udp-ends dumps
expect_ok install 10 seg0 seg1
set_verdicts 10 || fail "the test's own table (inet acctlab), generation 10"
saving=$(ip netns exec "$fw" nft list chain inet muzzle save-allowed 2>&1)
if [[ $saving == *"ct protocol udp ct mark set meta mark ct event set new,related,reply,"* ]]; then
  echo "ok   the kernel holds the UDP rule, destroy left out"
else
  fail "no UDP rule without destroy in chain save-allowed:"$'\n'"$saving"
fi
events_before=$(events_now)
send "$dev" 203.0.113.2 9996 3 100
expect_read "destroy events off: the connection is read from the dump" \
  "198.18.0.2 203.0.113.2 class 3 judged 384 3 0 0"
ip netns exec "$fw" conntrack -D -f ipv4 -p udp --dport 9996 >/dev/null 2>&1 ||
  fail "conntrack -D of the port-9996 connection"
sleep 1
expect_read "destroy events off: its end is not read again"
events_after=$(events_now)
if [[ -n $events_before && $events_after == "$events_before" ]]; then
  echo "ok   destroy events off: its end sent no event ($events_after events in all)"
else
  fail "destroy events off: events went from '$events_before' to '$events_after'"
fi
# Events on again (the next table): a new connection's end is read from its event.
expect_ok udp-ends events
expect_ok install 11 seg0 seg1
set_verdicts 11 || fail "the test's own table (inet acctlab), generation 11"
send "$dev" 203.0.113.2 9996 2 100
ip netns exec "$fw" conntrack -D -f ipv4 -p udp --dport 9996 >/dev/null 2>&1 ||
  fail "conntrack -D of the second port-9996 connection"
sleep 1
expect_read "destroy events on: the ended connection is read from its event" \
  "198.18.0.2 203.0.113.2 class 3 judged 256 2 0 0"
events_after=$(events_now)
if [[ -n $events_before && $events_after == $((events_before + 1)) ]]; then
  echo "ok   destroy events on: its end sent one event"
else
  fail "destroy events on: events went from '$events_before' to '$events_after', not one more"
fi
# udpTimeoutsOutlive reads the namespace's own timeouts (30 s and 120 s unless changed).
timeout_sysctl=net.netfilter.nf_conntrack_udp_timeout
ask outlive 10 && [[ $reply == yes ]] && echo "ok   UDP timeouts outlive 2 x 10 s" ||
  fail "outlive 10 with timeouts $(ip netns exec "$fw" sysctl -n $timeout_sysctl ${timeout_sysctl}_stream): $reply"
ip netns exec "$fw" sysctl -qw $timeout_sysctl=15 || fail "setting $timeout_sysctl"
ask outlive 10 && [[ $reply == no ]] && echo "ok   a 15 s UDP timeout does not outlive 2 x 10 s" ||
  fail "outlive 10 with a 15 s timeout: $reply"
ask outlive 7 && [[ $reply == yes ]] && echo "ok   a 15 s UDP timeout outlives 2 x 7 s" ||
  fail "outlive 7 with a 15 s timeout: $reply"
expect_ok remove

# Without CAP_NET_ADMIN (nobody), conntrack's events cannot be read: a read says so, naming the
# capability, every time (so muzzled's status keeps showing it), and nothing crashes.
answers=$(printf 'read\nread\n' | ip netns exec "$fw" setpriv --reuid=65534 --regid=65534 \
  --clear-groups --inh-caps=-all "$check" 2>&1)
if [[ $(grep -c '^error accounting: conntrack: .*CAP_NET_ADMIN' <<<"$answers") == 2 ]]; then
  echo "ok   without CAP_NET_ADMIN every read says what is missing"
else
  fail "reads without CAP_NET_ADMIN:"$'\n'"$answers"
fi

if [[ -s $work/err ]]; then echo "accounting_check said:"; cat "$work/err"; fi
if ((failures > 0)); then
  echo "$failures failed"
  exit 1
fi
echo "all passed"
