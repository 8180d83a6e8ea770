#!/usr/bin/env bash
# DNS-aware egress, end to end: devices resolve through dnsmasq on the gateway (which forwards to
# dnsmasq in the simulated internet), muzzled learns each answer before it reaches the device,
# and name rules, TTLs, hard-coded IPs and DNS bypass behave as README "Names" says. Answers
# teach names only when they answer what the device asked: a hostile resolver's forged,
# mismatched and repeated answers, and a TCP answer cut to spell a message, teach nothing.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

scenario_lab_up
# The example policy, with a 1 s TTL grace (so TTL expiry takes seconds), a DoH list that
# holds the lab's "DoH resolver" 203.0.113.53 (a documentation address), not the public ones,
# and a second resolver the speaker may use: 203.0.113.54, where a hostile one will answer.
sed -e 's/^  resolvers: \[gateway\]$/  resolvers: [gateway, 203.0.113.54]\n  ttl_grace_seconds: 1/' \
  -e 's/^  speaker:$/&\n    egress:\n      - {allow: [203.0.113.54], proto: udp, ports: [53]}\n      - {allow: [203.0.113.54], proto: tcp, ports: [53]}/' \
  "$LAB_REPO/policies/site-example.yaml" >"$LAB_STATE/policy.yaml"
grep -q 'ttl_grace_seconds: 1' "$LAB_STATE/policy.yaml"
grep -q 'allow: \[203.0.113.54\], proto: tcp' "$LAB_STATE/policy.yaml"
mkdir -p "$LAB_STATE/lists"
printf '# lab DoH resolvers\n203.0.113.53\n2001:db8:cafe::53\n' >"$LAB_STATE/lists/doh-resolvers.txt"
lab_start_muzzled

# connects FROM HOST PORT: the flow result is "connected"; rejected: refused or unreachable.
# (labnet's exit code says the same, but pipefail would turn a matching grep into a failure.)
flow_result() { lab_flow "$@" --timeout-ms 2000 || true; }
connects() { [[ "$(flow_result "$1" tcp "$2" "$3")" == *result=connected* ]]; }
rejected() { [[ "$(flow_result "$1" tcp "$2" "$3")" =~ result=(refused|unreachable) ]]; }
resolves_to() { [[ "$(lab_resolve "$1" "$2" "${4:-4}" "${@:5}")" == "$3" ]]; }

echo "== names allowed and denied"
lab_check "speaker resolves avs.voice.example" resolves_to speaker avs.voice.example 203.0.113.30
lab_check "speaker -> avs.voice.example:443 connects (v4)" connects speaker 203.0.113.30 443
lab_check "speaker resolves avs.voice.example (AAAA)" resolves_to speaker avs.voice.example 2001:db8:cafe::30 6
lab_check "speaker -> avs.voice.example:443 connects (v6)" connects speaker 2001:db8:cafe::30 443
lab_check "speaker resolves the sibling telemetry.vendor.example" \
  resolves_to speaker telemetry.vendor.example 203.0.113.32
lab_check "speaker -> telemetry.vendor.example:443 rejected" rejected speaker 203.0.113.32 443
lab_check "  logged with the name" wait_log 'event=deny device=kitchen-speaker .*dst=203\.0\.113\.32:443 .*name=telemetry\.vendor\.example' 2
lab_check "speaker resolves time.vendor.example (an exact name)" \
  resolves_to speaker time.vendor.example 203.0.113.31
lab_check "  and connects" connects speaker 203.0.113.31 443
lab_check "speaker resolves voice.example (the apex of *.voice.example)" \
  resolves_to speaker voice.example 203.0.113.34
lab_check "  and is rejected: a wildcard does not cover its apex" rejected speaker 203.0.113.34 443

echo "== CNAME chain: allowed via the name the device asked"
lab_check "node7.cdnco.example asked directly resolves" resolves_to speaker node7.cdnco.example 203.0.113.33
lab_check "  and is rejected (not a *.voice.example name)" rejected speaker 203.0.113.33 443
lab_check "cdn.voice.example -> edge.cdnco.example -> node7.cdnco.example resolves" \
  resolves_to speaker cdn.voice.example 203.0.113.33
