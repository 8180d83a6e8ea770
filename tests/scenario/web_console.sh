#!/usr/bin/env bash
# The web console in a real browser against the lab. muzzled serves it (management.web) on its
# uplink address 198.51.100.1:8443 to the admin's side (the internet namespace) alone, with a
# certificate it made itself. Checked from that namespace:
#  - the certificate the browser gets is the one whose fingerprint `muzzlectl status` prints;
#    plain HTTP on the port gets only a 308 to https://; a static URL climbing out of /static/,
#    an over-long header, a device on the segment are refused;
#  - headless chromium (web_console.mjs, playwright-core) logs in as an operator, sees the
#    demo's devices with their vendors and the gadget awaiting a decision, opens the gadget and
#    quarantines it through the page — and a real connection from the gadget's namespace to the
#    NVR, allowed a moment before (the admin gave it the camera profile), is then stopped; the change is in the audit log as web:NAME;
#  - a viewer sees the same page without buttons, and a forged POST is refused; the events page
#    fills from the live stream;
#  - an operator starts learning on garage-cam from its page; after its day's flows an admin
#    reviews the proposal (the cloud by name a rule, the hard-coded address a finding) and
#    applies it: a new revision by web:webadmin;
#  - a device that announces `<script>` as its DHCP hostname is shown as text;
#  - wrong passwords are refused, and past five the source waits (429);
# and the box keeps enforcing throughout. Screenshots go to $WEB_SHOTS (default: web-console/ in
# the build's test folder); README links the copies in mgmt/web/screens/.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

repo="$LAB_REPO"
playwright="$repo/.cache/node/node_modules/playwright-core"
if ! command -v chromium >/dev/null || ! command -v node >/dev/null || [[ ! -d "$playwright" ]] ||
  ! command -v curl >/dev/null || ! command -v openssl >/dev/null; then
  echo "skipped: needs chromium, node with playwright-core in .cache/node, curl and openssl (tests/setup.sh installs them)"
  exit 77
fi
shots="${WEB_SHOTS:-$BUILD/tests/web-console}"
mkdir -p "$shots"
trap 'lab_down' EXIT

LAB_MANAGEMENT='  web:
    listen: 198.51.100.1:8443
    allow: [198.51.100.2]'
export LAB_MANAGEMENT
scenario_lab_up
lab_start_muzzled
url=https://198.51.100.1:8443
gadget="${LAB_MAC[unknown]}"
vacuum="${LAB_MAC[vacuum]}"

lab_check "muzzled says where the console is" wait_log "event=management .*web=$url/"
lab_check "it made its own certificate" wait_log 'event=web-console .*certificate=made-here'

echo "== accounts, made over the API (the password from stdin, never on a command line)"
lab_check "an operator account" ctl web user add webop --role operator --password-stdin <<<"operator-pass-1"
lab_check "a viewer account" ctl web user add webview --role viewer --password-stdin <<<"viewer-pass-1"
lab_check "a password of 3 bytes is refused (exit 3, INVALID_ARGUMENT)" expect_exit 3 ctl web user add shorty --password-stdin <<<"abc"
lab_check "muzzlectl web users lists both" bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' web users | grep -q webview"

echo "== the certificate and the transport"
status_fp="$(ctl status | sed -n 's/^web console certificate SHA-256: \([0-9A-F:]*\).*/\1/p')"
served_fp="$(lab_exec inet openssl s_client -connect 198.51.100.1:8443 </dev/null 2>/dev/null |
  openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//')"
echo "    status: $status_fp"
echo "    served: $served_fp"
lab_check "the browser gets the certificate muzzlectl status names" test -n "$status_fp" -a "$status_fp" == "$served_fp"
kurl() { lab_exec inet curl -sk --max-time 5 "$@"; }
plain="$(lab_exec inet curl -s --max-time 5 -o /dev/null -w '%{http_code} %{redirect_url}' http://198.51.100.1:8443/policy)"
lab_check "plain HTTP gets only a redirect to https:// ($plain)" test "$plain" == "308 $url/"
code() { kurl -o /dev/null -w '%{http_code}' "$@"; }
lab_check "a static URL climbing out of /static/ is not found" test "$(code --path-as-is "$url/static/../../etc/passwd")" == 404
lab_check "an over-long header is refused (431)" test "$(code -H "X-Pad: $(head -c 10000 /dev/zero | tr '\0' a)" "$url/login")" == 431
lab_check "every answer carries the Content-Security-Policy" bash -c "ip netns exec $(lab_ns inet) curl -sk -D - -o /dev/null $url/login | grep -qi \"^content-security-policy: default-src 'none'\""
seg="$(lab_exec cam1 curl -sk --max-time 5 -o /dev/null -w '%{http_code}' "$url/login" || true)"
lab_check "a device on the segment is refused ($seg)" test "$seg" != 200

