// Each device's connections, counted by muzzled for the connection limit: see connection_counts.h.
#include "fw/device/connection_counts.h"

#include <algorithm>
#include <utility>

namespace muzzle {

bool ConnectionCounts::admit(MacAddress device) {
  if (limit_ == 0) return true;
  uint32_t& held = counts_[device.value];
  if (held >= limit_) {
    Refused& r = refused_[device.value];
    ++r.count;
    r.last = clock_.now();
    ++refused_total_;
    return false;
  }
  ++held;
  if (recounting_) ++since_begin_[device.value];
  return true;
}

bool ConnectionCounts::wantsRecount() {
  if (recounting_) return false;  // one is under way: its counts come soon
  const auto now = clock_.now();
  const auto spacing = std::max<std::chrono::steady_clock::duration>(
      kRecountSpacing, last_recount_took_ * kRecountDutyFactor);
  if (last_recount_ != std::chrono::steady_clock::time_point{} && now - last_recount_ < spacing) {
    return false;
  }
  last_recount_ = now;
  return true;
}

void ConnectionCounts::beginRecount() {
  last_recount_ = recount_began_ = clock_.now();
  recounting_ = true;
  since_begin_.clear();
}

MacMap<uint32_t> ConnectionCounts::finishRecount(MacMap<uint32_t> live) {
  for (const auto& [device, admitted] : since_begin_) live[device] += admitted;
  last_recount_took_ = clock_.now() - recount_began_;
  abandonRecount();
  counts_.swap(live);
  return live;
}

void ConnectionCounts::abandonRecount() {
  recounting_ = false;
  since_begin_.clear();
}

uint32_t ConnectionCounts::count(MacAddress device) const {
  const auto it = counts_.find(device.value);
  return it == counts_.end() ? 0 : it->second;
}

std::vector<ConnectionCounts::Refusals> ConnectionCounts::refusals() {
  const auto forget_before = clock_.now() - kRefusalMemory;
  std::vector<Refusals> out;
  for (auto it = refused_.begin(); it != refused_.end();) {
    if (it->second.last < forget_before) {
      it = refused_.erase(it);
      continue;
    }
    out.push_back({MacAddress{it->first}, it->second.count});
    ++it;
  }
  return out;
}

}  // namespace muzzle
