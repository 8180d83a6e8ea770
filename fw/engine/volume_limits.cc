// Volume limits over the accounting intervals: see volume_limits.h.
#include "fw/engine/volume_limits.h"

#include <algorithm>
#include <unordered_set>

namespace muzzle {
namespace {

std::string keyOf(const CompiledLimit& limit) { return limit.label + "\n" + limit.source; }

bool holds(int16_t schedule, ScheduleMask active) {
  return schedule < 0 || (active >> schedule & 1) != 0;
}

uint64_t classBits(const CompiledLimit& limit) {
  return limit.all_classes ? ~uint64_t{0} : uint64_t{1} << limit.traffic_class;
}

VolumeLimits::Event released(MacAddress device, const std::string& limit, const std::string& source,
                             const char* why) {
  VolumeLimits::Event e;
  e.kind = VolumeLimits::Event::kReleased;
  e.device = device;
  e.limit = limit;
  e.source = source;
  e.why = why;
  return e;
}

}  // namespace

VolumeLimits::Window& VolumeLimits::window(std::vector<Window>& windows, const CompiledLimit& limit,
                                           Time now) {
  const std::string key = keyOf(limit);
  for (Window& w : windows) {
    if (w.key == key) return w;
  }
  Window& w = windows.emplace_back();
  w.key = key;
  w.opened = now;
  w.per = limit.per;
  w.schedule = limit.schedule;
  w.limit = limit.label;
  w.source = limit.source;
  return w;
}

void VolumeLimits::endWindows(const CompiledPolicy& policy, Time now, ScheduleMask active,
                              std::vector<Event>* events) {
  if (windows_.empty()) return;
  std::unordered_set<std::string> current;
  for (const CompiledProfile& profile : policy.profiles) {
    for (const CompiledLimit& limit : profile.limits) current.insert(keyOf(limit));
  }
  for (auto it = windows_.begin(); it != windows_.end();) {
    const MacAddress device{it->first};
    std::erase_if(it->second, [&](const Window& w) {
      const bool gone = current.count(w.key) == 0;
      const bool closed = !holds(w.schedule, active);
      if (!gone && !closed && now - w.opened < w.per) return false;
      if (w.blocked) {
        events->push_back(released(device, w.limit, w.source,
                                   gone     ? "limit-removed"
                                   : closed ? "schedule-closed"
                                            : "window-ended"));
        blocks_changed_ = true;
      }
      return true;
    });
    it = it->second.empty() ? windows_.erase(it) : std::next(it);
  }
}

std::vector<VolumeLimits::Event> VolumeLimits::update(const CompiledPolicy& policy,
                                                      const std::vector<Growth>& growth, Time now,
                                                      ScheduleMask active) {
  blocks_changed_ = false;
  std::vector<Event> events;
  // Over first: traffic after a window's end counts in the next one.
  endWindows(policy, now, active, &events);
  for (const Growth& g : growth) {
    if (g.profile < 0 || static_cast<size_t>(g.profile) >= policy.profiles.size()) continue;
    for (const CompiledLimit& limit : policy.profiles[g.profile].limits) {
      if (!limit.all_classes && limit.traffic_class != g.traffic_class) continue;
      if (!holds(limit.schedule, active)) continue;
      Window& w = window(windows_[g.device.value], limit, now);
      w.upload += g.upload_bytes;
      w.download += g.download_bytes;
      if (w.exceeded) continue;
      const bool up = limit.upload_bytes != 0 && w.upload > limit.upload_bytes;
      const bool down = limit.download_bytes != 0 && w.download > limit.download_bytes;
      if (!up && !down) continue;
      w.exceeded = true;
      Event e;
      e.device = g.device;
      e.limit = limit.label;
      e.source = limit.source;
      e.upload = up;
      e.observed = up ? w.upload : w.download;
      e.block = limit.block;
      events.push_back(std::move(e));
      if (limit.block) {
        w.blocked = true;
        w.class_bits = classBits(limit);
        blocks_changed_ = true;
      }
    }
  }
  return events;
}

std::vector<VolumeLimits::Event> VolumeLimits::release(MacAddress device) {
  blocks_changed_ = false;
  std::vector<Event> events;
  auto it = windows_.find(device.value);
  if (it == windows_.end()) return events;
  for (Window& w : it->second) {
    if (!w.blocked) continue;
    w.blocked = false;
    blocks_changed_ = true;
    events.push_back(released(device, w.limit, w.source, "admin"));
  }
  return events;
}

MacMap<uint64_t> VolumeLimits::blocks() const {
  MacMap<uint64_t> out;
  for (const auto& [device, windows] : windows_) {
    for (const Window& w : windows) {
      if (w.blocked) out[device] |= w.class_bits;
    }
  }
  return out;
}

size_t VolumeLimits::windows() const {
  size_t n = 0;
  for (const auto& [device, windows] : windows_) n += windows.size();
  return n;
}

}  // namespace muzzle
