#!/usr/bin/env bash
# The example site policy, end to end: muzzled enforces policies/site-example.yaml in the lab
# and every flow of the demo table behaves as the policy says, in IPv4 and IPv6. A denial is
# fast (reset or ICMP, not a timeout), ICMP to the internet is denied, and denials are logged.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

scenario_lab_up
lab_start_muzzled

echo "== site-example flows"
site_example_rows

echo "== denials are answered at once"
# A rejected connect must come back as a reset or ICMP error well before any timeout:
# firmware that waits out timeouts retries for minutes.
fast_reject() {
  local family="$1" line ms
  line="$(lab_flow cam1 tcp "$(lab_addr cloud1 "$family")" 443 --timeout-ms 3000 || true)"
  echo "    $line"
  ms="$(sed -n 's/.* ms=\([0-9]*\).*/\1/p' <<<"$line")"
  [[ "$line" =~ result=(refused|unreachable) && -n "$ms" ]] && ((ms < 1000))
}
lab_check "cam1 -> cloud1 tcp/443 rejected in < 1000 ms (v4)" fast_reject 4
lab_check "cam1 -> cloud1 tcp/443 rejected in < 1000 ms (v6)" fast_reject 6

echo "== ICMP"
no_ping() { ! lab_exec cam1 ping -q "$@" >/dev/null 2>&1; }
lab_check "ping cam1 -> cloud1 fails (v4)" no_ping -c1 -W1 203.0.113.10
lab_check "ping cam1 -> cloud1 fails (v6)" no_ping -6 -c1 -W1 2001:db8:cafe::10

echo "== log"
lab_check "deny of cam1 -> cloud1 logged with device and rule" \
  wait_log 'event=deny .*mac=44:47:cc:00:00:11.*dst=203\.0\.113\.10:443.*rule=' 2

grep 'event=deny' "$LAB_STATE/muzzled.log" | head -n 20 | sed 's/^/    /' || true
lab_summary
