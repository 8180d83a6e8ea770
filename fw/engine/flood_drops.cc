// The flood guard's drops per device: see flood_drops.h.
#include "fw/engine/flood_drops.h"

#include <algorithm>

namespace muzzle {

std::vector<FloodDrops::Growth> FloodDrops::update(std::vector<FloodDropCount> counts) {
  auto by_device = [](const FloodDropCount& a, const FloodDropCount& b) {
    return a.mac < b.mac || (a.mac == b.mac && a.packets > b.packets);
  };
  std::sort(counts.begin(), counts.end(), by_device);
  counts.erase(
      std::unique(counts.begin(), counts.end(),
                  [](const FloodDropCount& a, const FloodDropCount& b) { return a.mac == b.mac; }),
      counts.end());
  std::vector<Growth> grown;
  auto before = last_.begin();
  for (const FloodDropCount& now : counts) {
    while (before != last_.end() && before->mac < now.mac) ++before;
    const bool known = before != last_.end() && before->mac == now.mac;
    // A count below the last one is a new element: the kernel forgot the device in between.
    const uint64_t since =
        known && before->packets <= now.packets ? now.packets - before->packets : now.packets;
    if (since > 0) grown.push_back({now.mac, since, now.packets});
    dropped_ += since;
  }
  std::stable_sort(grown.begin(), grown.end(),
                   [](const Growth& a, const Growth& b) { return a.dropped > b.dropped; });
  last_ = std::move(counts);
  return grown;
}

}  // namespace muzzle
