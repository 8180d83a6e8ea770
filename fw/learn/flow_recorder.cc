#include "fw/learn/flow_recorder.h"

#include <algorithm>

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

size_t FlowRecorder::approxBytesPerFlow() {
  // A slot, two index entries (at the total bound the index is sized for it, at most half
  // full), and a name's heap buffer when it does not fit the small-string buffer (typical: 32
  // bytes).
  return sizeof(Slot) + FlatIndex::kBytesPerRecord + 32;
}

uint32_t FlowRecorder::Storage::find(const DeviceFlows& device, uint32_t tag,
                                     const KeyView& key) const {
  const uint32_t i = table.find(tag, [&](uint32_t slot) {
    const Slot& s = at(slot);
    return s.device == &device && viewOf(s.flow.key) == key;
  });
  return i == FlatIndex::kNone ? kNoSlot : i;
}

uint32_t FlowRecorder::Storage::take() {
  if (free != kNoSlot) {
    const uint32_t i = free;
    free = at(i).next;
    return i;
  }
  if (used == chunks.size() * kChunkSlots) {
    chunks.push_back(std::make_unique<Slot[]>(kChunkSlots));
  }
  return used++;
}

void FlowRecorder::Storage::pushFront(DeviceFlows& device, uint32_t i) {
  Slot& s = at(i);
  s.device = &device;
  if (device.count == 0) {
    device.tail = i;
  } else {
    s.next = device.head;
    at(device.head).prev = i;
  }
  device.head = i;
  ++device.count;
}

void FlowRecorder::Storage::pushBack(DeviceFlows& device, uint32_t i) {
  Slot& s = at(i);
  s.device = &device;
  if (device.count == 0) {
    device.head = i;
  } else {
    s.prev = device.tail;
    at(device.tail).next = i;
  }
  device.tail = i;
  ++device.count;
}

uint32_t FlowRecorder::Storage::popBack(DeviceFlows& device) {
  const uint32_t i = device.tail;
  if (--device.count == 0) {
    device.head = device.tail = kNoSlot;
  } else {
    device.tail = at(i).prev;  // its next still names `i`: the tail's next is unspecified
  }
  return i;
}

void FlowRecorder::Storage::moveToFront(DeviceFlows& device, uint32_t i) {
  if (i == device.head) return;
  Slot& s = at(i);
  if (i == device.tail) {
    device.tail = s.prev;
  } else {
    at(s.prev).next = s.next;
    at(s.next).prev = s.prev;
  }
  s.next = device.head;
  at(device.head).prev = i;
  device.head = i;
}

void FlowRecorder::Storage::drop(DeviceFlows& device) {
  uint32_t i = device.head;
  for (uint32_t n = 0; n < device.count; ++n) {
    Slot& s = at(i);
    const uint32_t next = s.next;
    unindex(i);
    s.device = nullptr;
    s.next = free;
    free = i;
    i = next;
  }
  device.head = device.tail = kNoSlot;
  device.count = 0;
}

FlowRecorder::FlowRecorder(const Clock& clock, LearnLimits limits)
    : clock_(clock), limits_(limits) {
  if (limits_.sessions == 0) limits_.sessions = 1;
  if (limits_.per_device == 0) limits_.per_device = 1;
  if (limits_.total == 0) limits_.total = 1;
  limits_.total = std::min<size_t>(limits_.total, size_t{1} << 30);
  // The session table never rehashes on the packet path: it is only grown by start().
  devices_.reserve(std::min<size_t>(limits_.sessions, 4096));
  // Nor do the count groups at the default limits (8 KiB): a device holds at most this many.
  by_count_.reserve(std::min({limits_.per_device, limits_.total, kLearnMaxFlows}) + 1);
}

void FlowRecorder::joinCount(DeviceFlows& device, size_t count) {
  if (by_count_.size() <= count) by_count_.resize(count + 1, nullptr);
  DeviceFlows*& first = by_count_[count];
  device.same_count_prev = nullptr;
  device.same_count_next = first;
  if (first != nullptr) first->same_count_prev = &device;
  first = &device;
  most_ = std::max(most_, count);
}

void FlowRecorder::leaveCount(DeviceFlows& device, size_t count) {
  if (device.same_count_prev != nullptr) {
    device.same_count_prev->same_count_next = device.same_count_next;
  } else {
    by_count_[count] = device.same_count_next;
  }
  if (device.same_count_next != nullptr) {
    device.same_count_next->same_count_prev = device.same_count_prev;
  }
  device.same_count_prev = device.same_count_next = nullptr;
  while (most_ > 0 && by_count_[most_] == nullptr) --most_;
}