lab_check "  and now connects" connects speaker 203.0.113.33 443

echo "== TTL expiry (TTL 1 s + grace 1 s)"
lab_check "short.voice.example resolves" resolves_to speaker short.voice.example 203.0.113.35
lab_check "  connects at once" connects speaker 203.0.113.35 443
sleep 3
lab_check "  a reconnect 3 s later, without a lookup, is rejected" rejected speaker 203.0.113.35 443
lab_check "  a new lookup opens it again" resolves_to speaker short.voice.example 203.0.113.35
lab_check "  and connects" connects speaker 203.0.113.35 443

echo "== hard-coded IP"
lab_check "speaker -> 203.0.113.10:443 never resolved: rejected" rejected speaker 203.0.113.10 443
lab_check "  logged as no-dns" wait_log 'event=deny device=kitchen-speaker .*dst=203\.0\.113\.10:443 .*reason=no-dns' 2

echo "== DNS bypass"
dns_refused() {
  local line
  line="$(lab_exec "$1" "$LABNET" dns "$2" avs.voice.example "${@:3}" --timeout-ms 1000)" || true
  [[ "$line" =~ result=(refused|unreachable) ]]
}
lab_check "cam1 DNS to a foreign resolver (198.51.100.2) refused" dns_refused cam1 198.51.100.2
lab_check "  logged as dns-bypass" wait_log 'event=deny device=lobby-cam .*dst=198\.51\.100\.2:53 .*reason=dns-bypass' 2
lab_check "speaker DNS over TCP to a foreign resolver refused" dns_refused speaker 2001:db8:1::2 --proto tcp
lab_check "cam1 DoT (tcp/853) refused" rejected cam1 198.51.100.2 853
lab_check "  logged as dns-bypass" wait_log 'event=deny device=lobby-cam .*dst=198\.51\.100\.2:853 .*reason=dns-bypass' 2
doq_blocked() { [[ "$(lab_flow cam1 udp 198.51.100.2 853 --timeout-ms 1000 || true)" != *result=answered* ]]; }
lab_check "cam1 DoQ (udp/853) blocked" doq_blocked
lab_check "speaker resolves dns.voice.example (a DoH resolver with an allowed name)" \
  resolves_to speaker dns.voice.example 203.0.113.53
lab_check "  HTTPS to it is refused anyway (v4)" rejected speaker 203.0.113.53 443
lab_check "  logged as dns-bypass" wait_log 'event=deny device=kitchen-speaker .*dst=203\.0\.113\.53:443 .*reason=dns-bypass' 2
lab_check "  HTTPS to it is refused anyway (v6)" rejected speaker 2001:db8:cafe::53 443

echo "== a name deny does not break the lookup"
lab_check "cam1 resolves relay.p2p.example" resolves_to cam1 relay.p2p.example 203.0.113.40
lab_check "  the connection is rejected, logged with the name" rejected cam1 203.0.113.40 443
lab_check "  logged with rule and name" wait_log 'event=deny device=lobby-cam .*rule=profiles\.camera\.egress\[0\] name=relay\.p2p\.example' 2

echo "== DNS over TCP through the gateway is learned too"
lab_check "speaker resolves telemetry.vendor.example's sibling over TCP" \
  resolves_to speaker time.vendor.example 2001:db8:cafe::31 6 --proto tcp
lab_check "  and connects (v6)" connects speaker 2001:db8:cafe::31 443

