// Judge: queued packet in, verdict mark and log lines out. The kernel is replaced by hand-made
// QueuedPackets and a fake HostInfo.
#include <doctest/doctest.h>
#include <linux/netfilter.h>

#include <cstdio>
#include <string>
#include <vector>

#include "fw/engine/judge.h"
#include "fw/nft/marks.h"
#include "fw/policy/policy_loader.h"
#include "tests/unit/fw/engine/test_support.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

constexpr uint32_t kGeneration = 42;

using testing::FakeHost;
using testing::kSegmentIf;
using testing::kUplinkIf;

// A TCP SYN (IPv4 or IPv6) from src:sport to dst:dport.
std::vector<uint8_t> tcpPacket(const char* src, const char* dst, uint16_t sport, uint16_t dport) {
  return testing::tcpPacket(src, dst, sport, dport);
}

struct Fixture : testing::CameraJudge {
  Fixture() {
    SiteFacts site = testing::cameraSite();
    site.box_addresses.clear();
    setPolicy(testing::kCameraSitePolicy, kGeneration, site);
  }
  PacketVerdict send(const std::vector<uint8_t>& bytes, uint8_t hook, uint32_t indev, uint32_t outdev,
                     const char* mac, uint32_t mark = 0) {
    return judge.onPacket(testing::queuedPacket(bytes, hook, indev, outdev, mac, mark));
  }
};

TEST_CASE("an allowed egress flow is answered NF_REPEAT with the generation's allow mark") {
  Fixture f;
  auto v = f.send(tcpPacket("198.18.10.11", "198.18.1.10", 40000, 554), NF_INET_FORWARD, kSegmentIf,
                  kUplinkIf, "44:47:cc:00:00:11");
  CHECK(v.verdict == NF_REPEAT);
  REQUIRE(v.mark.has_value());
  CHECK((*v.mark & kAllowMask) == verdictMark(kGeneration, VerdictCode::kAllow));
  CHECK(f.judge.counters().allowed == 1);
  CHECK(f.logText().find("event=new-device mac=44:47:cc:00:00:11 ip=198.18.10.11 segment=cameras device=lobby-cam profile=camera") != std::string::npos);
}

TEST_CASE("an allowed flow's mark carries its traffic class; a volume block refuses that class") {
  Fixture f;
  const char* cam = "44:47:cc:00:00:11";
  auto v = f.send(tcpPacket("198.18.10.11", "198.18.1.10", 40000, 554), NF_INET_FORWARD, kSegmentIf,
                  kUplinkIf, cam);
  REQUIRE(v.mark.has_value());
  const CompiledPolicy& policy = *f.judge.policy();
  CHECK(policy.traffic_classes.at(trafficClassOf(*v.mark)) == "nvr");
  // The camera's traffic to the nvr group blocked: refused, reason volume-limit, no class.
  const MacAddress mac = *MacAddress::parse(cam);
  f.judge.setVolumeBlocks({{mac.value, uint64_t{1} << trafficClassOf(*v.mark)}});
  v = f.send(tcpPacket("198.18.10.11", "198.18.1.10", 40001, 554), NF_INET_FORWARD, kSegmentIf,
             kUplinkIf, cam);
  CHECK(*v.mark == verdictMark(kGeneration, VerdictCode::kReject));
  CHECK(f.judge.counters().volume_blocked == 1);
  CHECK(f.logText().find("reason=volume-limit") != std::string::npos);
  // A block of another class lets it through.
  f.judge.setVolumeBlocks({{mac.value, uint64_t{1} << kClassInternet}});
  v = f.send(tcpPacket("198.18.10.11", "198.18.1.10", 40002, 554), NF_INET_FORWARD, kSegmentIf,
             kUplinkIf, cam);
  CHECK((*v.mark & kAllowMask) == verdictMark(kGeneration, VerdictCode::kAllow));
  f.judge.setVolumeBlocks({});
}

TEST_CASE("a denied flow is marked reject and logged as one structured line") {
  Fixture f;
  auto v = f.send(tcpPacket("198.18.10.11", "203.0.113.10", 40001, 443), NF_INET_FORWARD, kSegmentIf,
                  kUplinkIf, "44:47:cc:00:00:11");
  CHECK(*v.mark == verdictMark(kGeneration, VerdictCode::kReject));
  CHECK(f.logText().find("event=deny device=lobby-cam mac=44:47:cc:00:00:11 profile=camera direction=egress "
                         "proto=tcp src=198.18.10.11:40001 dst=203.0.113.10:443 rule=otherwise action=reject") !=
        std::string::npos);
}

