#!/usr/bin/env bash
# Devices' MUD files fetched by muzzled (policy `mud: {fetch: true}`). A camera announces its
# MUD URL in DHCP option 161; the box resolves the URL's name through the lab's DNS, fetches the
# file and its signature over HTTPS from the lab internet (openssl s_server, a server
# certificate from a web CA this test makes) and checks the signature against a MUD CA this test
# makes. With `apply: propose`, lobby-cam's (cam1) profile is a proposal (`muzzlectl mud
# proposals`) until an admin applies it (`muzzlectl mud apply MAC --confirm`: the profile and
# the camera's assignment in one revision, the site's text and comments kept). With `apply: auto`,
# garage-cam (cam2) first announces a file tampered with after signing (refused,
# reason=bad-signature, it keeps its profile), then the good one, which is applied (from the
# cache) and the camera assigned to it. Each camera then reaches what the file allows (its
# cloud by name, DNS) and not what its old profile allowed (the NVR on 554). A URL naming an IP
# address, or a name resolving to the box's own LAN, is refused before any fetch. A camera
# (cam3) that announced its URL while fetching was off is fetched once a policy turns it on.
#
# muzzled resolves names with the gateway namespace's resolv.conf: `ip netns exec` reads
# /etc/netns/<namespace>/resolv.conf when it exists, so this test writes one naming the lab
# internet's dnsmasq (198.51.100.2) and removes it on the way out.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"
# shellcheck source=tests/scenario/mud_pki.sh
source "$(dirname "$0")/mud_pki.sh"

mud_host=mud.maker.example
LAB_DNS_RECORDS+=("$mud_host 203.0.113.80 2001:db8:cafe::80 60")
# A name a device might control, pointing at the box's own LAN side: never connected to.
LAB_DNS_RECORDS+=("inside.maker.example 198.18.10.1 fd00:10::1 60")
scenario_lab_up
netns_etc="/etc/netns/$(lab_ns gw)"
trap 'rm -rf "$netns_etc"; lab_down' EXIT
mkdir -p "$netns_etc"
echo "nameserver 198.51.100.2" >"$netns_etc/resolv.conf"

# The PKI: a web CA and the MUD server's certificate (TLS), a MUD CA and its signer.
cd "$LAB_STATE"
printf 'subjectAltName=DNS:%s\n' "$mud_host" >server.ext
mud_ca webca && mud_issue server webca server.ext && mud_ca mudca && mud_issue signer mudca
cp mudca.pem mud-ca.pem

base="https://$mud_host:8443"
mkdir -p www
mud_file "$base/labcam.json" telemetry.vendor.example >www/labcam.json && mud_sign labcam signer
mud_file "$base/tampered.json" telemetry.vendor.example >www/tampered.json && mud_sign tampered signer
sed -i 's/"port": 443/"port": 444/' www/tampered.json

# The MUD server in the lab internet, on the cloud address the name points at.
(cd www && exec ip netns exec "$(lab_ns inet)" openssl s_server -quiet -WWW \
  -accept 203.0.113.80:8443 -cert ../server.pem -key ../server.key >/dev/null 2>&1) &
_lab_remember_pid $!

# The example site with the mud section: fetch, the MUD CA; proposals first.
cp "$LAB_REPO/policies/site-example.yaml" policy.yaml
printf 'mud: {fetch: true, trust: mud-ca.pem, apply: propose}\n' >>policy.yaml
LAB_MANAGEMENT="  mud_server_ca: $LAB_STATE/webca.pem"
lab_start_muzzled
revision_is() { [[ "$(revision)" == "$1" ]]; }

echo "== before: both cameras are cameras (the NVR on 554)"
lab_table_header
lab_expect allowed cam1 nvr tcp 554
lab_expect allowed cam2 nvr tcp 554

echo "== a URL naming an address is refused before any fetch"
lab_check "cam1 announces https://203.0.113.80:8443/labcam.json" \
  lab_exec cam1 "$LABNET" dhcp eth0 --mud-url "https://203.0.113.80:8443/labcam.json"
lab_check "mud-refused reason=ip-literal" wait_log 'event=mud-refused device=44:47:cc:00:00:11 url=https://203.0.113.80:8443/labcam.json reason=ip-literal' 1

echo "== a name that resolves to the box's own LAN is refused before any connection"
lab_check "cam1 announces https://inside.maker.example:8443/labcam.json" \
  lab_exec cam1 "$LABNET" dhcp eth0 --mud-url "https://inside.maker.example:8443/labcam.json"
lab_check "mud-refused reason=private-address" wait_log 'event=mud-refused device=44:47:cc:00:00:11 url=https://inside.maker.example:8443/labcam.json reason=private-address' 1

