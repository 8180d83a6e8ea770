// DeviceTable: what the engine has learned about the devices on managed segments — which
// Ethernet address uses which IP address, and which devices it has seen at all. Bounded: when
// full, the entry seen longest ago is evicted, so a flood of spoofed addresses cannot grow memory.
// Engine thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <unordered_map>

#include "fw/common/net.h"

namespace muzzle {

class DeviceTable {
 public:
  using Time = std::chrono::steady_clock::time_point;
  explicit DeviceTable(size_t capacity = 16384) : capacity_(capacity) {}

  // Records that `mac` on `segment` uses `ip`. Returns true if `mac` was never seen before.
  bool learn(const IpAddress& ip, MacAddress mac, int segment, Time now);
  std::optional<MacAddress> macOf(const IpAddress& ip) const;
  size_t deviceCount() const { return devices_.size(); }
  size_t addressCount() const { return by_ip_.size(); }

 private:
  struct AddressEntry {
    MacAddress mac;
    int segment;
    Time last_seen;
  };
  struct DeviceEntry {
    Time first_seen;
    Time last_seen;
  };
  template <typename Map>
  static void evictOldest(Map& map);

  size_t capacity_;
  std::unordered_map<IpAddress, AddressEntry, IpAddressHash> by_ip_;
  std::unordered_map<uint64_t, DeviceEntry> devices_;
};

}  // namespace muzzle
