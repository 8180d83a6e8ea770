// FlowRecorder against what its storage could break: the recorder keeps every device's flows in
// slots it reuses in place and finds them through one open-addressing index, so a slip there
// shows as a flow lost, found under another device, counted twice or in the wrong order. Two
// tests: a tiny index shared by many devices (homes collide, entries are closed up behind every
// eviction), and 100,000 random steps (records, starts, stops, forgets, expiries) checked
// against the documented behaviour written plainly with std::map and std::list.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <list>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "fw/learn/flow_recorder.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using std::chrono::hours;
using std::chrono::seconds;

IpAddress nth(uint32_t i) { return IpAddress::v4FromHostOrder(0xC6120000u + i); }  // 198.18.x.y

FlowAttempt attempt(Direction direction, std::string_view name, const IpAddress& ip,
                    uint8_t protocol, uint16_t port) {
  FlowAttempt a;
  a.direction = direction;
  a.name = name;
  a.address = ip;
  a.protocol = protocol;
  a.port = port;
  return a;
}

FlowAttempt again(const LearnedFlow& f) {
  return attempt(f.key.direction, f.key.name, f.key.name.empty() ? f.key.address : f.last_address,
                 f.key.protocol, f.key.port);
}

bool sameKey(const LearnedFlowKey& a, const LearnedFlowKey& b) {
  return a.direction == b.direction && a.name == b.name && a.address == b.address &&
         a.protocol == b.protocol && a.port == b.port;
}

std::string describe(const LearnedFlow& f) {
  return std::string(directionName(f.key.direction)) + " " + std::to_string(f.key.protocol) + " " +
         std::to_string(f.key.port) + " " +
         (f.key.name.empty() ? f.key.address.toString() : f.key.name) +
         " count=" + std::to_string(f.count) + " first=" + std::to_string(f.first_seen_unix) +
         " last=" + std::to_string(f.last_seen_unix) + " verdict=" + actionName(f.verdict) +
         " rule=" + std::to_string(f.allowed_by_rule) + " via=" + f.last_address.toString() +
         " lateral=" + std::to_string(f.to_device);
}

bool sameFlow(const LearnedFlow& a, const LearnedFlow& b) { return describe(a) == describe(b); }

// Every flow the recorder shows for a learning device is found again: recorded once more
// (oldest first, so the order stays), each is counted, nothing is pushed out, and the order is
// what it was.
std::string everyFlowFoundAgain(FlowRecorder& r, const std::vector<MacAddress>& macs) {
  const size_t flows = r.flowCount();
  const uint64_t evictions = r.evictions();
  size_t shown = 0;
  for (MacAddress mac : macs) {
    const std::vector<LearnedFlow> before = r.flows(mac);
    shown += before.size();
    if (!r.learning(mac)) continue;
    for (auto f = before.rbegin(); f != before.rend(); ++f) r.record(mac, again(*f));
    const std::vector<LearnedFlow> after = r.flows(mac);
    if (after.size() != before.size()) return mac.toString() + ": flows lost or added";
    for (size_t i = 0; i < after.size(); ++i) {
      if (!sameKey(after[i].key, before[i].key) || after[i].count != before[i].count + 1) {
        return mac.toString() + ": " + describe(before[i]) + " became " + describe(after[i]);
      }
    }
  }
  if (shown != flows)
    return "the devices show " + std::to_string(shown) + " flows, not " + std::to_string(flows);
  if (r.flowCount() != flows || r.evictions() != evictions) return "a flow seen again was new";
  return "";
}

TEST_CASE("flows of many devices in a tiny index are found again after others leave it") {
  ManualClock clock;
  // Six flows in all: the index has 16 entries, so homes collide all the time and every flow
  // pushed out closes up a run of others behind it.
  FlowRecorder r(clock, LearnLimits{.sessions = 64, .per_device = 3, .total = 6});
  std::vector<MacAddress> macs;
  for (uint64_t d = 0; d < 40; ++d) {
    macs.push_back(MacAddress{0x020000000100ull + d});
    REQUIRE(r.start(macs.back(), hours(1), false).ok());
  }
  // The devices send the same few flows: one device's flow must not be found for another's.
  for (uint32_t step = 0; step < 4000; ++step) {
    const MacAddress mac = macs[(step * 7) % macs.size()];
    r.record(mac, attempt(Direction::kEgress, step % 3 == 0 ? "cam.example.com" : "", nth(step % 4),
                          6, 80));
    CHECK(r.flowCount() == std::min<size_t>(step + 1, 6));
    if (step % 10 == 0) {
      const std::string problem = everyFlowFoundAgain(r, macs);
      REQUIRE_MESSAGE(problem.empty(), "step ", step, ": ", problem);
    }
  }
  // Devices leave one by one, taking their entries out of the runs: the rest are still found.
  for (size_t d = 0; d < macs.size(); ++d) {
    REQUIRE(r.forget(macs[d]));
    const std::vector<MacAddress> rest(macs.begin() + d + 1, macs.end());
    const std::string problem = everyFlowFoundAgain(r, rest);
    REQUIRE_MESSAGE(problem.empty(), "after forgetting ", d + 1, ": ", problem);
  }
  CHECK(r.flowCount() == 0);
  // With every flow gone the storage starts again from nothing, and works as before.
  REQUIRE(r.start(macs[0], hours(1), false).ok());
  for (uint32_t i = 0; i < 5; ++i)
    r.record(macs[0], attempt(Direction::kEgress, "", nth(i), 17, 53));
  CHECK(r.flows(macs[0]).size() == 3);
  CHECK(everyFlowFoundAgain(r, {macs[0]}).empty());
}

