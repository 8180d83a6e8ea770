#include "mgmt/web/event_tracker.h"

#include <algorithm>

namespace muzzle::web {

void EventTracker::add(const v1::Event& e) {
  if (e.kind() != v1::EVENT_KIND_DENY && e.kind() != v1::EVENT_KIND_ALLOW) return;
  const int64_t when = e.time().seconds();
  const bool allowed = e.kind() == v1::EVENT_KIND_ALLOW;
  auto field = [&e](const char* k) {
    auto it = e.fields().find(k);
    return it == e.fields().end() ? std::string() : it->second;
  };
  std::lock_guard<std::mutex> lock(mu_);
  if (!allowed) {
    denials_[when / 60]++;
    while (!denials_.empty() && denials_.begin()->first < when / 60 - 60) {
      denials_.erase(denials_.begin());
    }
  }
  const std::string mac = field("mac");
  if (mac.empty() || mac == "unknown") return;
  if (!devices_.count(mac) && devices_.size() >= kMaxTrackedDevices) {
    auto oldest = std::min_element(devices_.begin(), devices_.end(), [](auto& a, auto& b) {
      return a.second.last_unix < b.second.last_unix;
    });
    devices_.erase(oldest);
  }
  Device& d = devices_[mac];
  d.last_unix = std::max(d.last_unix, when);
  const std::string target = field("dst");
  const std::string name = field("name");
  auto it = std::find_if(d.attempts.begin(), d.attempts.end(), [&](const Attempt& a) {
    return a.target == target && a.name == name && a.allowed == allowed;
  });
  if (it == d.attempts.end()) {
    if (d.attempts.size() >= kMaxAttempts) {
      d.attempts.erase(std::min_element(
          d.attempts.begin(), d.attempts.end(),
          [](const Attempt& a, const Attempt& b) { return a.last_unix < b.last_unix; }));
    }
    d.attempts.push_back(Attempt{target, name, allowed, 0, 0});
    it = d.attempts.end() - 1;
  }
  it->count++;
  it->last_unix = std::max(it->last_unix, when);
}

std::vector<uint32_t> EventTracker::denialsPerMinute(int64_t now_unix) const {
  std::vector<uint32_t> out(60, 0);
  const int64_t last = now_unix / 60;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [minute, count] : denials_) {
    if (minute > last - 60 && minute <= last)
      out[static_cast<size_t>(59 - (last - minute))] = count;
  }
  return out;
}

std::vector<Attempt> EventTracker::attempts(const std::string& mac) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = devices_.find(mac);
  if (it == devices_.end()) return {};
  std::vector<Attempt> out = it->second.attempts;
  std::sort(out.begin(), out.end(),
            [](const Attempt& a, const Attempt& b) { return a.last_unix > b.last_unix; });
  return out;
}

}  // namespace muzzle::web
