// FlowRecorder: sessions (start, stop, expiry moved with ManualClock), flows by name or address,
// the per-device and total bounds with their eviction counts, and learn.state: the round trip,
// and damaged or hostile files refused with their line.
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "fw/learn/flow_recorder.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using std::chrono::hours;
using std::chrono::seconds;

const MacAddress kCamera = *MacAddress::parse("44:47:cc:00:00:11");
const MacAddress kVacuum = *MacAddress::parse("50:ec:50:00:00:21");
const IpAddress kCloud = *IpAddress::parse("203.0.113.10");
const IpAddress kCloud2 = *IpAddress::parse("203.0.113.11");

FlowAttempt tcp(std::string_view name, const IpAddress& ip, uint16_t port,
                Action verdict = Action::kAllow) {
  FlowAttempt a;
  a.name = name;
  a.address = ip;
  a.protocol = 6;
  a.port = port;
  a.verdict = verdict;
  return a;
}

IpAddress nth(uint32_t i) { return IpAddress::v4FromHostOrder(0xC6120000u + i); }  // 198.18.x.y

TEST_CASE("only a device in a session is recorded; a flow seen again is counted, not repeated") {
  ManualClock clock;
  FlowRecorder r(clock);
  r.record(kCamera, tcp("cam.example.com", kCloud, 443));
  CHECK(r.flowCount() == 0);
  REQUIRE(r.start(kCamera, hours(24), false).ok());
  CHECK(r.learning(kCamera));
  CHECK_FALSE(r.observing(kCamera));
  CHECK_FALSE(r.learning(kVacuum));
  r.record(kCamera, tcp("cam.example.com", kCloud, 443));
  clock.advance(seconds(30));
  // Another address of the same name, a minute later: the same flow.
  r.record(kCamera, tcp("cam.example.com", kCloud2, 443, Action::kReject));
  r.record(kVacuum, tcp("cam.example.com", kCloud, 443));
  auto flows = r.flows(kCamera);
  REQUIRE(flows.size() == 1);
  CHECK(flows[0].key.name == "cam.example.com");
  CHECK(flows[0].count == 2);
  CHECK(flows[0].last_seen_unix - flows[0].first_seen_unix == 30);
  CHECK(flows[0].verdict == Action::kReject);
  CHECK(flows[0].last_address == kCloud2);
  CHECK(r.flows(kVacuum).empty());
}

TEST_CASE("a flow is kept by name when one is known, by address otherwise") {
  ManualClock clock;
  FlowRecorder r(clock);
  REQUIRE(r.start(kCamera, hours(1), false).ok());
  r.record(kCamera, tcp("", kCloud, 443));
  r.record(kCamera, tcp("cam.example.com", kCloud, 443));
  r.record(kCamera, tcp("cam.example.com", kCloud, 8443));  // another port: another flow
  // A name with bytes a policy could not say (or a hostile answer's) is kept by address.
  r.record(kCamera, tcp("bad name\n", kCloud2, 443));
  auto flows = r.flows(kCamera);
  REQUIRE(flows.size() == 4);
  CHECK(flows[0].key.name.empty());
  CHECK(flows[0].key.address == kCloud2);
  CHECK(flows[1].key.port == 8443);
  CHECK(flows[2].key.name == "cam.example.com");
  CHECK(flows[3].key.name.empty());
  CHECK(flows[3].key.address == kCloud);
}

TEST_CASE("a device sending to 100,000 addresses keeps its newest per_device flows") {
  ManualClock clock;
  FlowRecorder r(clock, LearnLimits{.per_device = 100, .total = 1000});
  REQUIRE(r.start(kCamera, hours(1), false).ok());
  REQUIRE(r.start(kVacuum, hours(1), false).ok());
  r.record(kVacuum, tcp("vacuum.example.com", kCloud, 443));
  for (uint32_t i = 0; i < 100000; ++i) r.record(kCamera, tcp("", nth(i), 80));
  CHECK(r.flowCount() == 101);
  CHECK(r.flows(kCamera).size() == 100);
  CHECK(r.flows(kCamera).front().key.address == nth(99999));
  CHECK(r.flows(kCamera).back().key.address == nth(99900));
  CHECK(r.evictions() == 99900);
  CHECK(r.session(kCamera)->evictions == 99900);
  CHECK(r.flows(kVacuum).size() == 1);  // the scan only pushed out the camera's own flows
}

