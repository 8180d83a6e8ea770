#!/usr/bin/env bash
# Events to a SIEM: Debian's rsyslog, started by this test in the lab's internet namespace
# (198.51.100.2, 2001:db8:1::2) with its own config (imtcp on 601, imtcp with the gtls driver on
# 6514, and on 6515 asking for a client certificate; a test CA made with openssl), stores the raw
# RFC 5424 messages muzzled sends. Checked: a camera's denied flow arrives over TCP and over TLS
# (also with muzzled's client certificate) with its structured data (event, the device's MAC, the
# destination); a collector whose certificate does not chain to the configured CA gets nothing;
# with rsyslog killed, muzzled still judges, reports the collectors down and counts the lines it
# drops (`muzzlectl status`); restarted, rsyslog gets events again; a collector reached at an
# address its certificate does not name is refused; a deny reaches imudp (514) over IPv6.
# rsyslog loads no imuxsock or imklog (so never /dev/log) and writes only in this test's folder.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

command -v rsyslogd >/dev/null || {
  echo "skipped: rsyslogd is not installed (tests/setup.sh installs rsyslog and rsyslog-gnutls)"
  exit 77
}

scenario_lab_up
collector=198.51.100.2
dir="$LAB_STATE/syslog"
mkdir -p "$dir/work"
scenario_certs "$dir"
# The collector's certificate names its IPv4 address only: reached at its IPv6 address it is
# someone else.
scenario_issue collector "$collector" "subjectAltName=IP:$collector"
scenario_issue box muzzle-box "extendedKeyUsage=clientAuth"  # muzzled's client certificate
scenario_ca other  # a CA that signed nothing rsyslog shows

cat >"$dir/rsyslog.conf" <<EOF
global(workDirectory="$dir/work"
       defaultNetstreamDriverCAFile="$dir/ca.pem"
       defaultNetstreamDriverCertFile="$dir/collector.pem"
       defaultNetstreamDriverKeyFile="$dir/collector.key")
module(load="imtcp" maxSessions="16")
module(load="imudp")
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="plain") { action(type="omfile" file="$dir/tcp.log" template="raw") }
ruleset(name="tls") { action(type="omfile" file="$dir/tls.log" template="raw") }
ruleset(name="mtls") { action(type="omfile" file="$dir/mtls.log" template="raw") }
ruleset(name="udp") { action(type="omfile" file="$dir/udp.log" template="raw") }
input(type="imtcp" port="601" ruleset="plain")
input(type="imtcp" port="6514" ruleset="tls" streamDriver.name="gtls" streamDriver.mode="1"
      streamDriver.authMode="anon")
input(type="imtcp" port="6515" ruleset="mtls" streamDriver.name="gtls" streamDriver.mode="1"
      streamDriver.authMode="x509/certvalid")
input(type="imudp" port="514" ruleset="udp")
EOF

# rsyslogd itself (its pid file), not the shell that started it, is what gets killed; the lab's
# teardown kills whatever is left in its namespaces anyway.
rsyslog_start() {
  rm -f "$dir/rsyslogd.pid"
  lab_exec inet rsyslogd -f "$dir/rsyslog.conf" -i "$dir/rsyslogd.pid" -n \
    >>"$dir/rsyslogd.out" 2>&1 </dev/null &
  _lab_remember_pid $!
  wait_until 0 rsyslog_listening || {
    echo "    rsyslogd did not listen on 601, 6514 and 6515:"
    sed 's/^/    /' "$dir/rsyslogd.out"
    return 1
  }
  RSYSLOG_PID="$(cat "$dir/rsyslogd.pid")"
  echo "$RSYSLOG_PID" >>"$LAB_STATE/pids"
}
rsyslog_listening() {
  local listening
  listening="$(lab_exec inet ss -Hltn)"
  grep -q ':601 ' <<<"$listening" && grep -q ':6514 ' <<<"$listening" &&
    grep -q ':6515 ' <<<"$listening" && lab_exec inet ss -Hlun | grep -q ':514 ' &&
    [[ -s "$dir/rsyslogd.pid" ]]
}
rsyslog_gone() { ! kill -0 "$RSYSLOG_PID" 2>/dev/null && ! rsyslog_listening; }
rsyslog_start

export LAB_CONFIG_EXTRA="syslog:
  - target: tcp://$collector:601
    events: [deny, syslog-up]
    queue: 8
  - target: tls://$collector:6514
    ca: $dir/ca.pem
    queue: 32
  - target: \"tls://[2001:db8:1::2]:6514\"
    ca: $dir/other.pem
    events: [deny]
  - target: tls://$collector:6515
    ca: $dir/ca.pem
    cert: $dir/box.pem
    key: $dir/box.key
    events: [deny]"
lab_start_muzzled

# A uint64 field of collector N (0-based) in `status --json`.
syslog_field() {
  ctl --json status | python3 -c '
import json, sys
c = json.load(sys.stdin).get("syslog", [])[int(sys.argv[1])]
print(c.get(sys.argv[2], 0))' "$1" "$2"
}
stored() { grep -c "$1" "$2" 2>/dev/null || true; }
down_nothing_sent() { [[ "$(syslog_field "$1" sent)" == 0 && "$(syslog_field "$1" state)" == down ]]; }
dropped_at_least() { (($(syslog_field "$1" dropped) >= $2)); }
down_with_error() { [[ "$(syslog_field "$1" state)" == down && -n "$(syslog_field "$1" last_error)" ]]; }
more_denials_than() { (($(stored ' deny \[' "$dir/tcp.log") > $1)); }
# A deny from cam1 to cloud1 over tcp/443, as rsyslog stored it: the structured data names the
# event, the device's MAC and the destination.
deny_sd='\[muzzle@32473 event="deny" device="[^"]*" mac="44:47:cc:00:00:11" .*dst="203.0.113.10:443"'
deny_pattern="^<132>1 [0-9T:.-]*Z [^ ]* muzzled [0-9]* deny $deny_sd"

