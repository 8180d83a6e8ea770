#include "fw/learn/flow_recorder.h"

#include <algorithm>
#include <functional>

namespace muzzle {

bool isRecordableName(std::string_view name) {
  if (name.empty() || name.size() > kLearnMaxNameBytes) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                    c == '.';
    if (!ok) return false;
  }
  return true;
}

size_t FlowRecorder::KeyHash::operator()(const KeyView& k) const {
  size_t h = std::hash<std::string_view>()(k.name);
  h ^= IpAddressHash()(k.address) + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  const uint64_t small = (uint64_t{k.port} << 16) | (uint64_t{k.protocol} << 8) |
                         static_cast<uint64_t>(k.direction);
  return h ^ (small * 0x9E3779B97F4A7C15ull);
}

size_t FlowRecorder::approxBytesPerFlow() {
  // A list node (flow + two links), an index node (key, iterator, next, hash) and its bucket,
  // and a name's heap buffer when it does not fit the small-string buffer (typical: 32 bytes).
  return sizeof(LearnedFlow) + 2 * sizeof(void*) + sizeof(KeyView) + sizeof(FlowList::iterator) +
         2 * sizeof(void*) + sizeof(size_t) + 32;
}

FlowRecorder::FlowRecorder(const Clock& clock, LearnLimits limits)
    : clock_(clock), limits_(limits) {
  if (limits_.sessions == 0) limits_.sessions = 1;
  if (limits_.per_device == 0) limits_.per_device = 1;
  if (limits_.total == 0) limits_.total = 1;
  // The session table never rehashes on the packet path: it is only grown by start().
  devices_.reserve(std::min<size_t>(limits_.sessions, 4096));
}

bool FlowRecorder::learning(MacAddress mac) const {
  auto it = devices_.find(mac.value);
  return it != devices_.end() && it->second.session.active;
}

bool FlowRecorder::observing(MacAddress mac) const {
  auto it = devices_.find(mac.value);
  return it != devices_.end() && it->second.session.active && it->second.session.observe;
}

Status FlowRecorder::start(MacAddress mac, std::chrono::seconds duration, bool observe) {
  if (duration.count() <= 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "a learning session needs a duration of at least one second");
  }
  if (duration > limits_.max_duration) {
    return Status::error(StatusCode::kInvalidArgument,
                         "a learning session lasts at most " +
                             std::to_string(limits_.max_duration.count() / 3600) +
                             " hours; ask for less and start it again when it ends");
  }
  const int64_t now = unixSeconds(clock_.wallNow());
  auto it = devices_.find(mac.value);
  if (it == devices_.end()) {
    if (devices_.size() >= limits_.sessions) {
      // Room from the ended session that ended first; active ones are never pushed out.
      auto oldest = devices_.end();
      for (auto d = devices_.begin(); d != devices_.end(); ++d) {
        if (d->second.session.active) continue;
        if (oldest == devices_.end() || d->second.session.end_unix < oldest->second.session.end_unix)
          oldest = d;
      }
      if (oldest == devices_.end()) {
        return Status::error(StatusCode::kResourceExhausted,
                             std::to_string(limits_.sessions) +
                                 " devices are learning already (the most at once); stop one "
                                 "with `muzzlectl learn stop MAC` first");
      }
      flows_ -= oldest->second.lru.size();
      devices_.erase(oldest);
    }
    it = devices_.try_emplace(mac.value).first;
    it->second.session.mac = mac;
    it->second.session.start_unix = now;
  } else if (!it->second.session.active) {
    it->second.session.start_unix = now;  // a new session over the old one's flows
  }
  LearnSession& s = it->second.session;
  s.end_unix = now + duration.count();
  s.observe = observe;
  s.active = true;
  return Status();
}

bool FlowRecorder::stop(MacAddress mac) {
  auto it = devices_.find(mac.value);
  if (it == devices_.end() || !it->second.session.active) return false;
  it->second.session.active = false;
  it->second.session.end_unix = unixSeconds(clock_.wallNow());
  return true;
}

