// The Judge in learning mode: a device in a session has each new flow recorded, by the name it
// resolved or by address, with the verdict it got; a device in an --observe session gets what
// its profile does not explicitly deny (loudly), and nothing else changes for other devices.
#include <doctest/doctest.h>
#include <linux/netfilter.h>

#include <string>

#include "tests/unit/fw/engine/judge_dns_fixture.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using namespace judge_dns;  // NOLINT: the fixture's names are this file's vocabulary

const MacAddress kSpeaker = *MacAddress::parse(kSpeakerMac);

constexpr const char* kObservePolicy = R"(
version: 1
profiles:
  speaker:
    egress:
      - {deny: ["192.0.2.66"], proto: tcp}
      - {allow: ["*.voice.example"], proto: tcp, ports: [443]}
      - {allow: [gateway], proto: udp, ports: [53]}
  quarantine: {}
devices:
  - {name: speaker, mac: "68:54:fd:00:00:31", profile: speaker}
dns: {resolvers: [gateway]}
)";

TEST_CASE("a learning device's new flows are recorded by name or address, with their verdict") {
  Fixture f;
  f.connect("203.0.113.30");  // not learning yet: not recorded
  REQUIRE(f.judge.learning().start(kSpeaker, std::chrono::hours(24), false).ok());
  f.ask("avs.voice.example");
  f.gatewayAnswers(answer("avs.voice.example", 30, 60));
  CHECK((*f.connect("203.0.113.30").mark & kAllowMask) == verdictMark(kGeneration, VerdictCode::kAllow));
  CHECK((*f.connect("203.0.113.30").mark & kAllowMask) == verdictMark(kGeneration, VerdictCode::kAllow));
  CHECK(*f.connect("192.0.2.99").mark == verdictMark(kGeneration, VerdictCode::kReject));
  auto flows = f.judge.learning().flows(kSpeaker);
  REQUIRE(flows.size() == 2);
  CHECK(flows[0].key.name.empty());
  CHECK(flows[0].key.address == *IpAddress::parse("192.0.2.99"));
  CHECK(flows[0].verdict == Action::kReject);
  CHECK(flows[1].key.name == "avs.voice.example");
  CHECK(flows[1].key.port == 443);
  CHECK(flows[1].key.protocol == 6);
  CHECK(flows[1].count == 2);
  CHECK(flows[1].verdict == Action::kAllow);
  CHECK(flows[1].allowed_by_rule);
  CHECK_FALSE(flows[0].allowed_by_rule);
  CHECK(f.judge.counters().learn_observed == 0);
}

TEST_CASE("while another device learns, a device that is not learning is not recorded") {
  Fixture f;
  const MacAddress other = *MacAddress::parse("44:47:cc:00:00:11");
  REQUIRE(f.judge.learning().start(other, std::chrono::hours(1), false).ok());
  f.connect("203.0.113.30");
  CHECK(f.judge.learning().flowCount() == 0);
  REQUIRE(f.judge.learning().start(kSpeaker, std::chrono::hours(1), false).ok());
  f.connect("203.0.113.30");
  CHECK(f.judge.learning().flows(kSpeaker).size() == 1);
  CHECK(f.judge.learning().flows(other).empty());
  f.judge.learning().stop(kSpeaker);  // ended: its flows stay, no new one is added
  f.connect("203.0.113.31");
  CHECK(f.judge.learning().flowCount() == 1);
}

TEST_CASE("observe mode allows what the profile does not explicitly deny, and says so") {
  Fixture f;
  f.setPolicy(kObservePolicy, kGeneration);
  REQUIRE(f.judge.learning().start(kSpeaker, std::chrono::hours(1), true).ok());
  // Refused by `otherwise` only: allowed while observing, logged as such.
  CHECK((*f.connect("198.51.100.7", 8883).mark & kAllowMask) == verdictMark(kGeneration, VerdictCode::kAllow));
  CHECK(f.logText().find("dst=198.51.100.7:8883 rule=otherwise learn=observe action=allow") !=
        std::string::npos);
  // An explicit deny rule still holds.
  CHECK(*f.connect("192.0.2.66", 443).mark == verdictMark(kGeneration, VerdictCode::kReject));
  CHECK(f.judge.counters().learn_observed == 1);
  auto flows = f.judge.learning().flows(kSpeaker);
  REQUIRE(flows.size() == 2);
  CHECK(flows[0].verdict == Action::kReject);
  CHECK(flows[1].verdict == Action::kAllow);
  CHECK_FALSE(flows[1].allowed_by_rule);  // observe mode's allow is not the site's decision
  // Stopped: the profile applies again.
  f.judge.learning().stop(kSpeaker);
  CHECK(*f.connect("198.51.100.7", 8883).mark == verdictMark(kGeneration, VerdictCode::kReject));
  CHECK(f.judge.learning().flows(kSpeaker).size() == 2);  // kept, not recorded further
}

}  // namespace
}  // namespace muzzle
