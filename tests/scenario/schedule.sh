#!/usr/bin/env bash
# Schedules end to end: the vacuum may reach one cloud host in a "day" window and another in the
# "evening" window that follows it. At the edge, muzzled installs a new generation: the vacuum's
# open connection to the day host is cut on its next packet, and a new connection to the evening
# host passes. Then muzzled's clock is stepped back into the day window, and the day host is
# reachable again.
#
# The clock: muzzled runs under libfaketime (Debian's faketime), its calendar a few dozen seconds
# ahead of the machine's, so the edge of a minute in its time zone comes LEAD seconds after it
# starts instead of the test waiting for a real one; its monotonic clock, which its timers use,
# is not faked. The offset lives in a file libfaketime re-reads on every call, so writing the
# file steps muzzled's clock as an NTP step would. muzzled's zone is set explicitly (TZ), and the
# windows are written in that zone's local time.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

faketime_lib="$(compgen -G '/usr/lib/*/faketime/libfaketimeMT.so.1' | head -n 1 || true)"
if [[ -z "$faketime_lib" ]]; then
  echo "libfaketime is missing: run tests/setup.sh (it installs Debian's faketime)" >&2
  exit 1
fi

scenario_lab_up

zone=Europe/Berlin
lead=30
real="$(date +%s)"
edge=$(((real / 60 + 2) * 60))  # a minute's edge, at least a minute away in real time
offset=$((edge - lead - real))  # muzzled's calendar reaches it LEAD seconds after now
hhmm() { TZ="$zone" date -d "@$1" +%H:%M; }
day="$(hhmm $((edge - 3600)))-$(hhmm "$edge")"
evening="$(hhmm "$edge")-$(hhmm $((edge + 3600)))"

cat >"$LAB_STATE/policy.yaml" <<POLICY
version: 1
defaults: {profile: quarantine}
profiles:
  quarantine: {egress: [{allow: [gateway], proto: udp, ports: [53, 67]}]}
  vacuum:
    egress:
      - {allow: [203.0.113.20], proto: tcp, ports: [443], when: {hours: "$day"}}
      - {allow: [203.0.113.10], proto: tcp, ports: [443], when: {hours: "$evening"}}
      - {allow: [gateway], proto: udp, ports: [53, 123]}
devices:
  - {name: vacuum, mac: "50:ec:50:00:00:21", profile: vacuum}
POLICY
clock_file="$LAB_STATE/faketime.rc"
echo "+$offset" >"$clock_file"
# Written aside and renamed: libfaketime never reads half a line.
set_clock_offset() {
  echo "+$1" >"$clock_file.new"
  mv "$clock_file.new" "$clock_file"
}
LAB_MUZZLED_ENV="TZ=$zone LD_PRELOAD=$faketime_lib FAKETIME_TIMESTAMP_FILE=$clock_file"
LAB_MUZZLED_ENV+=" FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1"
export LAB_MUZZLED_ENV
lab_start_muzzled

echo "== muzzled's time: $(TZ="$zone" date -d "@$((real + offset))" '+%F %T %Z') at start;" \
  "the day window $day closes at its edge, the evening window $evening opens"
lab_check "the policy is loaded with two schedules, one open" \
  wait_log 'event=policy-loaded .* schedules=2 schedules_open=1' 5
lab_table_header
lab_expect allowed vacuum cloud2 tcp 443
lab_expect rejected vacuum cloud1 tcp 443
lab_check "hold vacuum -> cloud2 tcp/443 established" \
  lab_hold_start vacuum "$(lab_addr cloud2)" 443 --interval-ms 100 --max-ms 150000
lab_check "hold exchanges data" lab_hold_wait_echoes 3 5
no_edge_yet() { ! grep -q 'event=schedule ' "$LAB_STATE/muzzled.log"; }
lab_check "all of the above happened before the edge (else raise LEAD)" no_edge_yet

echo "== waiting for $(hhmm "$edge") in muzzled's time (about $lead s from its start)"
lab_check "the day window closes at the edge" \
  wait_log "event=schedule state=closed when=$day rules=1 " $((lead + 15))
lab_check "the evening window opens at the same edge" \
  wait_log "event=schedule state=open when=$evening rules=1 " 1
result="$(lab_hold_wait 5)"
echo "    hold: ${result:-still running}"
lab_check "the held connection is cut on its next packet" grep -q 'result=cut' <<<"$result"
lab_table_header
lab_expect rejected vacuum cloud2 tcp 443
lab_expect allowed vacuum cloud1 tcp 443

echo "== muzzled's clock stepped back 5 minutes, into the day window"
set_clock_offset $((offset - 300))
# Noticed at the daemon's next look at the clock: at most Daemon::kScheduleRecheck (30 s).
lab_check "the step is noticed: the day window opens again" \
  wait_log "event=schedule state=open when=$day rules=1 " 40
lab_check "and the evening window closes" \
  wait_log "event=schedule state=closed when=$evening rules=1 " 1
lab_table_header
lab_expect allowed vacuum cloud2 tcp 443
lab_expect rejected vacuum cloud1 tcp 443

explain="$(ctl policy explain vacuum)" || true
sed 's/^/    /' <<<"$explain"
lab_check "policy explain shows each rule's window as written" \
  grep -q "allow 203.0.113.20 tcp 443 when $day" <<<"$explain"

lab_summary