bool FlowRecorder::forget(MacAddress mac) {
  auto it = devices_.find(mac.value);
  if (it == devices_.end()) return false;
  flows_ -= it->second.lru.size();
  devices_.erase(it);
  return true;
}

std::vector<LearnSession> FlowRecorder::expire() {
  std::vector<LearnSession> ended;
  const int64_t now = unixSeconds(clock_.wallNow());
  for (auto& [mac, device] : devices_) {
    if (!device.session.active || device.session.end_unix > now) continue;
    device.session.active = false;
    ended.push_back(device.session);
  }
  return ended;
}

void FlowRecorder::evictOldest(DeviceFlows& device) {
  const auto victim = std::prev(device.lru.end());
  device.index.erase(viewOf(victim->key));
  device.lru.erase(victim);
  --flows_;
  ++evictions_;
  ++device.session.evictions;
}

void FlowRecorder::makeRoom(DeviceFlows& device) {
  if (device.lru.size() >= limits_.per_device) {
    evictOldest(device);
    return;
  }
  if (flows_ < limits_.total) return;
  // O(sessions), but only for a new flow when the whole recorder is full.
  DeviceFlows* largest = &device;
  for (auto& [mac, d] : devices_) {
    if (d.lru.size() > largest->lru.size()) largest = &d;
  }
  if (!largest->lru.empty()) evictOldest(*largest);
}

void FlowRecorder::insert(DeviceFlows& device, LearnedFlow flow) {
  device.lru.push_front(std::move(flow));
  // The index's view points into the list node, which never moves.
  device.index.emplace(viewOf(device.lru.front().key), device.lru.begin());
  ++flows_;
}

void FlowRecorder::record(MacAddress mac, const FlowAttempt& a) {
  auto it = devices_.find(mac.value);
  if (it == devices_.end() || !it->second.session.active) return;
  DeviceFlows& device = it->second;
  const bool by_name = isRecordableName(a.name);
  KeyView key{a.direction, a.protocol, a.port, by_name ? a.name : std::string_view(),
              by_name ? IpAddress{} : a.address};
  const int64_t now = unixSeconds(clock_.wallNow());
  if (auto found = device.index.find(key); found != device.index.end()) {
    LearnedFlow& f = *found->second;
    ++f.count;
    f.last_seen_unix = now;
    f.verdict = a.verdict;
    f.allowed_by_rule = a.allowed_by_rule;
    f.last_address = a.address;
    f.to_device = f.to_device || a.to_device;
    device.lru.splice(device.lru.begin(), device.lru, found->second);
    return;
  }
  makeRoom(device);
  LearnedFlow f;
  f.key.direction = a.direction;
  if (by_name) f.key.name.assign(a.name);
  f.key.address = key.address;
  f.key.protocol = a.protocol;
  f.key.port = a.port;
  f.last_address = a.address;
  f.count = 1;
  f.first_seen_unix = now;
  f.last_seen_unix = now;
  f.verdict = a.verdict;
  f.allowed_by_rule = a.allowed_by_rule;
  f.to_device = a.to_device;
  insert(device, std::move(f));
}

std::optional<LearnSession> FlowRecorder::session(MacAddress mac) const {
  auto it = devices_.find(mac.value);
  if (it == devices_.end()) return std::nullopt;
  return it->second.session;
}

std::vector<LearnSession> FlowRecorder::sessions() const {
  std::vector<LearnSession> out;
  out.reserve(devices_.size());
  for (const auto& [mac, device] : devices_) out.push_back(device.session);
  std::sort(out.begin(), out.end(),
            [](const LearnSession& a, const LearnSession& b) { return a.mac < b.mac; });
  return out;
}

std::vector<LearnedFlow> FlowRecorder::flows(MacAddress mac) const {
  auto it = devices_.find(mac.value);
  if (it == devices_.end()) return {};
  return std::vector<LearnedFlow>(it->second.lru.begin(), it->second.lru.end());
}

}  // namespace muzzle
