#!/usr/bin/env bash
# Hostile devices cannot take over another device's identity. The quarantined gadget forges
# packets from cam1's IPv4 and IPv6 addresses (raw socket: it never answers ARP/ND for them):
# they are dropped and counted, `event=spoof` is written once per address, and the NVR's
# connections to cam1 and cam1's own flows go on under cam1's profile. A DHCP message from the
# gadget carrying another device's MAC changes nothing, and a device cannot flip its profile over
# DHCP more than once a minute, nor send the internet anything by calling it DHCP (port 67). Each
# DHCP message is read once, however many ports the bridge floods it to. An address still moves
# when it should: at once when the box's DHCP server leases it to another device (even while
# the bridge is promiscuous, as a capture on the box makes it), and after the hold time when its
# owner is gone.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

LABFORGE="$BUILD/tests/lab/labforge"
GADGET=02:5a:00:00:00:99
CAM1=44:47:cc:00:00:11
CAM2=44:47:cc:00:00:12
VACUUM=50:ec:50:00:00:21

scenario_lab_up
cat >"$LAB_STATE/policy.yaml" <<'POLICY'
version: 1
defaults: {profile: quarantine}
addresses:
  nvr: [198.18.1.10, fd00:1::10]
profiles:
  camera:
    egress:
      - {allow: [nvr], proto: tcp, ports: [554]}
      - {allow: [gateway], proto: udp, ports: [53, 67]}
    inbound:
      - {allow: [nvr], proto: tcp, ports: [554]}
  vacuum:
    egress:
      - {allow: [203.0.113.20], proto: tcp, ports: [443]}
      - {allow: [gateway], proto: udp, ports: [53, 67]}
  quarantine:
    egress:
      - {allow: [gateway], proto: udp, ports: [53, 67]}
devices:
  - {name: lobby-cam, mac: "44:47:cc:00:00:11", profile: camera}
  - {name: robot, mac: "50:ec:50:00:00:21", profile: vacuum}
classify:
  - {dhcp_hostname: "ECOVACS*", profile: vacuum}
  - {vendor: "Hangzhou Hikvision Digital Technology Co.,Ltd.", profile: camera}
POLICY
lab_start_muzzled
forge() { lab_exec unknown "$LABFORGE" "$@" | grep -q 'result=sent'; }
# Asks the gateway's resolver from the gadget until it answers (deadline SECONDS). Retries,
# because the gateway's neighbour entry for a reused address still names the old device for a
# few seconds (ARP, not Muzzle), and because Muzzle drops the queries while the old owner's
# binding holds.
answered() {  # answered SECONDS [ADDRESS]: on failure, what the last try and muzzled said
  local deadline=$((SECONDS + $1)) out=""
  while ((SECONDS < deadline)); do
    out="$(lab_exec unknown "$LABNET" dns 198.18.10.1 probe.lab.example --timeout-ms 1000 </dev/null 2>&1)"
    grep -q 'result=answered' <<<"$out" && return 0
    sleep 1
  done
  echo "    last try: $out"
  if [[ -n "${2:-}" ]]; then
    grep -F "$2" "$LAB_STATE/muzzled.log" | tail -n 8 | sed 's/^/    /'
    # Where the query or its answer could have stopped: the gateway's link-layer entry for the
    # address (the answer's next hop), the packets conntrack called invalid, the queues (number,
    # reader, waiting, copy mode, copy range, dropped full, dropped by the reader, last packet id),
    # muzzled's counters.
    echo "    gateway's neighbour entry: $(ip -n "$(lab_ns gw)" neigh show "$2" dev br-cam)"
    lab_exec gw nft list chain inet muzzle judge 2>/dev/null | grep -o 'ct state invalid counter packets [0-9]*' |
      sed 's/^/    /'
    lab_exec gw cat /proc/net/netfilter/nfnetlink_queue | sed 's/^/    nfnetlink_queue: /'
    usr1_counters && grep 'event=counters' "$LAB_STATE/muzzled.log" | tail -n 1 | sed 's/^/    /'
  fi
  return 1
}

echo "== devices are known by the addresses they use first"
lab_table_header
for family in 4 6; do
  lab_expect allowed cam1 nvr tcp 554 "$family"
  lab_expect allowed nvr cam1 tcp 554 "$family"
  lab_expect allowed cam2 nvr tcp 554 "$family"
done
lab_expect allowed vacuum cloud2 tcp 443
lab_expect allowed unknown gw udp 53

