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
//
// One index for every device, keyed by (device, address) under the keyed hash (a device picks
// the addresses its answers name): lookup() runs for every new flow of a device, and most find
// nothing, so a miss is one probe of one table; a hit reaches the entry without a second
// look-up. A device that holds no name at all is answered from the device table first, without
// that probe: the index's buckets are cold at every new address, the device's entry is not. The
// index has its buckets for `total` entries from the start (8 bytes each, 512 KiB by default):
// growing it later would rehash every entry at once, on the packet path, under the Judge's lock.
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
      : clock_(clock), limits_(limits) {
    index_.reserve(limits_.total);
  }

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
  // How many lookups reached the index (the rest ended at the device table: no name held).
  uint64_t indexProbes() const { return index_probes_; }
  // Rough bytes per entry (list node, index node, name), for the counters line.
  static size_t approxBytesPerEntry();

 private:
  struct DeviceNames;
  struct Entry {
    IpAddress ip;
    std::string name;
    Time expires;
    DeviceNames* device;  // its owner (a node of devices_: never moves)
  };
  using EntryList = std::list<Entry>;  // front: most recently learned or used
  struct DeviceNames {
    uint64_t mac = 0;  // MacAddress::value
    EntryList lru;
    Time last_used;
  };
  struct Key {
    uint64_t mac;
    IpAddress ip;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return static_cast<size_t>(keyedHash(k.ip, k.mac)); }
  };
  using Index = std::unordered_multimap<Key, EntryList::iterator, KeyHash>;

  // Removes `entry` from the index (the caller erases it from its device's list).
  void unindex(EntryList::iterator entry);
  // Forgets a device and every entry it has.
  void eraseDevice(MacMap<DeviceNames>::iterator device);
  void evictOldestEntry(DeviceNames& device);
  void evictIdlestDevice();
  void trim(DeviceNames& device);
  // Over `total`: takes entries from the devices idle longest, down to 15/16 of it, so the
  // O(devices) search for the idlest runs once per many learned names, not for each.
  void trimTotal();

  const Clock& clock_;
  NameCacheLimits limits_;
  MacMap<DeviceNames> devices_;  // MacAddress::value -> names
  Index index_;                  // (device, address) -> its entries, one per name
  size_t entries_ = 0;
  uint64_t evictions_ = 0;
  uint64_t index_probes_ = 0;
};

}  // namespace muzzle
