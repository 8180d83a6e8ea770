// The flood guard's drops per device, and the segment guard's per interface: see flood_drops.h.
#include "fw/engine/flood_drops.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "fw/nft/ruleset_layout.h"

namespace muzzle {
namespace {
// The engine's files are compiled in batches (muzzle_unity): this file's own names live in a
// namespace of their own.
namespace flooddrops {

// What each of `counts` (a read, any order) dropped since `last` (the read before, sorted by key),
// as (index into `counts`, drops since) pairs; `counts` is left sorted by key, each key once with
// its largest count. A count below the last one is a new element: the kernel forgot it in between
// and began again, so its whole count is new.
template <typename Count, typename Key>
std::vector<std::pair<size_t, uint64_t>> growth(std::vector<Count>& counts,
                                                const std::vector<Count>& last, Key key) {
  std::sort(counts.begin(), counts.end(), [&](const Count& a, const Count& b) {
    return key(a) < key(b) || (key(a) == key(b) && a.packets > b.packets);
  });
  counts.erase(std::unique(counts.begin(), counts.end(),
                           [&](const Count& a, const Count& b) { return key(a) == key(b); }),
               counts.end());
  std::vector<std::pair<size_t, uint64_t>> grown;
  auto before = last.begin();
  for (size_t i = 0; i < counts.size(); ++i) {
    const Count& now = counts[i];
    while (before != last.end() && key(*before) < key(now)) ++before;
    const bool known = before != last.end() && key(*before) == key(now);
    const uint64_t since =
        known && before->packets <= now.packets ? now.packets - before->packets : now.packets;
    if (since > 0) grown.emplace_back(i, since);
  }
  return grown;
}

}  // namespace flooddrops
}  // namespace

std::vector<FloodDrops::Growth> FloodDrops::update(std::vector<FloodDropCount> counts) {
  const auto by_device = [](const FloodDropCount& c) { return c.mac; };
  std::vector<Growth> grown;
  for (const auto& [i, since] : flooddrops::growth(counts, last_, by_device)) {
    grown.push_back({counts[i].mac, since, counts[i].packets});
    dropped_ += since;
  }
  std::stable_sort(grown.begin(), grown.end(),
                   [](const Growth& a, const Growth& b) { return a.dropped > b.dropped; });
  last_ = std::move(counts);
  return grown;
}

std::vector<SegmentDrops::Growth> SegmentDrops::update(std::vector<SegmentDropCount> counts) {
  const auto by_interface = [](const SegmentDropCount& c) -> const std::string& {
    return c.interface;
  };
  std::vector<Growth> grown;
  for (const auto& [i, since] : flooddrops::growth(counts, last_, by_interface)) {
    grown.push_back({counts[i].interface, since, counts[i].packets});
    dropped_ += since;
    auto at = std::lower_bound(
        totals_.begin(), totals_.end(), counts[i].interface,
        [](const Total& t, const std::string& name) { return t.interface < name; });
    if (at != totals_.end() && at->interface == counts[i].interface) {
      at->dropped += since;
    } else if (totals_.size() < kSegmentSetSize) {
      totals_.insert(at, {counts[i].interface, since});
    }
  }
  std::stable_sort(grown.begin(), grown.end(),
                   [](const Growth& a, const Growth& b) { return a.dropped > b.dropped; });
  last_ = std::move(counts);
  return grown;
}

}  // namespace muzzle
