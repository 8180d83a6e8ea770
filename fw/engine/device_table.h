// DeviceTable: what the engine has learned about the devices on managed segments — which
// Ethernet address uses which IP address, and which devices it has seen at all. Bounded: when
// full, the entry seen longest ago is evicted, so a flood of spoofed addresses cannot grow memory.
// Engine thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "fw/common/net.h"

namespace muzzle {

// What the table knows about one device, copied out for the management plane.
struct DeviceSeen {
  MacAddress mac;
  int segment = -1;
  std::vector<IpAddress> ips;
  std::chrono::steady_clock::time_point first_seen;
  std::chrono::steady_clock::time_point last_seen;
  uint64_t allowed = 0;  // flows the device took part in that were allowed / denied
  uint64_t denied = 0;
};

class DeviceTable {
 public:
  using Time = std::chrono::steady_clock::time_point;
  explicit DeviceTable(size_t capacity = 16384) : capacity_(capacity) {}

  // Records that `mac` on `segment` uses `ip`. Returns true if `mac` was never seen before.
  bool learn(const IpAddress& ip, MacAddress mac, int segment, Time now);
  std::optional<MacAddress> macOf(const IpAddress& ip) const;
  size_t deviceCount() const { return devices_.size(); }
  size_t addressCount() const { return by_ip_.size(); }
  // Counts one judged flow for a known device; unknown devices are not counted.
  void countFlow(MacAddress mac, bool allowed);
  // A copy of every device with its addresses. O(devices + addresses); not for the hot path.
  std::vector<DeviceSeen> snapshot() const;

 private:
  struct AddressEntry {
    MacAddress mac;
    int segment;
    Time last_seen;
  };
  struct DeviceEntry {
    Time first_seen;
    Time last_seen;
    uint64_t allowed = 0;
    uint64_t denied = 0;
  };
  template <typename Map>
  static void evictOldest(Map& map);

  size_t capacity_;
  std::unordered_map<IpAddress, AddressEntry, IpAddressHash> by_ip_;
  std::unordered_map<uint64_t, DeviceEntry> devices_;
};

}  // namespace muzzle
