#!/usr/bin/env bash
# TCP + mutual TLS and the role matrix, from the NVR's namespace to the gateway's lan-nvr address
# (not a managed segment): admin reads and applies; viewer reads but may not apply
# (PERMISSION_DENIED); no certificate and a foreign CA's certificate are UNAUTHENTICATED, for the
# health service and server reflection too (grpc_probe), and a certificate without a role gets
# nothing either; a CA added to client_ca and a renewed server certificate take effect without a
# restart; a caller outside management.tcp.allow is refused whatever its certificate; a key
# muzzled (running as the user muzzle) may not read stops its start, naming the fix. All
# certificates are made here with openssl and deleted afterwards.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

certs="$(mktemp -d /tmp/muzzle-mtls.XXXXXX)"
trap 'lab_down; rm -rf "$certs"' EXIT
scenario_certs "$certs"
scenario_ca foreign
scenario_issue box box "subjectAltName=IP:198.18.1.1"
scenario_issue admin alice "extendedKeyUsage=clientAuth"
scenario_issue op noc "subjectAltName=URI:spiffe://site/noc"
scenario_issue viewer dash "extendedKeyUsage=clientAuth"
scenario_issue stranger alice "extendedKeyUsage=clientAuth" foreign
scenario_issue norole mallory "extendedKeyUsage=clientAuth"

LAB_MANAGEMENT="$(scenario_tls_management <<'MORE'
    allow: [198.18.1.0/24, "fd00:1::/64"]
    roles:
      - {identity: alice, role: admin}
      - {identity: "spiffe://site/noc", role: operator}
      - {identity: dash, role: viewer}
MORE
)"
export LAB_MANAGEMENT
scenario_lab_up
lab_start_muzzled

remote() {  # remote WHO args...: muzzlectl from the NVR with WHO's certificate (none: no cert)
  local who="$1"
  shift
  local creds=()
  [[ "$who" != none ]] && creds=(--cert "$certs/$who.pem" --key "$certs/$who.key")
  lab_exec nvr "$BUILD/mgmt/muzzlectl" --target 198.18.1.1:7443 --ca "$certs/ca.pem" --timeout 5 \
    "${creds[@]}" "$@"
}
sed '/^  camera:$/,/^    egress:$/s/^    egress:$/&\n      - {deny: [gateway], proto: udp, ports: [53]}/' \
  "$LAB_REPO/policies/site-example.yaml" >"$LAB_STATE/site.yaml"

lab_check "admin: status" expect_exit 0 remote admin status
lab_check "admin: apply" expect_exit 0 remote admin policy apply "$LAB_STATE/site.yaml"
lab_check "operator (SAN URI): rollback" expect_exit 0 remote op policy rollback
lab_check "operator: apply refused (exit 5)" expect_exit 5 remote op policy apply "$LAB_STATE/site.yaml"
lab_check "  PERMISSION_DENIED, needs admin" grep -q 'PERMISSION_DENIED: role operator (spiffe://site/noc) may not apply policies; it needs admin' "$LAB_STATE/last.out"
lab_check "viewer: history" expect_exit 0 remote viewer policy history
lab_check "viewer: rollback refused (exit 5)" expect_exit 5 remote viewer policy rollback
lab_check "  PERMISSION_DENIED" grep -q 'PERMISSION_DENIED: role viewer (dash) may not roll back' "$LAB_STATE/last.out"
lab_check "no certificate refused (exit 5)" expect_exit 5 remote none status
lab_check "  UNAUTHENTICATED" grep -q 'UNAUTHENTICATED: no client certificate' "$LAB_STATE/last.out"
lab_check "foreign CA refused (exit 5)" expect_exit 5 remote stranger status
lab_check "  UNAUTHENTICATED" grep -q 'UNAUTHENTICATED: client certificate rejected' "$LAB_STATE/last.out"
from_inet() {  # admin's certificate, but from the simulated internet (not in allow)
  lab_exec inet "$BUILD/mgmt/muzzlectl" --target 198.18.1.1:7443 --ca "$certs/ca.pem" --timeout 5 \
    --cert "$certs/admin.pem" --key "$certs/admin.key" "$@"
}
lab_check "admin certificate from outside management.tcp.allow refused (exit 5)" \
  expect_exit 5 from_inet status
