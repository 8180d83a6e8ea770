#include "fw/engine/traffic_accounting.h"

#include "fw/common/keyed_hash.h"

namespace muzzle {

size_t TrafficAccounting::KeyHash::operator()(const Key& k) const {
  return static_cast<size_t>(keyedHash(k.address, uint64_t{k.traffic_class} << 1 | k.upload));
}

std::vector<TrafficAccounting::Growth> TrafficAccounting::update(
    const std::vector<AccountingCount>& counts, Time now) {
  ++reads_;
  std::vector<Growth> grown;
  for (const AccountingCount& c : counts) {
    auto [it, added] = last_.try_emplace(Key{c.address, c.upload, c.traffic_class}, Last{0, 0, now, reads_});
    Last& last = it->second;
    // Lower than last time: forgotten and added again since; all of it is new.
    const bool restarted = c.bytes < last.bytes || c.packets < last.packets;
    const uint64_t bytes = restarted ? c.bytes : c.bytes - last.bytes;
    const uint64_t packets = restarted ? c.packets : c.packets - last.packets;
    if (bytes > 0 || packets > 0) {
      grown.push_back({c.address, c.upload, c.traffic_class, bytes, packets});
      last.grew = now;
    } else if (added) {
      last.grew = now;
    }
    last.bytes = c.bytes;
    last.packets = c.packets;
    last.read = reads_;
  }
  // Missing from this read: no longer in the kernel.
  std::erase_if(last_, [&](const auto& entry) { return entry.second.read != reads_; });
  return grown;
}

std::vector<AccountingCount> TrafficAccounting::idle(Time now, std::chrono::seconds idle) const {
  std::vector<AccountingCount> out;
  for (const auto& [key, last] : last_) {
    if (now - last.grew >= idle) {
      out.push_back({key.address, key.upload, last.bytes, last.packets, key.traffic_class});
    }
  }
  return out;
}

void TrafficAccounting::forget(const std::vector<AccountingCount>& elements) {
  for (const AccountingCount& e : elements) last_.erase(Key{e.address, e.upload, e.traffic_class});
}

}  // namespace muzzle