// The documented behaviour, plainly: sessions by MAC, each with its flows in a list, most
// recently seen first.
class Model {
 public:
  struct Device {
    LearnSession session;
    std::list<LearnedFlow> flows;
  };
  // What the recorder did where the documentation leaves the choice open (which of several
  // devices holding the most gives way, which of several sessions that ended at the same
  // second is pushed out): the model follows it after checking it was one of those allowed.
  struct Recorder {
    std::function<uint64_t(MacAddress)> evictions;
    std::function<bool(MacAddress)> has;
  };

  explicit Model(LearnLimits limits) : limits_(limits) {}

  size_t flowCount() const {
    size_t n = 0;
    for (const auto& [mac, d] : devices_) n += d.flows.size();
    return n;
  }
  uint64_t evictions() const { return evictions_; }
  const std::map<uint64_t, Device>& devices() const { return devices_; }

  // "" or what went wrong.
  std::string record(MacAddress mac, const FlowAttempt& a, int64_t now, const Recorder& r) {
    auto it = devices_.find(mac.value);
    if (it == devices_.end() || !it->second.session.active) return "";
    Device& device = it->second;
    const bool by_name = isRecordableName(a.name);
    LearnedFlowKey key;
    key.direction = a.direction;
    key.name = by_name ? std::string(a.name) : std::string();
    key.address = by_name ? IpAddress{} : a.address;
    key.protocol = a.protocol;
    key.port = a.port;
    for (auto f = device.flows.begin(); f != device.flows.end(); ++f) {
      if (!sameKey(f->key, key)) continue;
      ++f->count;
      f->last_seen_unix = now;
      f->verdict = a.verdict;
      f->allowed_by_rule = a.allowed_by_rule;
      f->last_address = a.address;
      f->to_device = f->to_device || a.to_device;
      device.flows.splice(device.flows.begin(), device.flows, f);
      return "";
    }
    Device* victim = nullptr;
    if (device.flows.size() >= limits_.per_device) {
      victim = &device;
    } else if (flowCount() >= limits_.total) {
      size_t most = 0;
      for (const auto& [m, d] : devices_) most = std::max(most, d.flows.size());
      if (device.flows.size() >= most) {
        victim = &device;  // a tie goes against the recording device
      } else {
        for (auto& [m, d] : devices_) {
          if (d.flows.size() != most || r.evictions(d.session.mac) != d.session.evictions + 1)
            continue;
          if (victim != nullptr) return "two devices gave way for one flow";
          victim = &d;
        }
        if (victim == nullptr)
          return "no device holding the most (" + std::to_string(most) + ") gave way";
      }
    }
    if (victim != nullptr) {
      victim->flows.pop_back();
      ++victim->session.evictions;
      ++evictions_;
    }
    LearnedFlow f;
    f.key = key;
    f.last_address = a.address;
    f.verdict = a.verdict;
    f.allowed_by_rule = a.allowed_by_rule;
    f.to_device = a.to_device;
    f.count = 1;
    f.first_seen_unix = now;
    f.last_seen_unix = now;
    device.flows.push_front(f);
    return "";
  }