run_browser() {
  lab_exec inet env URL="$url" NAME="$1" PASSWORD="$2" MAC="$3" SHOTS="$shots" PLAYWRIGHT="$playwright" \
    PROFILE="${PROFILE:-}" \
    node "$repo/tests/scenario/web_console.mjs" "$4"
}
echo "== the site's devices at work (the gadget on the default profile only asks the resolver)"
lab_table_header
lab_expect allowed cam1 nvr tcp 554
lab_expect allowed cam3 nvr tcp 554
lab_expect allowed unknown gw udp 53
lab_expect rejected unknown nvr tcp 554
echo "== the operator's overview: the site's devices, the gadget awaiting a decision"
lab_check "overview phase" run_browser webop operator-pass-1 "$gadget" overview

echo "== the admin gives the gadget the camera profile (as the demo does): it reaches the NVR"
ctl device set "$gadget" --name gadget --profile camera --comment "test: before the console" >/dev/null
lab_table_header
lab_expect allowed unknown nvr tcp 554

echo "== the operator quarantines the gadget in the browser; its next connection is stopped"
lab_check "quarantine phase" run_browser webop operator-pass-1 "$gadget" quarantine
lab_table_header
lab_expect blocked unknown nvr tcp 554
lab_check "the audit log names the web user" bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' audit | grep -q 'web:webop'"
quarantined() { ctl --json devices | jq -e --arg mac "$gadget" '[.. | objects | select(.mac? == $mac)][0].quarantined == true' >/dev/null; }
lab_check "the API says the gadget is quarantined" quarantined
# The logins above checked passwords on the console's job thread: it and the console's own
# thread, the compile thread and the socket's listener yield the cores to the queue threads.
lab_check "the console's threads run in the background, the packet path's do not" \
  thread_priorities muzzle-web muzzle-web-jobs muzzle-compile muzzle-unix

echo "== a viewer, and a forged change"
lab_check "viewer phase" run_browser webview viewer-pass-1 "$gadget" viewer

echo "== learning from the page: an operator starts it, an admin applies the proposal"
cam2="${LAB_MAC[cam2]}"
lab_check "an admin account" ctl web user add webadmin --role admin --password-stdin <<<"admin-pass-1"
lab_check "learn phase" run_browser webop operator-pass-1 "$cam2" learn
lab_check "the box says so" wait_log "event=learn-start mac=$cam2"
lab_table_header
lab_expect_name rejected cam2 telemetry.vendor.example tcp 443
lab_expect rejected cam2 cloud1 tcp 443  # a hard-coded address: a finding
before="$(revision)"
PROFILE=garage-cam lab_check "propose phase" run_browser webadmin admin-pass-1 "$cam2" propose
lab_check "a new revision, by web:webadmin" bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' audit | grep 'web:webadmin' | grep -q learn"
lab_check "the revision moved on" test "$(revision)" -gt "$before"

echo "== a device announcing <script> as its DHCP hostname"
lab_exec vacuum "$LABNET" dhcp eth0 --hostname '<script>alert("muzzle")</script>' >/dev/null
hostname_seen() { ctl --json devices | grep -q 'alert'; }
lab_check "muzzled took the hostname" wait_until 10 hostname_seen
lab_check "xss phase" run_browser webview viewer-pass-1 "$vacuum" xss

echo "== wrong passwords"
login() { kurl -o /dev/null -w '%{http_code}' --data-urlencode "name=webop" --data-urlencode "password=$1" "$url/login"; }
lab_check "a wrong password gets 401" test "$(login wrong-1)" == 401
for i in 2 3 4 5; do login "wrong-$i" >/dev/null; done
lab_check "past five wrong ones the source waits (429)" test "$(login operator-pass-1)" == 429
lab_check "the refusals are counted" bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' --json status | grep -q '\"logins_refused\": \"\\{0,1\\}[6-9]'"

echo "== the box kept enforcing throughout"
lab_table_header
lab_expect allowed cam1 nvr tcp 554
lab_expect blocked unknown nvr tcp 554
lab_expect rejected cam1 cloud1 tcp 443
ls "$shots"/*.png | sed 's/^/    screenshot: /'
lab_summary
