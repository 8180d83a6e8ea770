# Shared by the MUD scenarios (sourced by mud_fetch.sh and mud_fetch_https.sh): a test PKI made
# with openssl in the current folder, a small MUD file, and its detached CMS signature, the way
# a manufacturer publishes one (`openssl cms -sign -binary -outform DER`).

mud_key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
# mud_ca NAME: a self-signed CA, NAME.pem and NAME.key.
mud_ca() { openssl req -x509 "${mud_key[@]}" -days 2 -subj "/CN=$1" -keyout "$1.key" -out "$1.pem" 2>/dev/null; }
# mud_issue NAME CA [EXTFILE]: NAME.pem and NAME.key, signed by CA.
mud_issue() {
  openssl req "${mud_key[@]}" -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" 2>/dev/null &&
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 \
      ${3:+-extfile "$3"} -out "$1.pem" 2>/dev/null
}
# mud_file URL CLOUD: the MUD file published at URL: the camera may reach CLOUD (a DNS name) on
# tcp/443 and the network's DNS.
mud_file() {
  cat <<JSON
{"ietf-mud:mud": {"mud-version": 1, "mud-url": "$1", "cache-validity": 24, "model-name": "labcam",
  "from-device-policy": {"access-lists": {"access-list": [{"name": "out"}]}}},
 "ietf-access-control-list:acls": {"acl": [{"name": "out", "type": "ipv4-acl-type", "aces": {"ace": [
  {"name": "cloud", "matches": {"ipv4": {"ietf-acldns:dst-dnsname": "$2", "protocol": 6},
   "tcp": {"destination-port": {"operator": "eq", "port": 443}}}, "actions": {"forwarding": "accept"}},
  {"name": "dns", "matches": {"ietf-mud:mud": {"controller": "urn:ietf:params:mud:dns"},
   "ipv4": {"protocol": 17}, "udp": {"destination-port": {"operator": "eq", "port": 53}}},
   "actions": {"forwarding": "accept"}}]}}]}}
JSON
}
# mud_sign NAME SIGNER: www/NAME.json's detached signature www/NAME.p7s, made by SIGNER.
mud_sign() {
  openssl cms -sign -binary -outform DER -in "www/$1.json" -signer "$2.pem" -inkey "$2.key" \
    -out "www/$1.p7s"
}
