// DeviceRecord: what the inventory knows of one device (fw/device/inventory.h), as a plain value.
// The Judge reads and updates it on the packet path, so it holds C++ types only; it becomes a
// muzzle.v1.DeviceRecord only where it is saved (fw/device/inventory_file.cc, inventory.pb) and
// where the management plane shows it (mgmt/server/convert.cc).
#pragma once

#include <cstdint>
#include <vector>

#include "fw/common/net.h"
#include "fw/device/shared_text.h"

namespace muzzle {

// Allowed traffic in one direction, counted in the kernel (fw/nft/conntrack_counts.h).
struct TrafficTotals {
  uint64_t bytes = 0;  // layer 3 (IP header included), since the device was first seen
  uint64_t packets = 0;
  uint64_t bytes_per_second = 0;  // over the last accounting interval; not saved
};

// Allowed traffic to and from one traffic class (fw/policy/compiled_policy.h): "internet",
// "local", "gateway" or an address group the device's profile names (a name many devices share).
struct ClassTraffic {
  SharedText to;
  TrafficTotals upload;
  TrafficTotals download;
};

// The text fields are SharedText (fw/device/shared_text.h): 8 bytes each, a short text in
// place, a long one stored once for every record that has it (a vendor is shared by many
// devices), nothing at all when empty (most devices send no DHCP facts). A record of the
// bench's inventory holds 490 heap bytes where it held 865 with std::string (tests/bench/
// README.md, "Memory since").
struct DeviceRecord {
  MacAddress mac;
  bool randomised_mac = false;       // locally administered: no vendor, likely a privacy address
  SharedText vendor;                 // from the IEEE registries (ieee-data), "" when unknown
  std::vector<IpAddress> addresses;  // bound to it, most recent first (bounded by the inventory)
  SharedText segment;
  int64_t first_seen_unix = 0;
  int64_t last_seen_unix = 0;
  // What it said over DHCP, printable text (fw/dhcp/dhcp.h).
  SharedText dhcp_hostname;        // option 12
  SharedText dhcp_parameter_list;  // option 55, "1,3,6,15"
  SharedText dhcp_vendor_class;    // option 60
  SharedText dhcp_client_id;       // option 61, hex
  SharedText mud_url;              // option 161
  // The profile the Judge gives it, and why: "listed", "classified" or "default", and by what.
  SharedText profile;
  SharedText assignment;
  SharedText assigned_by;
  uint64_t allowed_flows = 0;
  uint64_t denied_flows = 0;
  // The connections it holds as the connection limit counts them (fw/device/connection_counts.h):
  // filled in when records are copied out for the management plane; 0 while muzzled does not
  // count them (the limit off, or the kernel's rule counting on a box without accounting).
  uint32_t connections = 0;
  SharedText name;         // the policy's name for a listed device (kept as saved)
  TrafficTotals upload;    // from the device
  TrafficTotals download;  // to the device
  // The same, split by where it went (the sums are upload and download), first seen first.
  std::vector<ClassTraffic> by_class;
  // Learning mode (fw/learn/): "", "learning" or "observe". Filled in when records are copied
  // out for the management plane (Daemon::devicesSeen); never saved.
  SharedText learning;
};

}  // namespace muzzle