TEST_CASE("at the total bound, the device holding the most gives way") {
  ManualClock clock;
  FlowRecorder r(clock, LearnLimits{.per_device = 100, .total = 10});
  REQUIRE(r.start(kCamera, hours(1), false).ok());
  REQUIRE(r.start(kVacuum, hours(1), false).ok());
  for (uint32_t i = 0; i < 9; ++i) r.record(kCamera, tcp("", nth(i), 80));
  r.record(kVacuum, tcp("", kCloud, 443));
  CHECK(r.flowCount() == 10);
  r.record(kVacuum, tcp("", kCloud2, 443));  // full: the camera (9 flows) loses its oldest
  CHECK(r.flowCount() == 10);
  CHECK(r.flows(kCamera).size() == 8);
  CHECK(r.flows(kVacuum).size() == 2);
  CHECK(r.session(kCamera)->evictions == 1);
  CHECK(r.session(kVacuum)->evictions == 0);
}

TEST_CASE("at the total bound, the largest gives way each time; a tie goes against the recorder") {
  ManualClock clock;
  FlowRecorder r(clock, LearnLimits{.per_device = 100, .total = 12});
  const MacAddress speaker = *MacAddress::parse("68:54:fd:00:00:31");
  for (MacAddress m : {kCamera, kVacuum, speaker}) REQUIRE(r.start(m, hours(1), false).ok());
  for (uint32_t i = 0; i < 6; ++i) r.record(kCamera, tcp("", nth(i), 80));
  for (uint32_t i = 0; i < 4; ++i) r.record(kVacuum, tcp("", nth(100 + i), 80));
  for (uint32_t i = 0; i < 2; ++i) r.record(speaker, tcp("", nth(200 + i), 80));
  REQUIRE(r.flowCount() == 12);
  // The camera holds the most (6, then 5): its two oldest go.
  r.record(speaker, tcp("", nth(202), 80));
  r.record(speaker, tcp("", nth(203), 80));
  CHECK(r.flows(kCamera).size() == 4);
  CHECK(r.flows(kCamera).back().key.address == nth(2));
  CHECK(r.session(kCamera)->evictions == 2);
  // 4, 4, 4: the recording device pushes out its own oldest, then so does the vacuum.
  r.record(speaker, tcp("", nth(204), 80));
  CHECK(r.flows(speaker).size() == 4);
  CHECK(r.flows(speaker).back().key.address == nth(201));
  CHECK(r.session(speaker)->evictions == 1);
  r.record(kVacuum, tcp("", nth(104), 80));
  CHECK(r.flows(kVacuum).size() == 4);
  CHECK(r.flows(kVacuum).back().key.address == nth(101));
  CHECK(r.session(kVacuum)->evictions == 1);
  CHECK(r.session(kCamera)->evictions == 2);
  CHECK(r.flowCount() == 12);
  CHECK(r.evictions() == 4);
  // A flow seen again is still found after its neighbours' nodes moved between devices.
  r.record(kCamera, tcp("", nth(2), 80));
  CHECK(r.flows(kCamera).front().count == 2);
  CHECK(r.flowCount() == 12);
}

