#!/usr/bin/env bash
# Writes a saved inventory (state_dir/inventory.pb, muzzle.v1.Inventory) like the one the bench's
# earlier rounds leave for its last: the site's DEVICES devices (gen_policy.sh) as the bench's
# traffic makes them — the lab's cam1 (44:47:cc:00:00:11, 198.18.10.11 and fd00:10::11) and
# bench_traffic's mixed-site devices 44:47:cc:10:00:01 upwards from 198.19.0.2 — each listed
# (profile type-<i % PROFILES>, assigned by its policy name dev-<i>), on segment `cameras`, with
# the vendor of 44:47:cc, seen in the last hour, with flow counts and traffic totals, and the
# address bindings (`seen`) the Judge keeps for them, and the same totals split by traffic class
# (all of it `internet`, or over CLASSES classes). No DHCP facts: the bench sends none.
#
#   tests/bench/gen_inventory.sh > inventory.pb
#   INVENTORY=inventory.pb sudo tests/bench/memory.sh
#
# Written as text format and encoded with protoc (the proto is the contract), so the file is
# what any muzzled of that proto reads. Environment: DEVICES (1000), PROFILES (100), CLASSES (1:
# traffic classes per device, `internet` then `vendor-cloud-N`), DHCP (0:
# with 1, every device also has a hostname, a client id, and its model's parameter list and
# vendor class, as devices that ask a DHCP server for their address do).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
devices="${DEVICES:-1000}"
profiles="${PROFILES:-100}"
dhcp="${DHCP:-0}"
classes="${CLASSES:-1}"
now="$(date +%s)"

awk -v devices="$devices" -v profiles="$profiles" -v dhcp="$dhcp" -v classes="$classes" -v now="$now" '
function mac_of(i) {  # device 0 is cam1; the others count up from 44:47:cc:10:00:01
  if (i == 0) return "44:47:cc:00:00:11"
  return sprintf("44:47:cc:%02x:%02x:%02x", 16 + int(i / 65536), int(i / 256) % 256, i % 256)
}
function ip_of(i, n) {  # bench_traffic: base 198.19.0.2 plus the device number
  n = 2 + (i - 1)
  return sprintf("198.19.%d.%d", int(n / 256), n % 256)
}
BEGIN {
  for (i = 0; i < devices; i++) {
    mac = mac_of(i)
    seen = now - (i % 3600)
    print "devices {"
    printf "  mac: \"%s\"\n", mac
    print "  vendor: \"Hangzhou Hikvision Digital Technology Co.,Ltd.\""
    if (i == 0) {
      print "  addresses: \"198.18.10.11\""
      print "  addresses: \"fd00:10::11\""
    } else {
      printf "  addresses: \"%s\"\n", ip_of(i)
    }
    print "  segment: \"cameras\""
    printf "  first_seen_unix: %d\n  last_seen_unix: %d\n", seen - 600, seen
    if (dhcp == 1) {
      printf "  dhcp_hostname: \"ipc-%06d\"\n", i
      print "  dhcp_parameter_list: \"1,3,6,12,15,28,42\""
      print "  dhcp_vendor_class: \"udhcp 1.29.3\""
      id = mac
      gsub(/:/, "", id)
      printf "  dhcp_client_id: \"01%s\"\n", id
    }
    printf "  profile: \"type-%d\"\n  assignment: \"listed\"\n  assigned_by: \"dev-%d\"\n",
           i % profiles, i
    printf "  allowed_flows: %d\n  denied_flows: %d\n", 1000 + i, i % 7
    printf "  upload_bytes: %d\n  upload_packets: %d\n", 64000 + 97 * i, 1000 + i
    printf "  download_bytes: %d\n  download_packets: %d\n", 32000 + 53 * i, 500 + i
    for (c = 0; c < classes; c++) {
      printf "  by_class { to: \"%s\" upload_bytes: %d upload_packets: %d download_bytes: %d download_packets: %d }\n",
             c == 0 ? "internet" : "vendor-cloud-" c, int((64000 + 97 * i) / classes),
             int((1000 + i) / classes), int((32000 + 53 * i) / classes), int((500 + i) / classes)
    }
    print "}"
  }
  for (i = 0; i < devices; i++) {
    seen = now - (i % 3600)
    n = (i == 0) ? 2 : 1
    for (k = 0; k < n; k++) {
      address = (i == 0) ? (k == 0 ? "198.18.10.11" : "fd00:10::11") : ip_of(i)
      printf "bindings { address: \"%s\" mac: \"%s\" evidence: \"seen\" since_unix: %d last_active_unix: %d }\n",
             address, mac_of(i), seen - 600, seen
    }
  }
}' | protoc --proto_path="$repo/proto" --encode=muzzle.v1.Inventory muzzle/v1/inventory.proto
