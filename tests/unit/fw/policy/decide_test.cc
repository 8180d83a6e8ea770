// decide(): the verdict for every shape of flow the engine hands it.
#include <doctest/doctest.h>

#include "fw/policy/policy_loader.h"
#include "tests/unit/fw/policy/packet_of.h"
#include "tests/unit/support/lab_site.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

constexpr const char* kPolicy = R"(
version: 1
defaults: {profile: quarantine}
addresses:
  nvr: [198.18.1.10, fd00:1::10]
  cloud: [203.0.113.0/28]
profiles:
  camera:
    egress:
      - {allow: [nvr], proto: tcp, ports: [554, "8000-8010"]}
      - {allow: [gateway], proto: udp, ports: [53, 123]}
      - {deny: [cloud], log: true}
      - {allow: [internet], proto: icmp}
    inbound:
      - {allow: [nvr], proto: tcp, ports: [554, 80]}
  dropper:
    egress: [{allow: [local], proto: tcp}]
    otherwise: drop
  quarantine: {egress: [{allow: [gateway], proto: udp, ports: [53, 67]}]}
devices:
  - {name: lobby-cam, mac: "44:47:cc:00:00:11", profile: camera}
  - {name: garage-cam, mac: "44:47:cc:00:00:12", profile: camera}
  - {name: odd, mac: "44:47:cc:00:00:13", profile: dropper}
)";

SiteFacts lab() { return testing::cameraSegmentSite(/*uplink=*/true); }

std::shared_ptr<const CompiledPolicy> compiled() {
  auto p = compilePolicyText(kPolicy, "policy.yaml", lab());
  REQUIRE_MESSAGE(p.ok(), p.status().message());
  return *p;
}

using testing::packet;

Endpoint device(const char* mac) { return Endpoint{0, MacAddress::parse(mac), false}; }
Endpoint outside() { return Endpoint{}; }
Endpoint box() { return Endpoint{-1, std::nullopt, true}; }

Verdict judge(const CompiledPolicy& policy, const PacketInfo& p, Endpoint src, Endpoint dst) {
  FlowView flow;
  flow.packet = &p;
  flow.src = src;
  flow.dst = dst;
  return decide(policy, flow);
}

TEST_CASE("egress: first matching rule wins, otherwise rejects") {
  auto policy = compiled();
  auto cam = device("44:47:cc:00:00:11");
  auto v = judge(*policy, packet("198.18.10.11", "198.18.1.10", L4::kTcp, 554), cam, outside());
  CHECK(v.action == Action::kAllow);
  REQUIRE(v.rule != nullptr);
  CHECK(v.rule->label == "profiles.camera.egress[0]");
  CHECK(policy->devices[v.device].name == "lobby-cam");

  CHECK(judge(*policy, packet("198.18.10.11", "198.18.1.10", L4::kTcp, 8005), cam, outside()).action == Action::kAllow);
  CHECK(judge(*policy, packet("fd00:10::11", "fd00:1::10", L4::kTcp, 554), cam, outside()).action == Action::kAllow);
  // Right host, wrong port or protocol.
  CHECK(judge(*policy, packet("198.18.10.11", "198.18.1.10", L4::kTcp, 22), cam, outside()).action == Action::kReject);
  CHECK(judge(*policy, packet("198.18.10.11", "198.18.1.10", L4::kUdp, 554), cam, outside()).action == Action::kReject);
  auto other = judge(*policy, packet("198.18.10.11", "192.0.2.50", L4::kTcp, 443), cam, outside());
  CHECK(other.action == Action::kReject);
  CHECK(other.rule == nullptr);
  CHECK(other.direction == Direction::kEgress);
}

TEST_CASE("deny rules take the profile's otherwise action and can ask for logging") {
  auto policy = compiled();
  auto cam = device("44:47:cc:00:00:11");
  auto v = judge(*policy, packet("198.18.10.11", "203.0.113.5", L4::kIcmp, 0), cam, outside());
  CHECK(v.action == Action::kReject);  // deny [cloud] comes before allow icmp internet
  CHECK(v.log);
  // Outside the cloud block, ICMP to the internet is allowed.
  CHECK(judge(*policy, packet("198.18.10.11", "192.0.2.9", L4::kIcmp, 0), cam, outside()).action == Action::kAllow);
  auto drop = judge(*policy, packet("198.18.10.13", "192.0.2.9", L4::kTcp, 80),
                    device("44:47:cc:00:00:13"), outside());
  CHECK(drop.action == Action::kDrop);
}