TEST_CASE("at the total bound, the largest is found again after a device is dropped or loaded") {
  ManualClock clock;
  const LearnLimits limits{.sessions = 2, .per_device = 100, .total = 60};
  FlowRecorder r(clock, limits);
  REQUIRE(r.start(kCamera, hours(1), false).ok());
  REQUIRE(r.start(kVacuum, hours(1), false).ok());
  for (uint32_t i = 0; i < 50; ++i) r.record(kCamera, tcp("", nth(i), 80));
  for (uint32_t i = 0; i < 10; ++i) r.record(kVacuum, tcp("", nth(100 + i), 80));
  // The camera, which held the most, is forgotten: the vacuum (10) is now the largest.
  REQUIRE(r.forget(kCamera));
  const MacAddress speaker = *MacAddress::parse("68:54:fd:00:00:31");
  REQUIRE(r.start(speaker, hours(1), false).ok());
  for (uint32_t i = 0; i < 50; ++i) r.record(speaker, tcp("", nth(200 + i), 80));
  CHECK(r.flowCount() == 60);
  r.record(kVacuum, tcp("", nth(110), 80));  // full: the speaker (50) gives way
  CHECK(r.flowCount() == 60);
  CHECK(r.flows(speaker).size() == 49);
  CHECK(r.session(speaker)->evictions == 1);
  // Loaded from learn.state, the counts are known again: the speaker still gives way first.
  FlowRecorder back(clock, limits);
  REQUIRE(back.load(r.serialize(), "learn.state").ok());
  REQUIRE(back.flowCount() == 60);
  back.record(kVacuum, tcp("", nth(111), 80));
  CHECK(back.flowCount() == 60);
  CHECK(back.flows(speaker).size() == 48);
  CHECK(back.flows(kVacuum).size() == 12);
  // An ended session pushed out by a new one takes its flows along, and its count with them:
  // then the vacuum, not the gone speaker, holds the most.
  REQUIRE(back.stop(speaker));
  REQUIRE(back.start(kCamera, hours(1), false).ok());
  CHECK_FALSE(back.session(speaker).has_value());
  CHECK(back.flowCount() == 12);
  for (uint32_t i = 0; i < 24; ++i) {
    back.record(kCamera, tcp("", nth(300 + i), 80));
    back.record(kVacuum, tcp("", nth(400 + i), 80));
  }
  REQUIRE(back.flowCount() == 60);
  back.record(kCamera, tcp("", nth(324), 80));
  CHECK(back.flows(kCamera).size() == 25);
  CHECK(back.flows(kVacuum).size() == 35);
  CHECK(back.flowCount() == 60);
}

TEST_CASE("a flow that gives way lends its place: the new flow keeps nothing of the old one") {
  ManualClock clock;
  FlowRecorder r(clock, LearnLimits{.per_device = 1});
  REQUIRE(r.start(kCamera, hours(1), false).ok());
  FlowAttempt named = tcp("a-rather-long-name-past-the-small-buffer.example.com", kCloud, 443);
  named.allowed_by_rule = true;
  named.to_device = true;
  r.record(kCamera, named);
  r.record(kCamera, named);
  clock.advance(seconds(10));
  r.record(kCamera, tcp("", kCloud2, 80, Action::kReject));  // by address, in the named one's place
  auto flows = r.flows(kCamera);
  REQUIRE(flows.size() == 1);
  CHECK(flows[0].key.name.empty());
  CHECK(flows[0].key.address == kCloud2);
  CHECK(flows[0].key.port == 80);
  CHECK(flows[0].count == 1);
  CHECK(flows[0].first_seen_unix == flows[0].last_seen_unix);
  CHECK(flows[0].verdict == Action::kReject);
  CHECK_FALSE(flows[0].allowed_by_rule);
  CHECK_FALSE(flows[0].to_device);
  // The index follows the lent node: the address flow is found again, the named one is new.
  r.record(kCamera, tcp("", kCloud2, 80));
  CHECK(r.flows(kCamera)[0].count == 2);
  r.record(kCamera, tcp("cam.example.com", kCloud, 443));
  flows = r.flows(kCamera);
  REQUIRE(flows.size() == 1);
  CHECK(flows[0].key.name == "cam.example.com");
  CHECK(flows[0].key.address == IpAddress{});
  CHECK(flows[0].last_address == kCloud);
  CHECK(r.evictions() == 2);
}

TEST_CASE("sessions: bounded, duration checked, stop keeps the flows, forget drops them") {
  ManualClock clock;
  FlowRecorder r(clock, LearnLimits{.sessions = 1, .max_duration = hours(48)});
  CHECK(r.start(kCamera, seconds(0), false).code() == StatusCode::kInvalidArgument);
  Status too_long = r.start(kCamera, hours(49), false);
  CHECK(too_long.code() == StatusCode::kInvalidArgument);
  CHECK(too_long.message().find("at most 48 hours") != std::string::npos);
  REQUIRE(r.start(kCamera, hours(1), true).ok());
  CHECK(r.observing(kCamera));
  CHECK(r.start(kVacuum, hours(1), false).code() == StatusCode::kResourceExhausted);
  r.record(kCamera, tcp("", kCloud, 80));
  CHECK(r.stop(kCamera));
  CHECK_FALSE(r.stop(kCamera));
  CHECK_FALSE(r.learning(kCamera));
  CHECK_FALSE(r.observing(kCamera));
  r.record(kCamera, tcp("", kCloud2, 80));  // ended: not recorded
  CHECK(r.flows(kCamera).size() == 1);
  // An ended session gives way to a new device.
  REQUIRE(r.start(kVacuum, hours(1), false).ok());
  CHECK_FALSE(r.session(kCamera).has_value());
  CHECK(r.flowCount() == 0);
  CHECK(r.forget(kVacuum));
  CHECK_FALSE(r.forget(kVacuum));
  CHECK(r.sessionCount() == 0);
}

