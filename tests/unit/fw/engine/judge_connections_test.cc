// The Judge and the connection limit as muzzled counts it (fw/device/connection_counts.h): an
// allowed verdict for a connection's first packet (kHintNewConnection) counts for its device on a
// segment; past the limit it becomes NF_DROP with no mark, counted. Flows judged again after a
// policy change, refused flows and flows from beyond the box never count, and never wait.
#include <doctest/doctest.h>
#include <linux/netfilter.h>

#include <string>
#include <vector>

#include "fw/engine/judge.h"
#include "fw/nft/marks.h"
#include "tests/unit/fw/engine/test_support.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using testing::kSegmentIf;
using testing::kUplinkIf;

constexpr uint32_t kGen = 4;
constexpr const char* kCam = "44:47:cc:00:00:11";  // lobby-cam: the camera profile
constexpr const char* kCamIp = "198.18.10.21";
constexpr const char* kOther = "02:00:00:00:00:33";  // an unnamed device: quarantine
constexpr const char* kOtherIp = "198.18.10.33";
constexpr const char* kRouter = "02:00:00:00:00:01";  // the uplink's router

JudgeLimits limitedTo(uint32_t connections) {
  JudgeLimits limits;
  limits.connections = connections;
  return limits;
}

struct Fixture : testing::CameraJudge {
  Fixture() : CameraJudge(/*vendors=*/false, limitedTo(3)) {
    setPolicy(testing::kCameraSitePolicy, kGen);
  }
  // The camera's stream to the NVR (allowed), from source port `port`.
  PacketVerdict toNvr(uint16_t port, uint32_t hint = kHintNewConnection) {
    bytes = testing::tcpPacket(kCamIp, "198.18.1.10", port, 554);
    return judge.onPacket(
        testing::queuedPacket(bytes, NF_INET_FORWARD, kSegmentIf, kUplinkIf, kCam, hint));
  }
  std::vector<uint8_t> bytes;
};

bool allowed(const PacketVerdict& v) {
  return v.verdict == NF_REPEAT && v.mark &&
         (*v.mark & kAllowMask) == verdictMark(kGen, VerdictCode::kAllow);
}
bool droppedUnmarked(const PacketVerdict& v) { return v.verdict == NF_DROP && !v.mark; }

TEST_CASE("a device's allowed new connections: the limit's worth, then NF_DROP, counted") {
  Fixture f;
  const MacAddress cam = *MacAddress::parse(kCam);
  for (uint16_t port = 40000; port < 40003; ++port) CHECK(allowed(f.toNvr(port)));
  CHECK(f.judge.connections().count(cam) == 3);
  const JudgeCounters before = f.judge.counters();
  CHECK(droppedUnmarked(f.toNvr(40003)));
  CHECK(droppedUnmarked(f.toNvr(40004)));
  CHECK(f.judge.counters().connection_limited == 2);
  CHECK(f.judge.counters().dropped == before.dropped + 2);
  CHECK(f.judge.counters().allowed == before.allowed);  // a refusal is no allowed verdict
  const auto refusals = f.judge.connections().refusals();
  REQUIRE(refusals.size() == 1);
  CHECK(refusals[0].device == cam);
  CHECK(refusals[0].refused == 2);
  // A recount that finds one closed gives its room back: one more connects.
  f.judge.connections().beginRecount();
  MacMap<uint32_t> live;
  live[cam.value] = 2;
  f.judge.connections().finishRecount(std::move(live));
  CHECK(allowed(f.toNvr(40005)));
  CHECK(droppedUnmarked(f.toNvr(40006)));
}

TEST_CASE("a refusal asks the owner for a recount, at most once a second") {
  Fixture f;
  int asked = 0;
  f.judge.onRecountWanted([&] { ++asked; });
  for (uint16_t port = 40000; port < 40003; ++port) CHECK(allowed(f.toNvr(port)));
  CHECK(asked == 0);
  for (uint16_t port = 40003; port < 40010; ++port) CHECK(droppedUnmarked(f.toNvr(port)));
  CHECK(asked == 1);
  f.clock.advance(std::chrono::seconds(1));
  CHECK(droppedUnmarked(f.toNvr(40010)));
  CHECK(asked == 2);
}

