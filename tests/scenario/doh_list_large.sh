#!/usr/bin/env bash
# A DoH list far larger than one netlink message holds: muzzled installs 20,001 IPv6 and 384 IPv4
# resolver addresses (none adjacent, so none merge) in @doh6 and @doh4, the kernel holds every
# one, HTTPS to a listed resolver is refused as DNS bypass, and a reload that changes the list
# rewrites the sets whole. Documentation addresses only: IPv4 has just the three /24s, so its
# count stays at 384; the IPv6 count carries the size.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

scenario_lab_up
mkdir -p "$LAB_STATE/lists"
# PREFIX COUNT: the IPv6 addresses PREFIX:0:2i (i < COUNT), one apart; then the v4 and the lab's
# own DoH resolvers (203.0.113.53 is one of the odd v4 addresses).
write_doh_list() {
  {
    echo '# many DoH resolvers'
    awk -v p="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s:%x:%x\n", p, int(2 * i / 65536), (2 * i) % 65536 }'
    echo '2001:db8:cafe::53'
    for net in 192.0.2 198.51.100 203.0.113; do
      for ((h = 1; h < 256; h += 2)); do echo "$net.$h"; done
    done
  } >"$LAB_STATE/lists/doh-resolvers.txt.new"
  mv "$LAB_STATE/lists/doh-resolvers.txt.new" "$LAB_STATE/lists/doh-resolvers.txt"
}
# SET PATTERN: how many elements of `nft list set inet muzzle SET` match the extended regex.
set_count() {
  lab_exec gw nft list set inet muzzle "$1" | tr ',{}' '\n' | tr -d ' \t' | grep -Ec -- "$2" || true
}
set_has() { [[ "$(set_count "$1" "$2")" == "$3" ]]; }

write_doh_list 2001:db8:d0:0:0:0 20000
started=$SECONDS
lab_start_muzzled
echo "    muzzled ready $((SECONDS - started)) s after start, with the list installed"

echo "== the kernel holds every address"
lab_check "@doh6 holds the 20,000 generated addresses" set_has doh6 '^2001:db8:d0::' 20000
lab_check "  and the lab's resolver 2001:db8:cafe::53" set_has doh6 '^2001:db8:cafe::53$' 1
lab_check "  the last generated one, 2001:db8:d0::9c3e, among them" \
  set_has doh6 '^2001:db8:d0::9c3e$' 1
lab_check "@doh4 holds the 384 IPv4 addresses" set_has doh4 '^(192\.0\.2|198\.51\.100|203\.0\.113)\.' 384

echo "== and uses them"
https_refused() { [[ "$(lab_flow speaker tcp "$1" 443 --timeout-ms 2000 || true)" =~ result=(refused|unreachable) ]]; }
lab_check "speaker -> 2001:db8:cafe::53:443 refused" https_refused 2001:db8:cafe::53
lab_check "  logged as dns-bypass" \
  wait_log 'event=deny device=kitchen-speaker .*dst=\[?2001:db8:cafe::53\]?:443 .*reason=dns-bypass' 2
lab_check "speaker -> 203.0.113.53:443 refused" https_refused 203.0.113.53
lab_check "  logged as dns-bypass" \
  wait_log 'event=deny device=kitchen-speaker .*dst=203\.0\.113\.53:443 .*reason=dns-bypass' 2

echo "== a reload with another list rewrites the sets"
write_doh_list 2001:db8:d1:0:0:0 20000
lab_reload_muzzled
lab_check "@doh6 holds the 20,000 new addresses" wait_until 60 set_has doh6 '^2001:db8:d1::' 20000
lab_check "  and none of the old" set_has doh6 '^2001:db8:d0::' 0
lab_check "@doh4 still holds its 384" set_has doh4 '^(192\.0\.2|198\.51\.100|203\.0\.113)\.' 384
lab_summary