void FlowRecorder::recount(DeviceFlows& device, size_t before) {
  const size_t now = device.count;
  if (now == before) return;
  if (before > 0) leaveCount(device, before);
  if (now > 0) joinCount(device, now);
}

void FlowRecorder::regroup() {
  std::fill(by_count_.begin(), by_count_.end(), nullptr);
  most_ = 0;
  for (auto& [mac, device] : devices_) {
    if (device.count > 0) joinCount(device, device.count);
  }
}

void FlowRecorder::erase(MacMap<DeviceFlows>::iterator it) {
  DeviceFlows& device = it->second;
  if (device.count > 0) leaveCount(device, device.count);
  storage_.drop(device);
  devices_.erase(it);
  // The last flow gone (every session forgotten, say): the slots and the index go too.
  if (storage_.table.size() == 0) storage_ = Storage();
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
      erase(oldest);
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
  erase(it);
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

FlowRecorder::DeviceFlows* FlowRecorder::victimFor(DeviceFlows& device) {
  if (device.count >= limits_.per_device) return &device;
  if (storage_.table.size() < limits_.total || most_ == 0) return nullptr;
  // A tie goes against the recording device: it pushes out its own flow before another's.
  return device.count >= most_ ? &device : by_count_[most_];
}

void FlowRecorder::record(MacAddress mac, const FlowAttempt& a) {
  auto it = devices_.find(mac.value);
  if (it == devices_.end() || !it->second.session.active) return;
  DeviceFlows& device = it->second;
  const bool by_name = isRecordableName(a.name);
  const KeyView key{a.direction, a.protocol, a.port, by_name ? a.name : std::string_view(),
                    by_name ? IpAddress{} : a.address};
  const uint32_t tag = tagOf(mac, key);
  const int64_t now = unixSeconds(clock_.wallNow());
  if (const uint32_t found = storage_.find(device, tag, key); found != kNoSlot) {
    LearnedFlow& f = storage_.at(found).flow;
    ++f.count;
    f.last_seen_unix = now;
    f.verdict = a.verdict;
    f.allowed_by_rule = a.allowed_by_rule;
    f.last_address = a.address;
    f.to_device = f.to_device || a.to_device;
    storage_.moveToFront(device, found);
    return;
  }
  // A new flow. At a bound, the flow that gives way lends its slot in place: it leaves its
  // device's list and the index, and comes back as this flow (nothing freed or allocated).
  const size_t before = device.count;
  uint32_t i;
  if (DeviceFlows* victim = victimFor(device)) {
    const size_t victim_before = victim->count;
    i = storage_.popBack(*victim);
    storage_.unindex(i);
    ++evictions_;
    ++victim->session.evictions;
    if (victim != &device) recount(*victim, victim_before);
  } else {
    i = storage_.take();
  }
  Slot& s = storage_.at(i);
  LearnedFlow& f = s.flow;
  f.key.direction = a.direction;
  if (by_name) {
    f.key.name.assign(a.name);  // within the lent buffer's capacity when it is large enough
  } else {
    f.key.name.clear();
  }
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
  s.tag = tag;
  storage_.pushFront(device, i);
  storage_.index(i);
  recount(device, before);
}

std::optional<LearnSession> FlowRecorder::session(MacAddress mac) const {
  auto it = devices_.find(mac.value);
  if (it == devices_.end()) return std::nullopt;
  return it->second.session;
}

std::vector<MacAddress> FlowRecorder::sessionMacs() const {
  std::vector<MacAddress> out;
  out.reserve(devices_.size());
  for (const auto& [mac, device] : devices_) out.push_back(device.session.mac);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<LearnSession> FlowRecorder::sessions() const {
  std::vector<LearnSession> out;
  out.reserve(devices_.size());
  for (MacAddress mac : sessionMacs()) out.push_back(devices_.at(mac.value).session);
  return out;
}

std::vector<LearnedFlow> FlowRecorder::flows(MacAddress mac) const {
  auto it = devices_.find(mac.value);
  if (it == devices_.end()) return {};
  std::vector<LearnedFlow> out;
  out.reserve(it->second.count);
  storage_.forEach(it->second, [&](const LearnedFlow& f) { out.push_back(f); });
  return out;
}

}  // namespace muzzle
