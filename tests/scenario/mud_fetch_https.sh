#!/bin/bash
# MUD files over real HTTPS: retrieveMud with libcurl against `openssl s_server -WWW` in a
# network namespace of its own, the file signed by `openssl cms -sign -binary -outform DER`
# under a CA this test makes. A signed file is fetched, verified, imported and then served from
# the cache; a tampered file, a signer from another CA, a server certificate the CA file does
# not vouch for, an http:// URL and a file over 256 KiB are each refused with their reason.
# (The device side, DHCP option 161 -> fetch -> profile in muzzled, is tests/scenario/mud_fetch.sh.)
set -u
# shellcheck source=tests/scenario/mud_pki.sh
source "$(dirname "$0")/mud_pki.sh"
if ((EUID != 0)); then
  echo "skipped: needs root (a network namespace)"
  exit 77
fi
check=${BUILD:?set BUILD to the build folder}/tests/mud_fetch_check
ns=mzmud$$
work=$(mktemp -d /tmp/muzzle-mud-fetch.XXXXXX)
server=""
cleanup() {
  [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# The PKI: a web CA and the server's certificate (for TLS), a MUD CA and a signer, another CA.
cd "$work" && mkdir www || exit 1
printf 'subjectAltName=IP:203.0.113.80\n' >server.ext
mud_ca webca && mud_issue server webca server.ext && mud_ca mudca && mud_issue signer mudca &&
  mud_ca otherca && mud_issue stranger otherca || { echo "FAIL: making the test PKI"; exit 1; }

url=https://203.0.113.80
mud_file "$url/cam.json" cloud.maker.example >www/cam.json && mud_sign cam signer
mud_file "$url/tampered.json" cloud.maker.example >www/tampered.json && mud_sign tampered signer &&
  sed -i 's/"port": 443/"port": 444/' www/tampered.json
mud_file "$url/stranger.json" cloud.maker.example >www/stranger.json && mud_sign stranger stranger
{ mud_file "$url/big.json" cloud.maker.example; head -c 300000 /dev/zero | tr '\0' ' '; } >www/big.json

# The server: 203.0.113.80 (the simulated internet's documentation range) on the namespace's
# loopback; the client runs in the same namespace, so no packet leaves it.
ip netns add "$ns" && ip -n "$ns" link set lo up &&
  ip -n "$ns" addr add 203.0.113.80/32 dev lo || { echo "FAIL: namespace"; exit 1; }
(cd www && exec ip netns exec "$ns" openssl s_server -quiet -WWW -accept 203.0.113.80:443 \
  -cert ../server.pem -key ../server.key >/dev/null 2>&1) &
server=$!
for _ in $(seq 100); do
  ip netns exec "$ns" bash -c 'exec 3<>/dev/tcp/203.0.113.80/443' 2>/dev/null && break
  sleep 0.1
done

expect() {  # WANT(prefix of the output) URL SERVER_CA TRUST [CACHE]
  local want=$1 got
  shift
  got=$(ip netns exec "$ns" "$check" "$@" 2>&1)
  if [[ $got == "$want"* ]]; then echo "ok   $want  ($1)"; else fail "$1: want '$want', got '$got'"; fi
}
expect "ok labcam 2 fetched" "$url/cam.json" webca.pem mudca.pem cache
expect "ok labcam 2 cache" "$url/cam.json" webca.pem mudca.pem cache
expect "refused untrusted-signer" "$url/cam.json" webca.pem otherca.pem cache  # cached, rechecked
expect "refused bad-signature" "$url/tampered.json" webca.pem mudca.pem cache
expect "refused untrusted-signer" "$url/stranger.json" webca.pem mudca.pem
expect "refused tls" "$url/cam.json" otherca.pem mudca.pem
expect "refused not-https" "http://203.0.113.80/cam.json" webca.pem mudca.pem
expect "refused too-large" "$url/big.json" webca.pem mudca.pem
expect "refused no-trust-anchors" "$url/cam.json" webca.pem /dev/null
(( $(ls cache/*.meta | wc -l) == 1 )) || fail "only the good file may be cached: $(ls cache)"

((failures == 0)) && echo "PASS" || { echo "$failures failures"; exit 1; }