echo "== DNS over TCP: a long answer in small segments is learned"
# The device asks for 88-byte segments (the smallest MSS Linux allows); one segment per packet
# on the gateway's segment bridge, so netfilter sees each segment, not one GSO packet.
gso_segs="$(ip -d -n "$(lab_ns gw)" link show br-cam | sed -n 's/.* gso_max_segs \([0-9]*\).*/\1/p')"
ip -n "$(lab_ns gw)" link set dev br-cam gso_max_segs 1
lab_check "speaker resolves split.voice.example (a long CNAME chain) over TCP in 88-byte segments" \
  resolves_to speaker split.voice.example 203.0.113.37 4 --proto tcp --mss 88
ip -n "$(lab_ns gw)" link set dev br-cam gso_max_segs "${gso_segs:-65535}"
lab_check "  and connects" connects speaker 203.0.113.37 443
kill -USR1 "$LAB_MUZZLED_PID"
lab_check "  muzzled read it whole from several segments" \
  wait_log 'event=counters .*dns_tcp_reassembled=[1-9]' 3

echo "== a hostile resolver cannot teach names it was not asked"
# 203.0.113.54 answers every query with: another ID, another name, the real answer
# (bait.voice.example -> 203.0.113.20), and a second answer; all forged ones claim 203.0.113.10.
# Over TCP its answer's TXT text spells a framed "forged.voice.example -> 203.0.113.10", cut
# into its own segment.
ip -n "$(lab_ns inet)" addr add 203.0.113.54/32 dev lo
lab_exec inet "$LABNET" forge-dns 203.0.113.54 --other forged.voice.example --real 203.0.113.20 \
  --forged 203.0.113.10 --ready-file "$LAB_STATE/forge.ready" >>"$LAB_STATE/forge.log" 2>&1 </dev/null &
_lab_remember_pid $!
lab_wait_file "$LAB_STATE/forge.ready" 5
ask_hostile() { lab_exec speaker "$LABNET" dns 203.0.113.54 bait.voice.example "$@" --timeout-ms 2000 </dev/null || true; }
eventually() {
  local i
  for ((i = 0; i < 30; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}
ask_hostile >/dev/null
# The resolver logs after its last send, which the client may beat: wait for the line.
lab_check "speaker asked it over UDP and got its four answers" \
  eventually grep -q 'result=answered proto=udp name=bait.voice.example' "$LAB_STATE/forge.log"
lab_check "  the answer to the question asked is learned: bait.voice.example connects" \
  eventually connects speaker 203.0.113.20 443
lab_check "  the forged, mismatched and repeated answers are not: 203.0.113.10 rejected" \
  rejected speaker 203.0.113.10 443
lab_check "  logged as unsolicited" wait_log 'event=dns-unsolicited mac=.* name=forged\.voice\.example' 3
ask_hostile --proto tcp >/dev/null
lab_check "speaker asked it over TCP and got the spelling answer in two segments" \
  eventually grep -q 'result=answered proto=tcp name=bait.voice.example' "$LAB_STATE/forge.log"
lab_check "  the spelled message teaches nothing: 203.0.113.10 still rejected" \
  rejected speaker 203.0.113.10 443
lab_check "  logged as no-dns" wait_log 'event=deny device=kitchen-speaker .*dst=203\.0\.113\.10:443 .*reason=no-dns' 2

echo "== counters"
kill -USR1 "$LAB_MUZZLED_PID"
lab_check "counters show learned names and the cache size" \
  wait_log 'event=counters .*dns_learned=[1-9][0-9]* .*name_cache_entries=[1-9]' 3
# The kernel's dns-answer rule 3 hints an answer on a flow it allows (the device's query was
# allowed): muzzled reads it without judging the flow again.
lab_check "answers on allowed flows are read without judging their flow again" \
  wait_log 'event=counters .*dns_answers=[1-9][0-9]* dns_answers_read_only=[1-9]' 3
lab_check "counters show queries read, unsolicited answers and reassembled TCP answers" \
  wait_log 'event=counters .*dns_queries=[1-9][0-9]* dns_unsolicited=[1-9][0-9]* .*dns_tcp_reassembled=[1-9]' 3
grep 'event=counters' "$LAB_STATE/muzzled.log" | tail -n1 | sed 's/^/    /'
lab_summary