TEST_CASE("a session ends by itself at its end time") {
  ManualClock clock;
  FlowRecorder r(clock);
  REQUIRE(r.start(kCamera, hours(24), false).ok());
  REQUIRE(r.start(kVacuum, hours(2), true).ok());
  clock.advance(hours(2) - seconds(1));
  CHECK(r.expire().empty());
  clock.advance(seconds(1));
  auto ended = r.expire();
  REQUIRE(ended.size() == 1);
  CHECK(ended[0].mac == kVacuum);
  CHECK(ended[0].observe);
  CHECK_FALSE(r.learning(kVacuum));
  CHECK(r.learning(kCamera));
  CHECK(r.expire().empty());  // reported once
  clock.advance(hours(22));
  CHECK(r.expire().size() == 1);
  CHECK_FALSE(r.learning(kCamera));
}

TEST_CASE("learn.state: a round trip keeps sessions, flows, their order and counts") {
  ManualClock clock;
  FlowRecorder r(clock);
  REQUIRE(r.start(kCamera, hours(24), true).ok());
  REQUIRE(r.start(kVacuum, hours(1), false).ok());
  FlowAttempt ruled = tcp("", *IpAddress::parse("198.18.1.10"), 554);
  ruled.allowed_by_rule = true;
  r.record(kVacuum, ruled);
  r.record(kCamera, tcp("cam.example.com", kCloud, 443));
  clock.advance(seconds(5));
  FlowAttempt ntp;
  ntp.address = *IpAddress::parse("2001:db8::123");
  ntp.protocol = 17;
  ntp.port = 123;
  r.record(kCamera, ntp);
  r.record(kCamera, tcp("cam.example.com", kCloud, 443, Action::kReject));
  FlowAttempt inbound = tcp("", *IpAddress::parse("198.18.1.20"), 554);
  inbound.direction = Direction::kInbound;
  r.record(kCamera, inbound);
  r.stop(kVacuum);
  const std::string text = r.serialize();

  FlowRecorder back(clock);
  REQUIRE(back.load(text, "learn.state").ok());
  CHECK(back.serialize() == text);
  CHECK(back.flowCount() == 4);
  CHECK(back.flows(kVacuum)[0].allowed_by_rule);
  CHECK(back.observing(kCamera));
  CHECK_FALSE(back.learning(kVacuum));
  auto flows = back.flows(kCamera);
  REQUIRE(flows.size() == 3);
  CHECK(flows[0].key.direction == Direction::kInbound);
  CHECK(flows[1].key.name == "cam.example.com");
  CHECK(flows[1].count == 2);
  CHECK(flows[1].verdict == Action::kReject);
  CHECK(flows[2].key.address == ntp.address);
  // Recording continues into the loaded flows.
  back.record(kCamera, tcp("cam.example.com", kCloud, 443));
  CHECK(back.flows(kCamera)[0].count == 3);
  CHECK(back.flowCount() == 4);
}