echo "== the gadget forges cam1's addresses: dropped, counted, reported once per address"
lab_check "forged tcp 198.18.10.11 -> nvr:554 (x3)" forge tcp 198.18.10.11 198.18.1.10 554 --count 3
lab_check "forged tcp 198.18.10.11 -> internet:443 (x3)" forge tcp 198.18.10.11 203.0.113.10 443 --count 3
lab_check "forged udp 198.18.10.11 -> gateway:53, which the gadget may use" \
  forge udp 198.18.10.11 198.18.10.1 53 --count 2
lab_check "forged tcp fd00:10::11 -> nvr:554 (x3)" forge tcp fd00:10::11 fd00:1::10 554 --count 3
lab_check "forged tcp fd00:10::11 -> internet:443 (x3)" forge tcp fd00:10::11 2001:db8:cafe::10 443 --count 3
lab_check "event=spoof for the IPv4 address" \
  wait_log "event=spoof mac=$GADGET claimed=198.18.10.11 owner=$CAM1 " 10
lab_check "event=spoof for the IPv6 address" \
  wait_log "event=spoof mac=$GADGET claimed=fd00:10::11 owner=$CAM1 " 10
lab_check "counters line" usr1_counters
lab_check "all 14 forged packets counted as spoofed (got $(counter spoofed))" test "$(counter spoofed)" -ge 14
lab_check "one event per (device, address)" \
  test "$(log_count "event=spoof mac=$GADGET claimed=198.18.10.11 ")" -eq 1 -a \
  "$(log_count "event=spoof mac=$GADGET claimed=fd00:10::11 ")" -eq 1
lab_check "no forged packet was judged (no verdict line names the forged flows)" \
  test "$(log_count "src=(198.18.10.11|\[fd00:10::11\]):4100[0-9] ")" -eq 0
lab_check "the addresses did not move" test "$(log_count 'event=address-moved')" -eq 0

echo "== cam1 is still cam1: the NVR reaches it, it reaches the NVR, by the camera profile"
lab_table_header
for family in 4 6; do
  lab_expect allowed nvr cam1 tcp 554 "$family"
  lab_expect allowed cam1 nvr tcp 554 "$family"
  lab_expect rejected cam1 cloud1 tcp 443 "$family"
done

echo "== DHCP cannot speak for another device, nor flip a profile at will"
lab_check "the gadget broadcasts a DISCOVER with cam2's MAC as chaddr (hostname ECOVACS-FAKE)" \
  lab_exec unknown "$LABNET" dhcp eth0 --chaddr "$CAM2" --hostname ECOVACS-FAKE
lab_check "event=dhcp-mac-mismatch" wait_log "event=dhcp-mac-mismatch mac=$GADGET chaddr=$CAM2 " 10
lab_check "cam2 was not reassigned" test "$(log_count "event=device-reassigned mac=$CAM2 ")" -eq 0
lab_table_header
lab_expect allowed cam2 nvr tcp 554
lab_check "cam2 itself says it is a vacuum" lab_exec cam2 "$LABNET" dhcp eth0 --hostname ECOVACS-DEEBOT
lab_check "reassigned once" wait_log "event=device-reassigned mac=$CAM2 from=camera profile=vacuum" 10
lab_check "and back to a camera at once" lab_exec cam2 "$LABNET" dhcp eth0 --hostname ipcam
lab_check "refused: event=device-reassign-limited" \
  wait_log "event=device-reassign-limited mac=$CAM2 profile=vacuum wanted=camera" 10
lab_check "counters line" usr1_counters
# Three DISCOVERs, each broadcast to the box and flooded by br-cam to its five other ports: each
# read once, the copy the box receives (every copy was read before: 8 reads, 6 refusals).
lab_check "three DHCP messages read once each (got $(counter dhcp_requests))" \
  test "$(counter dhcp_requests)" -eq 3
lab_check "dhcp_mac_mismatch and reassign_limited counted once each" \
  test "$(counter dhcp_mac_mismatch)" -eq 1 -a "$(counter reassign_limited)" -eq 1

echo "== DHCP's port is no way out"
# A packet to port 67 of a host on the internet is no DHCP request the segment needs: judged by
# the camera profile like any flow, not read and let through (an echo server listens there, so a
# datagram let through would come back as an echo judged on the way in: a timeout, not a refusal).
lab_table_header
lab_expect rejected cam1 cloud1 udp 67
lab_expect rejected cam1 cloud1 udp 67 6