  // The StatusCode start() must return, or "" and kOk.
  std::string start(MacAddress mac, seconds duration, bool observe, int64_t now, const Recorder& r,
                    StatusCode* code) {
    *code = StatusCode::kOk;
    if (duration.count() <= 0 || duration > limits_.max_duration) {
      *code = StatusCode::kInvalidArgument;
      return "";
    }
    auto it = devices_.find(mac.value);
    if (it == devices_.end()) {
      if (devices_.size() >= limits_.sessions) {
        std::optional<int64_t> first_end;
        for (const auto& [m, d] : devices_) {
          if (!d.session.active && (!first_end || d.session.end_unix < *first_end))
            first_end = d.session.end_unix;
        }
        if (!first_end) {
          *code = StatusCode::kResourceExhausted;
          return "";
        }
        auto gone = devices_.end();
        for (auto d = devices_.begin(); d != devices_.end(); ++d) {
          if (d->second.session.active || d->second.session.end_unix != *first_end) continue;
          if (r.has(d->second.session.mac)) continue;
          if (gone != devices_.end()) return "two sessions pushed out for one";
          gone = d;
        }
        if (gone == devices_.end()) return "no session that ended first was pushed out";
        devices_.erase(gone);
      }
      it = devices_.try_emplace(mac.value).first;
      it->second.session.mac = mac;
      it->second.session.start_unix = now;
    } else if (!it->second.session.active) {
      it->second.session.start_unix = now;
    }
    LearnSession& s = it->second.session;
    s.end_unix = now + duration.count();
    s.observe = observe;
    s.active = true;
    return "";
  }

  bool stop(MacAddress mac, int64_t now) {
    auto it = devices_.find(mac.value);
    if (it == devices_.end() || !it->second.session.active) return false;
    it->second.session.active = false;
    it->second.session.end_unix = now;
    return true;
  }

  bool forget(MacAddress mac) { return devices_.erase(mac.value) != 0; }

  std::vector<MacAddress> expire(int64_t now) {
    std::vector<MacAddress> ended;
    for (auto& [m, d] : devices_) {
      if (!d.session.active || d.session.end_unix > now) continue;
      d.session.active = false;
      ended.push_back(d.session.mac);
    }
    return ended;
  }

 private:
  LearnLimits limits_;
  std::map<uint64_t, Device> devices_;
  uint64_t evictions_ = 0;
};

std::string describe(const LearnSession& s) {
  return s.mac.toString() + " start=" + std::to_string(s.start_unix) +
         " end=" + std::to_string(s.end_unix) + " observe=" + std::to_string(s.observe) +
         " active=" + std::to_string(s.active) + " evictions=" + std::to_string(s.evictions);
}

// "" when `r` shows what `m` holds: counts, sessions and, with `flows`, every flow in order.
std::string differences(const FlowRecorder& r, const Model& m, const std::vector<MacAddress>& macs,
                        bool flows) {
  if (r.flowCount() != m.flowCount()) {
    return "flowCount " + std::to_string(r.flowCount()) + ", expected " +
           std::to_string(m.flowCount());
  }
  if (r.evictions() != m.evictions()) {
    return "evictions " + std::to_string(r.evictions()) + ", expected " +
           std::to_string(m.evictions());
  }
  if (r.sessionCount() != m.devices().size()) return "sessionCount differs";
  if (!flows) return "";
  const std::vector<LearnSession> sessions = r.sessions();
  auto expected = m.devices().begin();
  for (const LearnSession& s : sessions) {
    if (describe(s) != describe(expected->second.session)) {
      return "session " + describe(s) + ", expected " + describe(expected->second.session);
    }
    ++expected;
  }
  for (MacAddress mac : macs) {
    const std::vector<LearnedFlow> got = r.flows(mac);
    auto it = m.devices().find(mac.value);
    const size_t want = it == m.devices().end() ? 0 : it->second.flows.size();
    if (got.size() != want) {
      return mac.toString() + " shows " + std::to_string(got.size()) + " flows, expected " +
             std::to_string(want);
    }
    if (want == 0) continue;
    size_t i = 0;
    for (const LearnedFlow& f : it->second.flows) {
      if (!sameFlow(got[i], f)) {
        return mac.toString() + " flow " + std::to_string(i) + ": " + describe(got[i]) +
               ", expected " + describe(f);
      }
      ++i;
    }
  }
  return "";
}