TEST_CASE("a reply-direction packet is judged as the flow its connection opened") {
  Fixture f;
  f.host.table = {NeighbourEntry{kSegmentIf, *IpAddress::parse("198.18.10.11"), *MacAddress::parse("44:47:cc:00:00:11")}};
  // NVR answering the camera: the packet goes NVR -> camera, but the flow is camera -> NVR:554.
  auto v = f.send(tcpPacket("198.18.1.10", "198.18.10.11", 554, 40000), NF_INET_FORWARD, kUplinkIf,
                  kSegmentIf, "aa:bb:cc:00:00:01", kHintReplyDirection);
  CHECK((*v.mark & kAllowMask) == verdictMark(kGeneration, VerdictCode::kAllow));
  // Without the hint the same packet is an inbound connection to port 40000: refused.
  auto w = f.send(tcpPacket("198.18.1.10", "198.18.10.11", 554, 40000), NF_INET_FORWARD, kUplinkIf,
                  kSegmentIf, "aa:bb:cc:00:00:01");
  CHECK(*w.mark == verdictMark(kGeneration, VerdictCode::kReject));
}

TEST_CASE("inbound flows find the device through the neighbour table, at most once a second") {
  Fixture f;
  f.host.table = {NeighbourEntry{kSegmentIf, *IpAddress::parse("198.18.10.11"), *MacAddress::parse("44:47:cc:00:00:11")},
                  NeighbourEntry{kUplinkIf, *IpAddress::parse("198.51.100.2"), *MacAddress::parse("aa:00:00:00:00:02")}};
  auto v = f.send(tcpPacket("198.18.1.10", "198.18.10.11", 40000, 554), NF_INET_FORWARD, kUplinkIf, kSegmentIf, nullptr);
  CHECK((*v.mark & kAllowMask) == verdictMark(kGeneration, VerdictCode::kAllow));
  CHECK(f.host.reads == 1);
  CHECK(f.judge.devices().size() == 1);  // the uplink neighbour is not a device
  // An address nobody has: the default profile refuses; a scan does not read the table per packet.
  for (int i = 0; i < 10; ++i) {
    auto w = f.send(tcpPacket("198.18.1.10", "198.18.10.77", 40000, 554), NF_INET_FORWARD, kUplinkIf, kSegmentIf, nullptr);
    CHECK(*w.mark == verdictMark(kGeneration, VerdictCode::kReject));
  }
  CHECK(f.host.reads == 1);
  f.clock.advance(std::chrono::seconds(2));
  f.send(tcpPacket("198.18.1.10", "198.18.10.78", 40000, 554), NF_INET_FORWARD, kUplinkIf, kSegmentIf, nullptr);
  CHECK(f.host.reads == 2);
}

TEST_CASE("connections to the box itself are judged by the gateway rules") {
  Fixture f;
  auto ssh = f.send(tcpPacket("198.18.10.99", "198.18.10.1", 40000, 22), NF_INET_LOCAL_IN, kSegmentIf, 0,
                    "02:5a:00:00:00:99");
  CHECK(*ssh.mark == verdictMark(kGeneration, VerdictCode::kReject));
  CHECK(f.logText().find("profile=quarantine direction=egress") != std::string::npos);
}

TEST_CASE("malformed packets are dropped and counted, never judged") {
  Fixture f;
  auto bytes = tcpPacket("198.18.10.11", "198.18.1.10", 40000, 554);
  bytes.resize(30);  // cut inside the TCP header
  auto v = f.send(bytes, NF_INET_FORWARD, kSegmentIf, kUplinkIf, "44:47:cc:00:00:11");
  CHECK(v.verdict == NF_DROP);
  CHECK_FALSE(v.mark.has_value());
  std::vector<uint8_t> garbage = {0x99, 0x01};
  CHECK(f.send(garbage, NF_INET_FORWARD, kSegmentIf, kUplinkIf, nullptr).verdict == NF_DROP);
  CHECK(f.send({}, NF_INET_FORWARD, kSegmentIf, kUplinkIf, nullptr).verdict == NF_DROP);
  CHECK(f.judge.counters().malformed == 3);
  CHECK(f.logText().find("event=malformed") != std::string::npos);
}

TEST_CASE("IPv6 flows are judged like IPv4") {
  Fixture f;
  auto v = f.send(tcpPacket("fd00:10::11", "fd00:1::10", 40000, 554), NF_INET_FORWARD, kSegmentIf, kUplinkIf,
                  "44:47:cc:00:00:11");
  CHECK((*v.mark & kAllowMask) == verdictMark(kGeneration, VerdictCode::kAllow));
  auto w = f.send(tcpPacket("fd00:10::11", "2001:db8:cafe::10", 40000, 443), NF_INET_FORWARD, kSegmentIf,
                  kUplinkIf, "44:47:cc:00:00:11");
  CHECK(*w.mark == verdictMark(kGeneration, VerdictCode::kReject));
  CHECK(f.logText().find("dst=[2001:db8:cafe::10]:443") != std::string::npos);
}

}  // namespace
}  // namespace muzzle
