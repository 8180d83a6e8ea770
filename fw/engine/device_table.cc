#include "fw/engine/device_table.h"

#include <algorithm>

namespace muzzle {

template <typename Map>
void DeviceTable::evictOldest(Map& map) {
  // O(n), but only when the table is full, which in normal operation it never is.
  auto oldest = std::min_element(map.begin(), map.end(), [](const auto& a, const auto& b) {
    return a.second.last_seen < b.second.last_seen;
  });
  if (oldest != map.end()) map.erase(oldest);
}

bool DeviceTable::learn(const IpAddress& ip, MacAddress mac, int segment, Time now) {
  auto it = by_ip_.find(ip);
  if (it != by_ip_.end()) {
    it->second = AddressEntry{mac, segment, now};
  } else {
    if (by_ip_.size() >= capacity_) evictOldest(by_ip_);
    by_ip_.emplace(ip, AddressEntry{mac, segment, now});
  }
  auto dev = devices_.find(mac.value);
  if (dev != devices_.end()) {
    dev->second.last_seen = now;
    return false;
  }
  if (devices_.size() >= capacity_) evictOldest(devices_);
  devices_.emplace(mac.value, DeviceEntry{now, now});
  return true;
}

std::optional<MacAddress> DeviceTable::macOf(const IpAddress& ip) const {
  auto it = by_ip_.find(ip);
  if (it == by_ip_.end()) return std::nullopt;
  return it->second.mac;
}

}  // namespace muzzle