// `steps` random steps on a recorder with `limits`, `device_count` MACs (more than may learn at
// once) and `keys` flows to choose from, checked against the model.
void randomSteps(const LearnLimits& limits, size_t device_count,
                 const std::vector<FlowAttempt>& keys, uint32_t steps, uint32_t seed) {
  ManualClock clock;
  FlowRecorder r(clock, limits);
  Model m(limits);
  const Model::Recorder seen{[&](MacAddress mac) {
                               const auto s = r.session(mac);
                               return s ? s->evictions : ~uint64_t{0};
                             },
                             [&](MacAddress mac) { return r.session(mac).has_value(); }};
  std::vector<MacAddress> macs;
  for (uint64_t d = 0; d < device_count; ++d) macs.push_back(MacAddress{0x4447cc000100ull + d});
  std::mt19937 rng(seed);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  const seconds durations[] = {seconds(0), seconds(30), seconds(300), hours(2),
                               limits.max_duration + seconds(1)};
  const Action verdicts[] = {Action::kAllow, Action::kReject, Action::kDrop};
  for (uint32_t step = 0; step < steps; ++step) {
    CAPTURE(step);
    const int64_t now = unixSeconds(clock.wallNow());
    const MacAddress mac = macs[pick(macs.size())];
    const size_t op = pick(100);
    std::string problem;
    if (op < 75) {
      FlowAttempt a = keys[pick(keys.size())];
      a.verdict = verdicts[pick(3)];
      a.allowed_by_rule = a.verdict == Action::kAllow && pick(2) == 0;
      a.to_device = pick(10) == 0;
      r.record(mac, a);
      problem = m.record(mac, a, now, seen);
    } else if (op < 83) {
      const seconds duration = durations[pick(std::size(durations))];
      const bool observe = pick(2) == 0;
      const Status s = r.start(mac, duration, observe);
      StatusCode want = StatusCode::kOk;
      problem = m.start(mac, duration, observe, now, seen, &want);
      if (problem.empty() && s.code() != want) problem = "start: " + s.message();
    } else if (op < 88) {
      if (r.stop(mac) != m.stop(mac, now)) problem = "stop of " + mac.toString();
    } else if (op < 90) {
      if (r.forget(mac) != m.forget(mac)) problem = "forget of " + mac.toString();
    } else if (op < 93) {
      std::vector<MacAddress> got;
      for (const LearnSession& s : r.expire()) got.push_back(s.mac);
      std::sort(got.begin(), got.end());
      if (got != m.expire(now)) problem = "expire ended other sessions";
    } else {
      clock.advance(seconds(pick(40)));
    }
    if (problem.empty()) problem = differences(r, m, macs, step % 16 == 0);
    REQUIRE_MESSAGE(problem.empty(), problem);
  }
  REQUIRE(differences(r, m, macs, true).empty());
  // What the storage holds is what learn.state holds, and it reads back into the same.
  FlowRecorder back(clock, limits);
  REQUIRE(back.load(r.serialize(), "learn.state").ok());
  CHECK(back.loadDropped() == 0);
  CHECK(back.serialize() == r.serialize());
  CHECK(everyFlowFoundAgain(back, macs).empty());
}

TEST_CASE("100,000 random steps against the documented behaviour") {
  // Small bounds, all of them reached: 8 devices for 5 sessions, 12 flows (two of them the same
  // key by another road: a name's other address, a name no policy could say) for 6 a device
  // and 16 in all.
  const std::vector<FlowAttempt> few = {
      attempt(Direction::kEgress, "cam.example.com", nth(1), 6, 443),
      attempt(Direction::kEgress, "cam.example.com", nth(2), 6, 443),
      attempt(Direction::kEgress, "cam.example.com", nth(1), 6, 8443),
      attempt(Direction::kEgress, "", nth(1), 6, 443),
      attempt(Direction::kEgress, "", nth(1), 17, 123),
      attempt(Direction::kEgress, "Not A Name", nth(1), 17, 123),
      attempt(Direction::kInbound, "", nth(1), 17, 123),
      attempt(Direction::kEgress, "", *IpAddress::parse("2001:db8::123"), 17, 123),
      attempt(Direction::kEgress, "a-rather-long-name-past-the-small-buffer.example.com", nth(3), 6,
              443),
      attempt(Direction::kEgress, "", nth(4), 1, 0),
      attempt(Direction::kEgress, "", nth(5), 47, 0),
      attempt(Direction::kInbound, "", nth(6), 6, 554),
  };
  randomSteps(LearnLimits{.sessions = 5, .per_device = 6, .total = 16, .max_duration = hours(4)}, 8,
              few, 60000, 1);
  // Larger: the index grows (and starts again when every flow is gone) over 160 keys, a name
  // reached at four addresses for some.
  std::vector<std::string> names;
  for (uint32_t i = 0; i < 40; ++i) names.push_back("host" + std::to_string(i) + ".example.com");
  std::vector<FlowAttempt> many;
  for (uint32_t i = 0; i < 160; ++i) {
    FlowAttempt a = i % 2 == 0 ? attempt(Direction::kEgress, "", nth(i), 17, 9000 + i % 7)
                               : attempt(Direction::kEgress, "", nth(i), 6, 443);
    if (i % 4 == 1) a.name = names[i % 40];
    many.push_back(a);
  }
  randomSteps(LearnLimits{.sessions = 12, .per_device = 40, .total = 150, .max_duration = hours(4)},
              16, many, 40000, 2);
}

}  // namespace MUZZLE_UNITY_ID
}  // namespace muzzle