TEST_CASE("learn.state: the saved text, field by field") {
  ManualClock clock;  // 1,790,000,000
  FlowRecorder r(clock);
  REQUIRE(r.start(kVacuum, hours(1), true).ok());
  REQUIRE(r.start(kCamera, hours(24), false).ok());
  FlowAttempt ruled = tcp("cam.example.com", kCloud, 443);
  ruled.allowed_by_rule = true;
  r.record(kCamera, ruled);
  clock.advance(seconds(7));
  r.record(kCamera, ruled);
  FlowAttempt ntp;
  ntp.address = *IpAddress::parse("2001:db8::123");
  ntp.protocol = 17;
  ntp.port = 123;
  ntp.verdict = Action::kDrop;
  r.record(kCamera, ntp);
  FlowAttempt lateral;
  lateral.address = *IpAddress::parse("198.18.1.10");
  lateral.protocol = 47;  // GRE: no name for it, written as its number
  lateral.to_device = true;
  lateral.verdict = Action::kReject;
  r.record(kCamera, lateral);
  FlowAttempt inbound = tcp("", *IpAddress::parse("10.0.0.255"), 554);
  inbound.direction = Direction::kInbound;
  r.record(kVacuum, inbound);
  r.stop(kVacuum);
  CHECK(r.serialize() ==
        "# muzzle learning state 1\n"
        "session 44:47:cc:00:00:11 start=1790000000 end=1790086400 observe=no active=yes "
        "evictions=0\n"
        "flow egress 47 0 addr=198.18.1.10 count=1 first=1790000007 last=1790000007 "
        "verdict=reject rule=no via=198.18.1.10 lateral=yes\n"
        "flow egress udp 123 addr=2001:db8::123 count=1 first=1790000007 last=1790000007 "
        "verdict=drop rule=no via=2001:db8::123 lateral=no\n"
        "flow egress tcp 443 name=cam.example.com count=2 first=1790000000 last=1790000007 "
        "verdict=allow rule=yes via=203.0.113.10 lateral=no\n"
        "session 50:ec:50:00:00:21 start=1790000000 end=1790000007 observe=yes active=no "
        "evictions=0\n"
        "flow inbound tcp 554 addr=10.0.0.255 count=1 first=1790000007 last=1790000007 "
        "verdict=allow rule=no via=10.0.0.255 lateral=no\n");
}

