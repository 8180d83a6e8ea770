#!/usr/bin/env bash
# Policy text and the files a policy names, over the real management API: text that is not
# UTF-8 gets INVALID_ARGUMENT naming its line (validate and apply, unix socket), and a viewer
# (mutual TLS) validating a policy whose `{file: ...}` names /etc/shadow, ../../x, a symbolic
# link to the box's TLS key, or a FIFO gets a clear refusal that quotes nothing of those files,
# while muzzled keeps answering. A key copied into the policy's folder is read but not quoted.
# All certificates are made here with openssl and deleted afterwards.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

certs="$(mktemp -d /tmp/muzzle-files.XXXXXX)"
trap 'lab_down; rm -rf "$certs"' EXIT
scenario_certs "$certs"
scenario_issue box box "subjectAltName=IP:198.18.1.1"
scenario_issue viewer dash "extendedKeyUsage=clientAuth"

LAB_MANAGEMENT="$(scenario_tls_management <<'MORE'
    roles:
      - {identity: dash, role: viewer}
MORE
)"
export LAB_MANAGEMENT
scenario_lab_up
lab_start_muzzled

ctl() { "$BUILD/mgmt/muzzlectl" --socket "$LAB_STATE/muzzled.sock" --timeout 10 "$@"; }
viewer() {  # muzzlectl from the NVR's namespace with the viewer's certificate
  lab_exec nvr "$BUILD/mgmt/muzzlectl" --target 198.18.1.1:7443 --ca "$certs/ca.pem" --timeout 10 \
    --cert "$certs/viewer.pem" --key "$certs/viewer.key" "$@"
}
said() { grep -qF -- "$1" "$LAB_STATE/last.out"; }
# Nothing of the key, the CA key or /etc/shadow may appear in an answer.
quotes_nothing() {
  local line
  while read -r line; do
    [[ -z "$line" ]] && continue
    if grep -qF -- "$line" "$LAB_STATE/last.out"; then
      echo "    the answer quotes: $line"
      return 1
    fi
  done < <(grep -hv -- '-----' "$certs/box.key" "$certs/ca.key"; cut -d: -f1,2 /etc/shadow 2>/dev/null)
  ! grep -q 'PRIVATE KEY' "$LAB_STATE/last.out"
}
answering() {
  "$BUILD/tests/lab/grpc_probe" "unix:$LAB_STATE/muzzled.sock" status >"$LAB_STATE/probe.out" 2>&1 &&
    viewer status >/dev/null 2>&1
}

echo "== policy text that is not UTF-8: INVALID_ARGUMENT with the line"
{
  printf 'version: 1\nprofiles:\n  quarantine: {}\n'
  printf 'devices:\n  - {name: "cam\xff", mac: "44:47:cc:00:00:11", profile: quarantine}\n'
} >"$LAB_STATE/latin1.yaml"
lab_check "validate exits 3 (invalid)" expect_exit 3 ctl policy validate "$LAB_STATE/latin1.yaml"
lab_check "  naming line 5 and the byte" said "policy.yaml:5: byte 16 of this line (0xff) is not UTF-8; save the file as UTF-8"
lab_check "apply exits 3" expect_exit 3 ctl policy apply "$LAB_STATE/latin1.yaml"
lab_check "  INVALID_ARGUMENT" said "INVALID_ARGUMENT: the policy has 1 error(s); nothing was changed"
lab_check "  naming line 5, from the error details" said "policy.yaml:5: byte 16 of this line (0xff) is not UTF-8"
printf 'version: 1\nprofiles: {quarantine: {}}\n---\nversion: 2\n' >"$LAB_STATE/two.yaml"
lab_check "two documents: validate exits 3" expect_exit 3 ctl policy validate "$LAB_STATE/two.yaml"
lab_check "  naming the second one's line" said "policy.yaml:3: a second YAML document starts here"
lab_check "nothing was applied: still revision 1" test "$(revision)" = 1

echo "== a viewer validating policies that name files outside the policy's folder"
naming() {  # naming FILE: a policy whose address group is read from FILE
  printf 'version: 1\naddresses:\n  feed: {file: "%s"}\nprofiles: {quarantine: {}}\n' "$1" >"$LAB_STATE/names.yaml"
  echo "$LAB_STATE/names.yaml"
}
ln -s "$certs/box.key" "$LAB_STATE/box-key.txt"
mkfifo "$LAB_STATE/feed.fifo"
cp "$certs/box.key" "$LAB_STATE/copied.key"
chown muzzle "$LAB_STATE/copied.key"  # readable by muzzled, as in its folder by mistake
lab_check "viewer: status" expect_exit 0 viewer status
while IFS='|' read -r file refusal; do
  lab_check "viewer validates {file: $file}: exit 3" expect_exit 3 viewer policy validate "$(naming "$file")"
  lab_check "  refused: $refusal" said "policy.yaml:3: addresses.feed.file: \"$file\" $refusal"
  lab_check "  the answer quotes nothing of the files" quotes_nothing
  lab_check "  muzzled keeps answering (GetStatus)" answering
done <<ROWS
/etc/shadow|is outside the folders a policy may name files in ($LAB_STATE or /usr/share/muzzle/policies)
../../etc/shadow|climbs out of its folder with ".."
box-key.txt|leads out of $LAB_STATE (through ".." or a symbolic link)
$certs/box.key|is outside the folders a policy may name files in
feed.fifo|is a FIFO (named pipe), not a regular file; name a file
ROWS
lab_check "a key copied into the policy's folder: exit 3" expect_exit 3 viewer policy validate "$(naming copied.key)"
lab_check "  its lines are named by number only" said "policy.yaml:3: addresses.feed.file: copied.key:2: not an IP address or CIDR"
lab_check "  the answer quotes nothing of the key" quotes_nothing
lab_check "muzzled is the same process, still answering" kill -0 "$LAB_MUZZLED_PID"
lab_check "  GetStatus over the socket" answering

lab_summary
