#!/usr/bin/env bash
# A large DoH list: 20,001 IPv6 and 384 IPv4 resolver addresses (none adjacent, so none merge).
# muzzled holds the list in its compiled policy and decides HTTPS flows by it (decide.cc); the
# kernel table holds no DoH set (until 2026-12-07 it held them in @doh4 and @doh6, which every
# new flow's first packet was looked up in). HTTPS to a listed resolver is refused as DNS
# bypass, HTTPS to an address not listed is the policy's to allow, and a reload that changes the
# list changes the verdicts. Documentation addresses only: IPv4 has just the three /24s, so its
# count stays at 384; the IPv6 count carries the size.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

scenario_lab_up
mkdir -p "$LAB_STATE/lists"
# PREFIX COUNT LAB_V6 FIRST_V4: the IPv6 addresses PREFIX:0:2i (i < COUNT), one apart; the lab's
# IPv6 address LAB_V6; and in each documentation /24 every other host from FIRST_V4 (1: the odd
# ones, 203.0.113.53 among them; 0: the even ones, 203.0.113.30 among them), 128 each.
write_doh_list() {
  {
    echo '# many DoH resolvers'
    awk -v p="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s:%x:%x\n", p, int(2 * i / 65536), (2 * i) % 65536 }'
    echo "$3"
    for net in 192.0.2 198.51.100 203.0.113; do
      for ((h = $4; h < 256; h += 2)); do echo "$net.$h"; done
    done
  } >"$LAB_STATE/lists/doh-resolvers.txt.new"
  mv "$LAB_STATE/lists/doh-resolvers.txt.new" "$LAB_STATE/lists/doh-resolvers.txt"
}
# The policy is the lab's example (the speaker may reach *.voice.example on 443), with this list.
write_doh_list 2001:db8:d0:0:0:0 20000 2001:db8:cafe::53 1
(($(grep -c . "$LAB_STATE/lists/doh-resolvers.txt") == 1 + 20000 + 1 + 384))
started=$SECONDS
lab_start_muzzled
echo "    muzzled ready $((SECONDS - started)) s after start, with the list compiled"

flow_result() { lab_flow "$@" --timeout-ms 2000 || true; }
connects() { [[ "$(flow_result "$1" tcp "$2" "$3")" == *result=connected* ]]; }
# Refused by muzzled (a reset), or unreachable for an address no lab host holds.
https_refused() { [[ "$(flow_result speaker tcp "$1" 443)" =~ result=(refused|unreachable) ]]; }
resolves_to() { [[ "$(lab_resolve "$1" "$2" "${4:-4}")" == "$3" ]]; }
# ADDRESS: the log's deny line for the speaker's HTTPS to it says dns-bypass.
bypass_logged() {
  wait_log "event=deny device=kitchen-speaker .*dst=\\[?${1//./\\.}\\]?:443 .*reason=dns-bypass" 2
}
no_doh_set() {
  local sets
  sets="$(lab_exec gw nft list sets)"
  # Not vacuous: the table is there, with its @segments.
  grep -q 'set segments' <<<"$sets" && ! grep -Eq 'set doh[46]? ' <<<"$sets"
}

echo "== the table holds no DoH set"
lab_check "nft list sets: @segments, no doh4 or doh6" no_doh_set

echo "== HTTPS to a listed resolver is refused as dns-bypass"
for addr in 2001:db8:cafe::53 203.0.113.53 2001:db8:d0::9c3e 203.0.113.255; do
  lab_check "speaker -> $addr:443 refused" https_refused "$addr"
  lab_check "  logged as dns-bypass" bypass_logged "$addr"
done
lab_check "  even with a name the speaker may reach: resolves dns.voice.example" \
  resolves_to speaker dns.voice.example 203.0.113.53
lab_check "  and HTTPS to it is refused" https_refused 203.0.113.53

echo "== HTTPS to an address not listed is the policy's to decide"
lab_check "speaker resolves avs.voice.example" resolves_to speaker avs.voice.example 203.0.113.30
lab_check "speaker -> avs.voice.example:443 connects (v4, 203.0.113.30 is even)" \
  connects speaker 203.0.113.30 443
lab_check "speaker resolves avs.voice.example (AAAA)" \
  resolves_to speaker avs.voice.example 2001:db8:cafe::30 6
lab_check "speaker -> avs.voice.example:443 connects (v6)" connects speaker 2001:db8:cafe::30 443

echo "== a reload with another list changes the verdicts"
# The even IPv4 hosts and 2001:db8:cafe::30 now; 203.0.113.53 and 2001:db8:cafe::53 no more.
write_doh_list 2001:db8:d1:0:0:0 20000 2001:db8:cafe::30 0
lab_reload_muzzled
lab_check "the reload is a new policy" wait_log 'event=policy-reloaded' 60
lab_check "still no DoH set in the table" no_doh_set
lab_check "speaker resolves avs.voice.example again" resolves_to speaker avs.voice.example 203.0.113.30
for addr in 203.0.113.30 2001:db8:cafe::30 2001:db8:d1::9c3e; do
  lab_check "speaker -> $addr:443 refused now" https_refused "$addr"
  lab_check "  logged as dns-bypass" bypass_logged "$addr"
done
lab_check "speaker resolves dns.voice.example" resolves_to speaker dns.voice.example 203.0.113.53
lab_check "speaker -> dns.voice.example:443 connects now (v4)" connects speaker 203.0.113.53 443
lab_check "speaker resolves dns.voice.example (AAAA)" \
  resolves_to speaker dns.voice.example 2001:db8:cafe::53 6
lab_check "speaker -> dns.voice.example:443 connects now (v6)" connects speaker 2001:db8:cafe::53 443
lab_summary
