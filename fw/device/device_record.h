// DeviceRecord: what the inventory knows of one device (fw/device/inventory.h), as a plain value.
// The Judge reads and updates it on the packet path, so it holds C++ types only; it becomes a
// muzzle.v1.DeviceRecord only where it is saved (fw/device/inventory_file.cc, inventory.pb) and
// where the management plane shows it (mgmt/server/convert.cc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fw/common/net.h"

namespace muzzle {

// Allowed traffic in one direction, counted in the kernel (fw/engine/traffic_accounting.h).
struct TrafficTotals {
  uint64_t bytes = 0;  // layer 3 (IP header included), since the device was first seen
  uint64_t packets = 0;
  uint64_t bytes_per_second = 0;  // over the last accounting interval; not saved
};

// Allowed traffic to and from one traffic class (fw/policy/compiled_policy.h): "internet",
// "local", "gateway" or an address group the device's profile names.
struct ClassTraffic {
  std::string to;
  TrafficTotals upload;
  TrafficTotals download;
};

struct DeviceRecord {
  MacAddress mac;
  bool randomised_mac = false;       // locally administered: no vendor, likely a privacy address
  std::string vendor;                // from the IEEE registries (ieee-data), "" when unknown
  std::vector<IpAddress> addresses;  // bound to it, most recent first (bounded by the inventory)
  std::string segment;
  int64_t first_seen_unix = 0;
  int64_t last_seen_unix = 0;
  // What it said over DHCP, printable text (fw/dhcp/dhcp.h).
  std::string dhcp_hostname;        // option 12
  std::string dhcp_parameter_list;  // option 55, "1,3,6,15"
  std::string dhcp_vendor_class;    // option 60
  std::string dhcp_client_id;       // option 61, hex
  std::string mud_url;              // option 161
  // The profile the Judge gives it, and why: "listed", "classified" or "default", and by what.
  std::string profile;
  std::string assignment;
  std::string assigned_by;
  uint64_t allowed_flows = 0;
  uint64_t denied_flows = 0;
  std::string name;  // the policy's name for a listed device (kept as saved)
  TrafficTotals upload;    // from the device
  TrafficTotals download;  // to the device
  // The same, split by where it went (the sums are upload and download), first seen first.
  std::vector<ClassTraffic> by_class;
  // Learning mode (fw/learn/): "", "learning" or "observe". Filled in when records are copied
  // out for the management plane (Daemon::devicesSeen); never saved.
  std::string learning;
};

}  // namespace muzzle