echo "== a lease from the box moves an address at once"
# A DHCP server on the gateway (DHCP only: port=0) that reserves the vacuum's address for the
# gadget, as an admin would after the vacuum was retired.
cat >"$LAB_STATE/dnsmasq-dhcp.conf" <<EOF
port=0
no-resolv
no-hosts
interface=br-cam
dhcp-range=198.18.10.100,198.18.10.200,255.255.255.0,1h
dhcp-host=$GADGET,198.18.10.21
dhcp-authoritative
no-ping
dhcp-leasefile=$LAB_STATE/dnsmasq-dhcp.leases
user=root
log-dhcp
EOF
lab_exec gw dnsmasq --conf-file="$LAB_STATE/dnsmasq-dhcp.conf" --keep-in-foreground \
  --log-facility="$LAB_STATE/dnsmasq-dhcp.log" >>"$LAB_STATE/dnsmasq-dhcp.log" 2>&1 </dev/null &
_lab_remember_pid $!
lab_check "the vacuum leaves the network" ip -n "$(lab_ns vacuum)" link set eth0 down
# A capture on the box (tcpdump -i br-cam) makes the bridge promiscuous, and the broadcasts it then
# passes up to the box carry no conntrack entry: conntrack-invalid, which `judge` drops. The box's
# DHCP server must hear them anyway (the requests are read ahead of that check).
lab_check "br-cam is promiscuous" ip -n "$(lab_ns gw)" link set br-cam promisc on
lease_ok() {
  local deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)); do
    lab_exec unknown "$LABNET" dhcp eth0 --lease yes --timeout-ms 2000 | grep -q 'result=ack ip=198.18.10.21 ' &&
      return 0
    sleep 0.5
  done
  cat "$LAB_STATE/dnsmasq-dhcp.log" >&2
  return 1
}
lab_check "the gadget gets 198.18.10.21 from the gateway's DHCP server" lease_ok
lab_check "event=address-moved why=lease" \
  wait_log "event=address-moved ip=198.18.10.21 from=$VACUUM to=$GADGET why=lease" 10
ip -n "$(lab_ns gw)" link set br-cam promisc off
ip -n "$(lab_ns unknown)" addr add 198.18.10.21/32 dev eth0
ip -n "$(lab_ns unknown)" route add 198.18.10.1/32 dev eth0 src 198.18.10.21
# A device that has just taken a lease starts with an empty neighbour cache: its first packet
# asks for the gateway from its new address, which tells the gateway's kernel where that address
# now lives. Without it the gateway keeps answering to the vacuum's MAC until its own entry fails
# (seconds, more on a loaded machine). The gateway's entry for the address is dropped too, as its
# kernel drops it once its probes of the vacuum go unanswered: whether the gateway's ARP catches
# up in time is the kernel's race, not what this check is about. (Once in CI, with four
# scenarios running at a time, no answer came for 30 s after the lease, and the failure did not
# show where it stopped; `answered` now prints what the gateway and muzzled saw.)
ip -n "$(lab_ns unknown)" neigh flush dev eth0
ip -n "$(lab_ns gw)" neigh del 198.18.10.21 dev br-cam 2>/dev/null || true
lab_check "the gadget's DNS query from 198.18.10.21 is answered" answered 30 198.18.10.21
ip -n "$(lab_ns unknown)" route del 198.18.10.1/32 dev eth0 src 198.18.10.21
lab_check "its packets from that address are not spoofs" \
  test "$(log_count "event=spoof mac=$GADGET claimed=198.18.10.21 ")" -eq 0

echo "== an owner gone past the hold time gives up its address"
lab_stop_muzzled
LAB_CONFIG_EXTRA="devices: {address_hold_seconds: 10}"
lab_start_muzzled
lab_check "the bindings survive the restart" wait_log 'event=inventory-loaded .*addresses_bound=[1-9]' 10
lab_check "cam2 leaves the network" ip -n "$(lab_ns cam2)" link set eth0 down
ip -n "$(lab_ns unknown)" addr add 198.18.10.12/32 dev eth0
ip -n "$(lab_ns unknown)" route add 198.18.10.1/32 dev eth0 src 198.18.10.12
# The gadget keeps asking from cam2's address: dropped while cam2's binding holds (quiet for
# less than 10 s, or the gateway's neighbour table still confirms it), then it moves.
lab_check "the gadget's DNS query from 198.18.10.12 is answered after the hold time" answered 90 198.18.10.12
lab_check "event=address-moved why=owner-gone" \
  wait_log "event=address-moved ip=198.18.10.12 from=$CAM2 to=$GADGET why=owner-gone" 10
lab_table_header
lab_expect refused nvr cam2 tcp 554  # 198.18.10.12 is the gadget's now: quarantine, no inbound
lab_summary