lab_check "  PERMISSION_DENIED naming the peer" \
  grep -q 'PERMISSION_DENIED: peer 198.51.100.2 is not in management.tcp.allow' "$LAB_STATE/last.out"

echo "== health and server reflection over TCP need a certificate with a role too"
probe_tcp() {  # probe_tcp WHO call: grpc_probe from the NVR with WHO's certificate (none: no cert)
  local who="$1" creds=(--ca "$certs/ca.pem")
  shift
  [[ "$who" != none ]] && creds+=(--cert "$certs/$who.pem" --key "$certs/$who.key")
  lab_exec nvr "$BUILD/tests/lab/grpc_probe" "${creds[@]}" 198.18.1.1:7443 "$@" 2>&1 | sed 's/^/    /' || true
}
out="$(probe_tcp none health)" && echo "$out"
lab_check "health without a certificate: UNAUTHENTICATED (16), with the reason" \
  grep -q 'status=error code=16 message="no client certificate' <<<"$out"
out="$(probe_tcp none services)" && echo "$out"
lab_check "reflection without a certificate: UNAUTHENTICATED, no service listed" \
  bash -c 'grep -q "status=error code=16 " <<<"$1" && ! grep -q muzzle.v1 <<<"$1"' _ "$out"
out="$(probe_tcp stranger health)" && echo "$out"
lab_check "health with a foreign CA's certificate: UNAUTHENTICATED" \
  grep -q 'status=error code=16 message="client certificate rejected' <<<"$out"
out="$(probe_tcp norole services)" && echo "$out"
lab_check "reflection with the box CA's certificate but no role: PERMISSION_DENIED (7)" \
  grep -q 'status=error code=7 message="certificate mallory has no role on this box' <<<"$out"
out="$(probe_tcp viewer health)" && echo "$out"
lab_check "health with the viewer's certificate: SERVING" grep -q 'status=SERVING' <<<"$out"
out="$(probe_tcp viewer services)"
lab_check "reflection with the viewer's certificate lists the services" grep -q 'muzzle.v1.StatusService' <<<"$out"

echo "== certificates reload without a restart"
# The client CA is re-read when the file changes: trusting the foreign CA admits its alice.
cat "$certs/ca.pem" "$certs/foreign.pem" >"$certs/ca.new" && mv "$certs/ca.new" "$certs/ca.pem"
lab_check "a CA added to client_ca is trusted at once (foreign alice: status)" \
  expect_exit 0 remote stranger status
# The box's own certificate is re-read every 10 s: a renewed certificate (new CN) is served.
served_cn() {
  lab_exec nvr openssl s_client -connect 198.18.1.1:7443 -CAfile "$certs/ca.pem" </dev/null 2>/dev/null |
    openssl x509 -noout -subject 2>/dev/null
}
scenario_issue box box-renewed "subjectAltName=IP:198.18.1.1"
renewed() {
  local i
  for ((i = 0; i < 30; i++)); do
    grep -q 'box-renewed' <<<"$(served_cn)" && return 0
    sleep 0.5
  done
  return 1
}
lab_check "a renewed server certificate is served within 15 s, muzzled still running" renewed
lab_check "  and it is the same muzzled" kill -0 "$LAB_MUZZLED_PID"
lab_check "the audit names the certificate identities" \
  bash -c "'$BUILD/mgmt/muzzlectl' --socket '$LAB_STATE/muzzled.sock' audit | grep -q 'spiffe://site/noc .*rollback'"
# After TLS handshakes, refused and answered calls, reflection streams: whatever gRPC does for a
# client runs below the queue threads.
lab_check "gRPC's threads run as background threads, the queue threads at the process's priority" \
  thread_priorities muzzle-unix

echo "== a key muzzled may not read stops its start, naming it and the fix"
lab_check "muzzled stops" lab_stop_muzzled
chmod 0600 "$certs/box.key"
refused() { ! lab_start_muzzled 2>/dev/null; }
lab_check "start with box.key mode 0600 (root's) fails" refused
lab_check "  event=start-failed names management.tcp.key and chgrp/chmod" \
  grep -q "event=start-failed .*may not use: management.tcp.key $certs/box.key (Permission denied).*chgrp muzzle and chmod g+r" \
  "$LAB_STATE/muzzled.log"

lab_summary
