// NameCache: per device, which names each address was resolved from, learned from the device's
// own DNS answers, until the answer's TTL (plus a short grace) runs out.
//
// Bounded three ways: at most `per_device` entries (address, name) per device, the least
// recently used evicted first; at most `devices` devices, the one idle longest evicted first;
// and at most `total` entries in all, taken from the device idle longest. So a flood of answers
// (or of spoofed devices) cannot grow memory past `total` entries (~10 MB by default), whatever
// per_device * devices allows.
//
// learn() allocates when it inserts a new name (bounded by the limits above); lookup() never
// allocates. Time comes from the Clock seam. Not thread-safe: the Judge owns it (under its lock).
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "fw/common/clock.h"
#include "fw/common/keyed_hash.h"
#include "fw/common/net.h"

namespace muzzle {

struct NameCacheLimits {
  size_t per_device = 1024;
  size_t devices = 4096;
  size_t total = 65536;
  // Added to every TTL, so a connection opened just after the answer expired still matches
  // (resolvers count TTLs down in whole seconds, and devices connect a moment after the answer).
  std::chrono::seconds grace{10};
  // Answers claiming longer lives are cut to this, so a stale mapping cannot outlive a day.
  std::chrono::seconds max_ttl{86400};
};

class NameCache {
 public:
  using Time = std::chrono::steady_clock::time_point;
  // "*clock" must outlive the cache.
  explicit NameCache(const Clock& clock, NameCacheLimits limits = {})
      : clock_(clock), limits_(limits) {}

  // Shrinks or grows the bounds; entries beyond new bounds are evicted at once.
  void setLimits(const NameCacheLimits& limits);
  const NameCacheLimits& limits() const { return limits_; }

  // Records that `name` resolved to `ip` for `mac`, valid for `ttl_seconds` + grace. A name
  // learned again keeps the later of the two expiries.
  void learn(MacAddress mac, const IpAddress& ip, std::string_view name, uint32_t ttl_seconds);

  // Writes the unexpired names `mac` learned for `ip` into `out` (at most out.size(), in no
  // particular order) and returns how many. The views stay valid until the next learn() or
  // setLimits(). Expired entries met on the way are removed.
  size_t lookup(MacAddress mac, const IpAddress& ip, std::span<std::string_view> out);

  size_t entryCount() const { return entries_; }
  size_t deviceCount() const { return devices_.size(); }
  uint64_t evictions() const { return evictions_; }
  // Rough bytes per entry (list node, index node, name), for the counters line.
  static size_t approxBytesPerEntry();

 private:
  struct Entry {
    IpAddress ip;
    std::string name;
    Time expires;
  };
  using EntryList = std::list<Entry>;  // front: most recently learned or used
  struct DeviceNames {
    EntryList lru;
    std::unordered_multimap<IpAddress, EntryList::iterator, IpAddressHash> by_ip;
    Time last_used;
  };

  void evictOldestEntry(DeviceNames& device);
  void evictIdlestDevice();
  void trim(DeviceNames& device);
  // Over `total`: takes entries from the devices idle longest, down to 15/16 of it, so the
  // O(devices) search for the idlest runs once per many learned names, not for each.
  void trimTotal();

  const Clock& clock_;
  NameCacheLimits limits_;
  std::unordered_map<uint64_t, DeviceNames, MacValueHash> devices_;  // MacAddress::value -> names
  size_t entries_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace muzzle