TEST_CASE("built-in targets resolve against the device's segment") {
  auto policy = compiled();
  auto cam = device("44:47:cc:00:00:11");
  // gateway: the box on this segment, v4 and v6.
  CHECK(judge(*policy, packet("198.18.10.11", "198.18.10.1", L4::kUdp, 53), cam, box()).action == Action::kAllow);
  CHECK(judge(*policy, packet("fd00:10::11", "fd00:10::1", L4::kUdp, 123), cam, box()).action == Action::kAllow);
  // Another of the box's addresses is not `gateway`, and not `internet` either.
  CHECK(judge(*policy, packet("198.18.10.11", "198.51.100.1", L4::kUdp, 53), cam, box()).action == Action::kReject);
  CHECK(judge(*policy, packet("198.18.10.11", "198.51.100.1", L4::kIcmp, 0), cam, box()).action == Action::kReject);
  // The box's SSH is not in the profile.
  CHECK(judge(*policy, packet("198.18.10.11", "198.18.10.1", L4::kTcp, 22), cam, box()).action == Action::kReject);
  // local: the segment's subnet but not the gateway.
  auto odd = device("44:47:cc:00:00:13");
  CHECK(judge(*policy, packet("198.18.10.13", "198.18.10.50", L4::kTcp, 80), odd, outside()).action == Action::kAllow);
  CHECK(judge(*policy, packet("198.18.10.13", "198.18.10.1", L4::kTcp, 80), odd, box()).action == Action::kDrop);
}

TEST_CASE("unlisted and unknown devices get the default profile") {
  auto policy = compiled();
  auto unknown = device("02:5a:00:00:00:99");
  auto v = judge(*policy, packet("198.18.10.99", "198.18.1.10", L4::kTcp, 554), unknown, outside());
  CHECK(v.action == Action::kReject);
  CHECK(policy->profiles[v.profile].name == "quarantine");
  CHECK(v.device == -1);
  CHECK(judge(*policy, packet("198.18.10.99", "198.18.10.1", L4::kUdp, 67), unknown, box()).action == Action::kAllow);
  // No MAC at all (not learned yet): still the default profile, never "allow everything".
  Endpoint nomac{0, std::nullopt, false};
  CHECK(judge(*policy, packet("198.18.10.98", "198.18.1.10", L4::kTcp, 554), nomac, outside()).action == Action::kReject);
}

TEST_CASE("inbound: the source and the device's own port decide") {
  auto policy = compiled();
  auto cam = device("44:47:cc:00:00:11");
  auto v = judge(*policy, packet("198.18.1.10", "198.18.10.11", L4::kTcp, 554), outside(), cam);
  CHECK(v.action == Action::kAllow);
  CHECK(v.direction == Direction::kInbound);
  CHECK(judge(*policy, packet("fd00:1::10", "fd00:10::11", L4::kTcp, 80), outside(), cam).action == Action::kAllow);
  CHECK(judge(*policy, packet("198.18.1.10", "198.18.10.11", L4::kTcp, 23), outside(), cam).action == Action::kReject);
  auto internet = judge(*policy, packet("203.0.113.10", "198.18.10.11", L4::kTcp, 80), outside(), cam);
  CHECK(internet.action == Action::kReject);
  CHECK(internet.direction == Direction::kInbound);
}

TEST_CASE("both ends managed: egress of one and inbound of the other must both allow") {
  auto policy = compiled();
  auto lobby = device("44:47:cc:00:00:11");
  auto garage = device("44:47:cc:00:00:12");
  // The camera profile's egress does not allow local TCP, so lateral camera-to-camera is refused.
  auto v = judge(*policy, packet("198.18.10.11", "198.18.10.12", L4::kTcp, 80), lobby, garage);
  CHECK(v.action == Action::kReject);
  CHECK(v.direction == Direction::kEgress);
  // `odd` may open local TCP, but the camera's inbound only admits the NVR.
  auto w = judge(*policy, packet("198.18.10.13", "198.18.10.12", L4::kTcp, 80), device("44:47:cc:00:00:13"), garage);
  CHECK(w.action == Action::kReject);
  CHECK(w.direction == Direction::kInbound);
}

TEST_CASE("flows with no managed end, and flows the box opens, are allowed") {
  auto policy = compiled();
  CHECK(judge(*policy, packet("198.18.1.10", "203.0.113.10", L4::kTcp, 443), outside(), outside()).action == Action::kAllow);
  CHECK(judge(*policy, packet("198.18.10.1", "198.18.10.11", L4::kIcmp, 0), box(), device("44:47:cc:00:00:11")).action == Action::kAllow);
}

TEST_CASE("a port rule never matches a packet without ports") {
  auto policy = compiled();
  auto p = packet("198.18.10.11", "198.18.1.10", L4::kTcp, 554);
  p.has_ports = false;  // a later fragment
  p.later_fragment = true;
  CHECK(judge(*policy, p, device("44:47:cc:00:00:11"), outside()).action == Action::kReject);
}

}  // namespace
}  // namespace muzzle