echo "== apply: propose. lobby-cam announces its MUD URL: fetched, verified, proposed"
lab_check "cam1 announces $base/labcam.json" lab_exec cam1 "$LABNET" dhcp eth0 --mud-url "$base/labcam.json"
lab_check "mud-fetched" wait_log "event=mud-fetched device=44:47:cc:00:00:11 url=$base/labcam.json profile=labcam from_cache=no" 1
lab_check "mud-proposed" wait_log "event=mud-proposed device=44:47:cc:00:00:11 url=$base/labcam.json profile=labcam base_revision=1 assign=yes" 1
lab_check "mud proposals lists it" expect_exit 0 ctl mud proposals
lab_check "with the device, profile and base revision" grep -Eq '^44:47:cc:00:00:11 +labcam +1 +yes' "$LAB_STATE/last.out"
lab_check "and the diff adds the profile" grep -q '^+      - {allow: \[telemetry.vendor.example\], proto: tcp, ports: \[443\]}' "$LAB_STATE/last.out"
lab_check "nothing applied yet" test "$(revision)" = 1
lab_check "mud apply 44:47:cc:00:00:11 --confirm 10m" \
  expect_exit 0 ctl mud apply 44:47:cc:00:00:11 --confirm 10m
lab_check "the profile and the device in one revision: 1 -> 2" grep -q 'revision 1 -> 2' "$LAB_STATE/last.out"
lab_check "awaiting confirmation" grep -q 'confirm by' "$LAB_STATE/last.out"
lab_check "confirm" expect_exit 0 ctl policy confirm 2
ctl policy show >current.yaml
lab_check "the site's comments are kept" grep -q '^# Devices the list above does not name' current.yaml
lab_check "lobby-cam's entry names labcam" bash -c "grep -A2 -- '- name: lobby-cam' current.yaml | grep -q 'profile: labcam'"
removed_lines() { diff policy.yaml current.yaml | grep '^<' || true; }
lab_check "  only its profile line changed; every other line is added" \
  test "$(removed_lines)" = "<     profile: camera"
lab_check "the audit log names the MUD fetch" bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' audit | grep -q 'MUD fetch of $base/labcam.json for 44:47:cc:00:00:11 (the device assigned to labcam)'"
lab_check "no proposal is left" bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' mud proposals | grep -q 'no MUD proposals'"
lab_table_header
lab_expect rejected cam1 nvr tcp 554
lab_expect_name allowed cam1 telemetry.vendor.example tcp 443 4

echo "== apply: auto"
sed -i 's/apply: propose/apply: auto/' current.yaml
lab_check "policy apply with apply: auto" expect_exit 0 ctl policy apply current.yaml
lab_check "revision 3" test "$(revision)" = 3

echo "== garage-cam announces a file changed after it was signed: refused, profile kept"
lab_check "cam2 announces $base/tampered.json" lab_exec cam2 "$LABNET" dhcp eth0 --mud-url "$base/tampered.json"
lab_check "mud-refused reason=bad-signature" wait_log "event=mud-refused device=44:47:cc:00:00:12 url=$base/tampered.json reason=bad-signature" 1
lab_check "still revision 3" test "$(revision)" = 3
lab_table_header
lab_expect allowed cam2 nvr tcp 554

echo "== garage-cam announces the good URL: from the cache, applied, assigned"
lab_check "cam2 announces $base/labcam.json" lab_exec cam2 "$LABNET" dhcp eth0 --mud-url "$base/labcam.json"
lab_check "mud-fetched from the cache" wait_log "event=mud-fetched device=44:47:cc:00:00:12 url=$base/labcam.json profile=labcam from_cache=yes" 1
# Revision 4: the profile placed again (the same rules) and the device assigned.
lab_check "mud-applied" wait_log "event=mud-applied device=44:47:cc:00:00:12 url=$base/labcam.json profile=labcam revision=4" 1
lab_check "garage-cam is in labcam" bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' devices | grep '44:47:cc:00:00:12' | grep -q labcam"

echo "== garage-cam reaches what the file allows, and nothing else"
lab_table_header
lab_expect allowed cam2 gw udp 53
lab_expect rejected cam2 nvr tcp 554
lab_expect rejected cam2 cloud1 tcp 443
lab_expect_name allowed cam2 telemetry.vendor.example tcp 443 4
lab_expect_name rejected cam2 avs.voice.example tcp 443 4

echo "== a URL announced while fetching was off is fetched once a policy turns it on"
ctl policy show >off.yaml
sed -i 's/fetch: true/fetch: false/' off.yaml
lab_check "policy apply with fetch: false" expect_exit 0 ctl policy apply off.yaml
lab_check "cam3 announces $base/labcam.json" lab_exec cam3 "$LABNET" dhcp eth0 --mud-url "$base/labcam.json"
lab_check "the box knows it" wait_until 5 bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' --json devices 44:47:cc:00:00:13 | grep -q labcam.json"
lab_check "nothing fetched for it" test "$(log_count 'event=mud-[a-z]+ device=44:47:cc:00:00:13')" = 0
sed 's/fetch: false/fetch: true/' off.yaml >on.yaml
lab_check "policy apply with fetch: true" expect_exit 0 ctl policy apply on.yaml
lab_check "mud-fetched for cam3" wait_log "event=mud-fetched device=44:47:cc:00:00:13 url=$base/labcam.json profile=labcam from_cache=yes" 5
lab_check "and applied (auto)" wait_log "event=mud-applied device=44:47:cc:00:00:13 url=$base/labcam.json profile=labcam" 5

lab_summary
