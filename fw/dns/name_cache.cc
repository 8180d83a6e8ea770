#include "fw/dns/name_cache.h"

#include <algorithm>

namespace muzzle {

size_t NameCache::approxBytesPerEntry() {
  // A list node (entry + two links), an index node (key, value, next, hash) and its bucket,
  // and the name's heap buffer when it does not fit the small-string buffer (typical: 24 bytes).
  return sizeof(Entry) + 2 * sizeof(void*) + sizeof(Key) + sizeof(EntryList::iterator) +
         2 * sizeof(void*) + sizeof(size_t) + 32;
}

void NameCache::setLimits(const NameCacheLimits& limits) {
  limits_ = limits;
  if (limits_.per_device == 0) limits_.per_device = 1;
  if (limits_.devices == 0) limits_.devices = 1;
  if (limits_.total == 0) limits_.total = 1;
  index_.reserve(limits_.total);  // rehash here, at a change of limits, not while learning
  while (devices_.size() > limits_.devices) evictIdlestDevice();
  for (auto& [mac, device] : devices_) trim(device);
  trimTotal();
}

void NameCache::trimTotal() {
  if (entries_ <= limits_.total) return;
  const size_t target = limits_.total - limits_.total / 16;
  while (entries_ > target && !devices_.empty()) {
    auto idlest = std::min_element(devices_.begin(), devices_.end(), [](const auto& a, const auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    DeviceNames& device = idlest->second;
    while (entries_ > target && !device.lru.empty()) evictOldestEntry(device);
    if (device.lru.empty()) devices_.erase(idlest);
  }
}

void NameCache::unindex(EntryList::iterator entry) {
  auto [lo, hi] = index_.equal_range(Key{entry->device->mac, entry->ip});
  for (auto it = lo; it != hi; ++it) {
    if (it->second == entry) {
      index_.erase(it);
      return;
    }
  }
}

void NameCache::eraseDevice(MacMap<DeviceNames>::iterator device) {
  for (auto entry = device->second.lru.begin(); entry != device->second.lru.end(); ++entry) unindex(entry);
  entries_ -= device->second.lru.size();
  evictions_ += device->second.lru.size();
  devices_.erase(device);
}

void NameCache::evictOldestEntry(DeviceNames& device) {
  const auto victim = std::prev(device.lru.end());
  unindex(victim);
  device.lru.erase(victim);
  --entries_;
  ++evictions_;
}

void NameCache::trim(DeviceNames& device) {
  while (device.lru.size() > limits_.per_device) evictOldestEntry(device);
}

void NameCache::evictIdlestDevice() {
  // O(devices), but only when a new device arrives at a full table.
  auto idlest = std::min_element(devices_.begin(), devices_.end(), [](const auto& a, const auto& b) {
    return a.second.last_used < b.second.last_used;
  });
  if (idlest != devices_.end()) eraseDevice(idlest);
}

void NameCache::learn(MacAddress mac, const IpAddress& ip, std::string_view name, uint32_t ttl_seconds) {
  const Time now = clock_.now();
  const auto ttl = std::min(std::chrono::seconds(ttl_seconds), limits_.max_ttl);
  const Time expires = now + ttl + limits_.grace;
  auto found = devices_.find(mac.value);
  if (found == devices_.end()) {
    if (devices_.size() >= limits_.devices) evictIdlestDevice();
    found = devices_.emplace(mac.value, DeviceNames{}).first;
    found->second.mac = mac.value;
  }
  DeviceNames& device = found->second;
  device.last_used = now;
  const Key key{mac.value, ip};
  auto [lo, hi] = index_.equal_range(key);
  for (auto it = lo; it != hi; ++it) {
    Entry& entry = *it->second;
    if (entry.name != name) continue;
    entry.expires = std::max(entry.expires, expires);
    device.lru.splice(device.lru.begin(), device.lru, it->second);
    return;
  }
  device.lru.push_front(Entry{ip, std::string(name), expires, &device});
  index_.emplace(key, device.lru.begin());
  ++entries_;
  trim(device);
  trimTotal();
}

size_t NameCache::lookup(MacAddress mac, const IpAddress& ip, std::span<std::string_view> out) {
  // A device that holds no name (one that resolves nothing, a camera with its server's address
  // built in) ends here, in the device table, which its every flow keeps in the cache. The index
  // is probed at a new address each time, and its bucket array (512 KiB by default) is cold:
  // that one probe cost ~0.5 us a flow on the bench's gateway, a third of what muzzled's
  // user-space code spent beyond the bare queue loop's (tests/bench/HISTORY.md).
  const auto device_names = devices_.find(mac.value);
  if (device_names == devices_.end() || device_names->second.lru.empty()) return 0;
  ++index_probes_;
  auto [it, hi] = index_.equal_range(Key{mac.value, ip});
  if (it == hi) return 0;
  const Time now = clock_.now();
  size_t n = 0;
  DeviceNames* const device = &device_names->second;
  while (it != hi) {
    const EntryList::iterator entry = it->second;
    if (entry->expires < now) {
      device->lru.erase(entry);
      it = index_.erase(it);
      --entries_;
      continue;
    }
    if (n < out.size()) out[n++] = entry->name;
    // Used: keep it away from the eviction end. splice moves a node; it never allocates, and
    // list iterators (and the views into names) stay valid.
    device->lru.splice(device->lru.begin(), device->lru, entry);
    ++it;
  }
  if (n > 0) device->last_used = now;
  return n;
}

}  // namespace muzzle
