#!/usr/bin/env bash
# Rebuilds the fuzz seed corpora that come from a running box (tests/fuzz/corpus/*): builds the
# lab (tests/lab/lab.sh), lets muzzled write its state (revisions, audit log, inventory) through
# real management calls, then stops it — its ruleset stays — and takes its place on the queues
# with nfq_capture.py while lab devices open flows, look names up (UDP, TCP, a CNAME chain, v6)
# and ask for DHCP leases. Writes the kernel's messages (nfq_wire), judge inputs made of them
# (judge), and the state files (audit, revision, inventory).
#
# Needs root (network namespaces) and a build with muzzled, muzzlectl and labnet (BUILD, default
# <repo>/build). Everything happens inside the lab's namespaces, removed on exit. Not a test:
# run it by hand when the kernel messages or the state formats change, and commit the result.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
corpus="$repo/tests/fuzz/corpus"
capture="$repo/tests/fuzz/seeds/nfq_capture.py"
# shellcheck source=../../lab/lab.sh
source "$repo/tests/lab/lab.sh"
lab_trap
lab_up "fz$$"
lab_start_muzzled
ctl() { "$BUILD/mgmt/muzzlectl" --socket "$LAB_STATE/muzzled.sock" "$@" >/dev/null; }

# State written by the real code: revisions (one pending), an audit chain, an inventory.
lab_exec cam3 ping -q -c1 -W2 198.18.1.10 >/dev/null || true
ctl device set 02:5a:00:00:00:99 --name gadget --profile vacuum
ctl quarantine 02:5a:00:00:00:99
ctl policy apply "$repo/policies/site-example.yaml" --confirm 5m --comment "back to the example"
ctl policy confirm
ctl policy apply "$repo/policies/site-example.yaml" --confirm 5m --comment "left pending"
lab_stop_muzzled
mkdir -p "$corpus"/{audit,revision,inventory,nfq_wire,judge,daemon_config}
cp "$LAB_STATE/audit.log" "$corpus/audit/lab-audit.log"
head -n 2 "$LAB_STATE/audit.log" >"$corpus/audit/lab-first-two.log"
cp "$LAB_STATE/inventory.pb" "$corpus/inventory/lab-inventory.pb"
cp "$LAB_STATE/muzzled.yaml" "$corpus/daemon_config/lab-muzzled.yaml"
revisions="$LAB_STATE/revisions"
# revision_fuzz's input: current, pending, then each revision's .meta, separated by "----".
{
  cat "$revisions/current"
  printf '\n----\n'
  cat "$revisions/pending" 2>/dev/null || true
  for meta in "$revisions"/r*.meta; do
    printf '\n----\n'
    cat "$meta"
  done
} >"$corpus/revision/lab-revisions"
{
  cat "$revisions/current"
  printf '\n----\n\n----\n'
  cat "$revisions/r00000001.meta"
} >"$corpus/revision/lab-one-revision"

# The queues as muzzled binds them (LAB_QUEUE_COUNT=1): 100 copies headers, 101 whole packets.
ifmap="$(lab_exec gw ip -o link | sed -n 's/^\([0-9]*\): \([^:@]*\).*/\1=\2/p' | paste -sd,)"
flow() {
  local name="$1"
  shift
  local dir="$LAB_STATE/capture-$name"
  mkdir -p "$dir"
  # Not through lab_exec (a function: `&` would fork a shell whose pid is not the capture's).
  ip netns exec "$(lab_ns gw)" python3 "$capture" capture "$dir" 100:512 101:65535 &
  local pid=$!
  lab_wait_file "$dir/ready" 5
  local step
  for step in "$@"; do
    # shellcheck disable=SC2086  # each step is "NODE COMMAND ARGS..."
    lab_exec $step >/dev/null 2>&1 || true
  done
  sleep 0.5 # the last answers on their way through the queue
  kill -TERM "$pid"
  wait "$pid" || true
  local msgs=("$dir"/*.msg)
  [[ -e "${msgs[0]}" ]] || {
    lab_log "flow $name: nothing was queued"
    return 0
  }
  python3 "$capture" judge "$ifmap" "$corpus/judge/$name" "${msgs[@]}"
  cp "${msgs[0]}" "$corpus/nfq_wire/$name-first.msg"
  cat "${msgs[@]}" >"$corpus/nfq_wire/$name-all.msgs"
}
net="$BUILD/tests/lab/labnet"
flow cam-nvr "cam1 $net tcp 198.18.1.10 554" "nvr $net tcp 198.18.10.11 554"
flow cam-cloud-denied "cam1 $net tcp 203.0.113.10 443" "cam1 ping -c1 -W1 203.0.113.10"
flow cam-ntp "cam1 $net udp 198.18.10.1 123" "cam2 $net udp fd00:10::1 123"
flow speaker-dns-udp "speaker $net dns 198.18.10.1 avs.voice.example" \
  "speaker $net tcp 203.0.113.30 443"
flow speaker-dns-tcp "speaker $net dns 198.18.10.1 avs.voice.example --proto tcp" \
  "speaker $net tcp 203.0.113.30 443"
flow speaker-dns-cname "speaker $net dns 198.18.10.1 cdn.voice.example" \
  "speaker $net tcp 203.0.113.33 443"
flow speaker-dns-v6 "speaker $net dns fd00:10::1 avs.voice.example --type aaaa" \
  "speaker $net tcp 2001:db8:cafe::30 443"
flow speaker-dns-bypass "speaker $net dns 198.51.100.2 avs.voice.example" \
  "speaker $net tcp 203.0.113.53 853"
flow unknown-dhcp "unknown $net dhcp eth0 --hostname ECOVACS-0042 --vendor-class udhcp-1.30"
flow vacuum-v6 "vacuum $net tcp 2001:db8:cafe::20 443" "cam3 $net tcp 198.18.1.10 554"
# The packets alone (packet_fuzz) and the DHCP request's payload (dhcp_fuzz).
mkdir -p "$corpus/packet" "$corpus/dhcp"
python3 "$capture" packets "$corpus/packet/lab" "$corpus"/nfq_wire/*-first.msg
mv "$corpus"/packet/lab-dhcp-* "$corpus/dhcp/"
lab_log "seeds written under $corpus"