TEST_CASE("never counted: a flow judged again, a refused flow, a flow from beyond the box") {
  Fixture f;
  const MacAddress cam = *MacAddress::parse(kCam);
  for (uint16_t port = 40000; port < 40003; ++port) CHECK(allowed(f.toNvr(port)));
  // At its limit, the camera's open connections are judged again after a policy change (no
  // hint): allowed, as before, and not counted again.
  for (uint16_t port = 40000; port < 40003; ++port) CHECK(allowed(f.toNvr(port, 0)));
  CHECK(f.judge.connections().count(cam) == 3);
  // A refused flow holds no connection: refused as the policy says, not counted.
  f.bytes = testing::tcpPacket(kCamIp, "203.0.113.9", 40100, 443);
  const PacketVerdict refused = f.judge.onPacket(testing::queuedPacket(
      f.bytes, NF_INET_FORWARD, kSegmentIf, kUplinkIf, kCam, kHintNewConnection));
  CHECK(refused.verdict == NF_REPEAT);
  REQUIRE(refused.mark);
  CHECK((*refused.mark & kVerdictCodeBits) == static_cast<uint32_t>(VerdictCode::kReject));
  // The NVR's connection in to the camera comes from the uplink: its router's MAC counts nothing.
  f.bytes = testing::tcpPacket("198.18.1.10", kCamIp, 50000, 554);
  CHECK(allowed(f.judge.onPacket(testing::queuedPacket(f.bytes, NF_INET_FORWARD, kUplinkIf,
                                                       kSegmentIf, kRouter, kHintNewConnection))));
  CHECK(f.judge.connections().count(*MacAddress::parse(kRouter)) == 0);
  CHECK(f.judge.counters().connection_limited == 0);
}

TEST_CASE("another device on the segment has a count of its own; its DNS queries count too") {
  Fixture f;
  for (uint16_t port = 40000; port < 40004; ++port) f.toNvr(port);
  CHECK(f.judge.counters().connection_limited == 1);
  // The quarantined device's queries to the box: each a connection of its own (as the kernel's
  // count had them), the fourth refused.
  int passed = 0;
  for (uint16_t port = 50000; port < 50004; ++port) {
    f.bytes = testing::udpPacket(kOtherIp, "198.18.10.1", port, 53, {});
    const PacketVerdict v = f.judge.onPacket(testing::queuedPacket(
        f.bytes, NF_INET_LOCAL_IN, kSegmentIf, 0, kOther, kHintDnsQuery | kHintNewConnection));
    passed += allowed(v) ? 1 : 0;
  }
  CHECK(passed == 3);
  CHECK(f.judge.connections().count(*MacAddress::parse(kOther)) == 3);
  CHECK(f.judge.counters().connection_limited == 2);
}

TEST_CASE("off (no limit counted here): nothing counted, nothing refused") {
  testing::CameraJudge f;
  f.setPolicy(testing::kCameraSitePolicy, kGen);
  std::vector<uint8_t> bytes;
  for (uint16_t port = 40000; port < 42000; ++port) {
    bytes = testing::tcpPacket(kCamIp, "198.18.1.10", port, 554);
    CHECK(allowed(f.judge.onPacket(testing::queuedPacket(bytes, NF_INET_FORWARD, kSegmentIf,
                                                         kUplinkIf, kCam, kHintNewConnection))));
  }
  CHECK(f.judge.connections().count(*MacAddress::parse(kCam)) == 0);
  CHECK(f.judge.counters().connection_limited == 0);
}

}  // namespace MUZZLE_UNITY_ID
}  // namespace muzzle