echo "== a camera's denied flow reaches rsyslog over TCP and over TLS"
lab_table_header
lab_expect rejected cam1 cloud1 tcp 443
lab_check "rsyslog (imtcp) stored the deny, RFC 5424 with [muzzle@32473 event mac dst]" \
  wait_until 0 grep -Eq "$deny_pattern" "$dir/tcp.log"
lab_check "rsyslog (imtcp, gtls) stored the same deny over TLS" \
  wait_until 0 grep -Eq "$deny_pattern" "$dir/tls.log"
echo "    as rsyslog stored it: $(grep -E "$deny_pattern" "$dir/tls.log" | head -n1)"
lab_check "rsyslog (gtls, x509/certvalid) stored it from muzzled's client certificate" \
  wait_until 0 grep -Eq "$deny_pattern" "$dir/mtls.log"
lab_check "the syslog senders run in the background, the packet path's threads do not" \
  thread_priorities muzzle-syslog
lab_check "the TCP collector got only the events it asks for (no new-device)" \
  test "$(stored 'new-device' "$dir/tcp.log")" = 0
lab_check "the TLS collector gets every event (new-device too)" \
  wait_until 0 grep -q ' new-device \[muzzle@32473 event="new-device"' "$dir/tls.log"

echo "== a TLS collector whose certificate does not chain to its ca gets nothing"
lab_check "muzzled reports it down with the verification error" \
  wait_log 'event=syslog-down collector="?tls://\[2001:db8:1::2\]:6514"? error="TLS handshake: .*certificate verify failed'
lab_check "... and status shows it, with nothing sent" down_nothing_sent 2

echo "== rsyslog killed: muzzled still judges, and counts what it cannot send"
kill -KILL "$RSYSLOG_PID"
lab_check "rsyslogd is gone" wait_until 0 rsyslog_gone
lab_check "the TCP collector is reported down" \
  wait_log "event=syslog-down collector=tcp://$collector:601 "
lab_check "the TLS collector is reported down" \
  wait_log "event=syslog-down collector=tls://$collector:6514 "
for n in 0 1; do
  sent_before[n]="$(syslog_field "$n" sent)"
done
burst="$(lab_exec cam1 "$LABNET" burst "$(lab_addr cloud1)" 40000 --flows 80 </dev/null || true)"
echo "    labnet: $burst"
lab_check "80 new flows denied while the collectors are down" grep -q 'result=sent flows=80' <<<"$burst"
lab_table_header
lab_expect allowed cam1 nvr tcp 554
lab_expect rejected cam1 cloud1 tcp 443
lab_expect allowed vacuum cloud2 tcp 443
ctl status | sed -n '/^syslog collectors/,$p' | sed 's/^/    /'
for n in 0 1; do
  lab_check "collector $n: lines dropped and counted (queue 8 or 32, 80+ denials)" \
    wait_until 0 dropped_at_least "$n" 40
  lab_check "collector $n: state down, with the error" down_with_error "$n"
  lab_check "collector $n: nothing more was sent" test "$(syslog_field "$n" sent)" = "${sent_before[n]}"
done
lab_check "muzzlectl status shows the collectors' table" \
  grep -Eq "^tcp://198.51.100.2:601 +down +[0-9]+ +[0-9]{2,} +[0-9]+" <<<"$(ctl status)"

echo "== rsyslog back: muzzled reconnects and sends again"
before="$(stored ' deny \[' "$dir/tcp.log")"
rsyslog_start
lab_check "the TCP collector is reported up again" \
  wait_log "event=syslog-up collector=tcp://$collector:601" 60
lab_check "... and the syslog-up line itself reached it" \
  wait_until 0 grep -q ' syslog-up \[muzzle@32473 event="syslog-up" collector="tcp://' "$dir/tcp.log"
lab_expect rejected cam1 cloud1 tcp 443
lab_check "a new deny arrives" wait_until 0 more_denials_than "$before"

echo "== the collector's certificate must name the address muzzled connects to; UDP over IPv6"
lab_stop_muzzled
export LAB_CONFIG_EXTRA="syslog:
  - target: \"tls://[2001:db8:1::2]:6514\"
    ca: $dir/ca.pem
  - target: \"udp://[2001:db8:1::2]:514\"
    events: [deny]"
lab_start_muzzled
lab_check "the right CA, but not its address: refused (IP address mismatch)" \
  wait_log 'event=syslog-down collector="?tls://\[2001:db8:1::2\]:6514"? error="TLS handshake: .*\(IP address mismatch\)'
lab_check "... and status shows it, with nothing sent" down_nothing_sent 0
lab_table_header
lab_expect rejected cam1 cloud1 tcp 443
lab_check "rsyslog (imudp) stored the deny from one datagram to its IPv6 address" \
  wait_until 0 grep -Eq "$deny_pattern" "$dir/udp.log"
udp_ready() { [[ "$(syslog_field 1 state)" == ready ]] && (($(syslog_field 1 sent) >= 1)); }
lab_check "... and status shows the UDP collector ready, with what it sent" udp_ready
lab_stop_muzzled
lab_summary
