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
  devices_.emplace(mac.value, DeviceEntry{now, now, 0, 0});
  return true;
}

std::optional<MacAddress> DeviceTable::macOf(const IpAddress& ip) const {
  auto it = by_ip_.find(ip);
  if (it == by_ip_.end()) return std::nullopt;
  return it->second.mac;
}

void DeviceTable::countFlow(MacAddress mac, bool allowed) {
  auto dev = devices_.find(mac.value);
  if (dev == devices_.end()) return;
  ++(allowed ? dev->second.allowed : dev->second.denied);
}

std::vector<DeviceSeen> DeviceTable::snapshot() const {
  std::vector<DeviceSeen> out;
  out.reserve(devices_.size());
  std::unordered_map<uint64_t, size_t> index;
  for (const auto& [mac, entry] : devices_) {
    index.emplace(mac, out.size());
    DeviceSeen d;
    d.mac = MacAddress{mac};
    d.first_seen = entry.first_seen;
    d.last_seen = entry.last_seen;
    d.allowed = entry.allowed;
    d.denied = entry.denied;
    out.push_back(std::move(d));
  }
  for (const auto& [ip, entry] : by_ip_) {
    auto it = index.find(entry.mac.value);
    if (it == index.end()) continue;
    out[it->second].ips.push_back(ip);
    out[it->second].segment = entry.segment;
  }
  return out;
}

}  // namespace muzzle
