#!/bin/bash
# MUD files over real HTTPS: retrieveMud with libcurl against `openssl s_server -WWW` in a
# network namespace of its own, the file signed by `openssl cms -sign -binary -outform DER`
# under a CA this test makes. A signed file is fetched, verified, imported and then served from
# the cache; a tampered file, a signer from another CA, a server certificate the CA file does
# not vouch for, an http:// URL and a file over 256 KiB are each refused with their reason.
# (The device side, DHCP option 161 -> fetch -> profile in muzzled, is tests/scenario/mud_fetch.sh.)
set -u
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
key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
ca() { openssl req -x509 "${key[@]}" -days 2 -subj "/CN=$1" -keyout "$1.key" -out "$1.pem" 2>/dev/null; }
issue() {  # NAME CA [EXTFILE]
  openssl req "${key[@]}" -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" 2>/dev/null &&
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 \
      ${3:+-extfile "$3"} -out "$1.pem" 2>/dev/null
}
printf 'subjectAltName=IP:203.0.113.80\n' >server.ext
ca webca && issue server webca server.ext && ca mudca && issue signer mudca && ca otherca &&
  issue stranger otherca || { echo "FAIL: making the test PKI"; exit 1; }

url=https://203.0.113.80
mud() {  # the MUD file for URL $1: the camera may reach its cloud on 443 and the gateway's DNS
  cat <<JSON
{"ietf-mud:mud": {"mud-version": 1, "mud-url": "$1", "cache-validity": 24, "model-name": "labcam",
  "from-device-policy": {"access-lists": {"access-list": [{"name": "out"}]}}},
 "ietf-access-control-list:acls": {"acl": [{"name": "out", "type": "ipv4-acl-type", "aces": {"ace": [
  {"name": "cloud", "matches": {"ipv4": {"ietf-acldns:dst-dnsname": "cloud.maker.example", "protocol": 6},
   "tcp": {"destination-port": {"operator": "eq", "port": 443}}}, "actions": {"forwarding": "accept"}},
  {"name": "dns", "matches": {"ietf-mud:mud": {"controller": "urn:ietf:params:mud:dns"},
   "ipv4": {"protocol": 17}, "udp": {"destination-port": {"operator": "eq", "port": 53}}},
   "actions": {"forwarding": "accept"}}]}}]}}
JSON
}
sign() {  # FILE SIGNER -> FILE's .p7s
  openssl cms -sign -binary -outform DER -in "www/$1.json" -signer "$2.pem" -inkey "$2.key" \
    -out "www/$1.p7s"
}
mud "$url/cam.json" >www/cam.json && sign cam signer
mud "$url/tampered.json" >www/tampered.json && sign tampered signer &&
  sed -i 's/"port": 443/"port": 444/' www/tampered.json
mud "$url/stranger.json" >www/stranger.json && sign stranger stranger
{ mud "$url/big.json"; head -c 300000 /dev/zero | tr '\0' ' '; } >www/big.json

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