TEST_CASE("learn.state: a damaged or hostile file is refused with its line, nothing changes") {
  ManualClock clock;
  FlowRecorder r(clock);
  REQUIRE(r.start(kCamera, hours(1), false).ok());
  const std::string head = "# muzzle learning state 1\n";
  const std::string session =
      "session 44:47:cc:00:00:11 start=1 end=2 observe=no active=yes evictions=0\n";
  const std::string flow =
      "flow egress tcp 443 name=a.example.com count=1 first=1 last=1 verdict=allow rule=no "
      "via=203.0.113.1 lateral=no\n";
  struct Case {
    std::string text;
    std::string error;
  };
  const Case cases[] = {
      {"", "learn.state:1: not a learning state file"},
      {"\xff\xfe garbage", "learn.state:1: not a learning state file"},
      {head + "session nonsense\n", "learn.state:2: a session line has 7 words"},
      {head + "session zz:47:cc:00:00:11 start=1 end=2 observe=no active=yes evictions=0\n",
       "is not an Ethernet address"},
      {head + "session 44:47:cc:00:00:11 start=x end=2 observe=no active=yes evictions=0\n",
       "learn.state:2: start= must be"},
      {head + "session 44:47:cc:00:00:11 start=1 end=99999999999999999999999 observe=no "
              "active=yes evictions=0\n",
       "end= must be"},
      {head + session + session, "learn.state:3: a second session"},
      {head + flow, "learn.state:2: a flow line before any session line"},
      {head + session + "flow sideways tcp 443 name=a.example.com count=1 first=1 last=1 "
                        "verdict=allow rule=no via=203.0.113.1 lateral=no\n",
       "learn.state:3: the direction"},
      {head + session + "flow egress tcp 70000 name=a.example.com count=1 first=1 last=1 "
                        "verdict=allow rule=no via=203.0.113.1 lateral=no\n",
       "the port"},
      {head + session + "flow egress tcp 443 name=A;rm\x01 count=1 first=1 last=1 "
                        "verdict=allow rule=no via=203.0.113.1 lateral=no\n",
       "is not a DNS name"},
      {head + session + "flow egress tcp 443 addr=300.1.1.1 count=1 first=1 last=1 "
                        "verdict=allow rule=no via=203.0.113.1 lateral=no\n",
       "is not an IP address"},
      {head + session + "flow egress tcp 443 name=a.example.com count=1 first=1 last=1 "
                        "verdict=maybe rule=no via=203.0.113.1 lateral=no\n",
       "verdict= must be"},
      {head + session + "flow egress tcp 443 name=a.example.com count=1 first=1 last=1 "
                        "verdict=allow rule=perhaps via=203.0.113.1 lateral=no\n",
       "rule= must be yes or no"},
      {head + session + flow + flow, "learn.state:4: the same flow twice"},
      {head + session + "flow egress tcp 443\n", "a flow line has 12 words"},
      {head + "junk\n", "learn.state:2: a line starts with"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    Status s = r.load(c.text, "learn.state");
    REQUIRE_FALSE(s.ok());
    CHECK(s.message().find(c.error) != std::string::npos);
    CHECK(r.learning(kCamera));  // the running sessions stay
  }
}

TEST_CASE("learn.state: a line of spaces alone is a blank line, not a crash") {
  // An edit that leaves a line of spaces (or a file torn after them) once read past the end of
  // that line's empty word list, at every start of muzzled.
  ManualClock clock;
  FlowRecorder r(clock);
  const std::string text =
      "# muzzle learning state 1\n"
      "   \n"
      "session 44:47:cc:00:00:11 start=1 end=2 observe=no active=no evictions=0\n"
      " \n"
      "flow egress tcp 443 name=a.example.com count=1 first=1 last=1 verdict=allow rule=no "
      "via=203.0.113.1 lateral=no\n"
      "  ";
  REQUIRE(r.load(text, "learn.state").ok());
  CHECK(r.sessionCount() == 1);
  CHECK(r.flowCount() == 1);
}

TEST_CASE("learn.state: what exceeds the limits is left out and counted") {
  ManualClock clock;
  FlowRecorder big(clock);
  for (uint64_t i = 1; i <= 3; ++i) {
    REQUIRE(big.start(MacAddress{i}, hours(1), false).ok());
    for (uint32_t f = 0; f < 5; ++f) big.record(MacAddress{i}, tcp("", nth(f), 80));
  }
  FlowRecorder small(clock, LearnLimits{.sessions = 2, .per_device = 3, .total = 4});
  REQUIRE(small.load(big.serialize(), "learn.state").ok());
  CHECK(small.sessionCount() == 2);
  CHECK(small.flowCount() == 4);
  CHECK(small.loadDropped() == 1 + 5 + 2 + 4);  // a session, its flows, two over per_device...
}

TEST_CASE("learn.state in pieces, a session at a time, as the Daemon saves it") {
  ManualClock clock;
  const LearnLimits limits{.sessions = 4, .per_device = 8, .total = 4};
  FlowRecorder r(clock, limits);
  REQUIRE(r.start(kCamera, hours(1), false).ok());
  REQUIRE(r.start(kVacuum, hours(1), false).ok());
  for (uint32_t f = 0; f < 3; ++f) r.record(kCamera, tcp("", nth(f), 80));
  r.record(kVacuum, tcp("", nth(10), 80));

  auto pieces = [&](const std::function<void()>& between) {
    std::string text;
    FlowRecorder::appendHeader(text);
    bool first = true;
    for (MacAddress mac : r.sessionMacs()) {
      if (!first) between();
      first = false;
      r.appendSession(mac, text);
    }
    return text;
  };
  // Nothing changing in between: the same bytes as serialize().
  CHECK(r.sessionMacs() == std::vector<MacAddress>{kCamera, kVacuum});
  CHECK(pieces([] {}) == r.serialize());

  // The camera's piece is taken, then the vacuum's new flow pushes out the camera's oldest (the
  // total bound): the file holds 5 flows for a bound of 4. It loads, the excess counted.
  const std::string moved = pieces([&] { r.record(kVacuum, tcp("", nth(11), 80)); });
  CHECK(r.flowCount() == 4);
  FlowRecorder back(clock, limits);
  REQUIRE(back.load(moved, "learn.state").ok());
  CHECK(back.flowCount() == 4);
  CHECK(back.loadDropped() == 1);  // the file's last flow: the vacuum's older one
  REQUIRE(back.flows(kVacuum).size() == 1);
  CHECK(back.flows(kVacuum)[0].key.address == nth(11));

  // A session forgotten between pieces: nothing of it is written.
  std::string text;
  CHECK(r.forget(kVacuum));
  CHECK_FALSE(r.appendSession(kVacuum, text));
  CHECK(text.empty());
}

}  // namespace
}  // namespace muzzle
