// Judge and new-device admission (fw/device/device_admission.h): a device forging a new source
// MAC per flow gets the segment's burst of records and then nothing: its flows are dropped, not
// recorded, not logged one by one, and counted. Devices the inventory knows and devices the
// policy names (an operator's assignment is such an entry) are never held, and DHCP still
// reaches the lease server.
#include <doctest/doctest.h>
#include <linux/netfilter.h>

#include <string>
#include <vector>

#include "fw/engine/judge.h"
#include "fw/nft/marks.h"
#include "fw/policy/policy_loader.h"
#include "tests/unit/fw/engine/test_support.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using std::chrono::seconds;
using testing::kSegmentIf;
using testing::kUplinkIf;

constexpr uint32_t kGen = 4;
constexpr const char* kListedCam = "44:47:cc:00:00:11";  // lobby-cam in kCameraSitePolicy

JudgeLimits admitting(uint32_t per_minute, uint32_t burst) {
  JudgeLimits limits;
  limits.admission = {per_minute, burst};
  return limits;
}

// The forged MACs: Hikvision's prefix, which the policy classifies as a camera.
std::string forged(int i) {
  char text[18];
  std::snprintf(text, sizeof(text), "44:47:cc:77:%02x:%02x", (i >> 8) & 0xff, i & 0xff);
  return text;
}
std::string forgedIp(int i) { return "198.18.10." + std::to_string(100 + i); }

struct Fixture : testing::CameraJudge {
  // 6 a minute (one every 10 s) after 3 at once.
  Fixture() : CameraJudge(/*vendors=*/true, admitting(6, 3)) {
    oui.addCsv(testing::kHikvisionOui);
    setPolicy(testing::kCameraSitePolicy, kGen);
  }
  // A camera's stream to the NVR: what the policy's camera profile allows.
  PacketVerdict toNvr(const std::string& mac, const std::string& src) {
    bytes = testing::tcpPacket(src.c_str(), "198.18.1.10", 40000, 554);
    return judge.onPacket(
        testing::queuedPacket(bytes, NF_INET_FORWARD, kSegmentIf, kUplinkIf, mac.c_str()));
  }
  PacketVerdict dhcp(const std::string& mac, const char* src = "0.0.0.0") {
    bytes = testing::udpPacket(src, "255.255.255.255", 68, 67,
                               testing::dhcpMessage(1, mac.c_str(), 1, "cam"));
    return judge.onPacket(testing::queuedPacket(bytes, NF_INET_LOCAL_IN, kSegmentIf, 0, mac.c_str(),
                                                kHintDhcpRequest));
  }
  bool recorded(const std::string& mac) const {
    return judge.devices().find(*MacAddress::parse(mac)) != nullptr;
  }
  size_t linesOf(const std::string& text) {
    const std::string log = logText();
    size_t n = 0;
    for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
    return n;
  }
  std::vector<uint8_t> bytes;
};

bool allowed(const PacketVerdict& v) {
  return v.verdict == NF_REPEAT && v.mark &&
         (*v.mark & kAllowMask) == verdictMark(kGen, VerdictCode::kAllow);
}
bool droppedUnmarked(const PacketVerdict& v) { return v.verdict == NF_DROP && !v.mark; }

TEST_CASE("a forged MAC per flow: the burst becomes devices, the rest is dropped, unrecorded") {
  Fixture f;
  for (int i = 0; i < 40; ++i) {
    const PacketVerdict v = f.toNvr(forged(i), forgedIp(i));
    if (i < 3) {
      CHECK_MESSAGE(allowed(v), i);  // a classified camera: the burst's flows pass
    } else {
      CHECK_MESSAGE(droppedUnmarked(v), i);  // never allowed, no conntrack mark
    }
  }
  CHECK(f.judge.devices().size() == 3);
  CHECK(f.recorded(forged(2)));
  CHECK_FALSE(f.recorded(forged(3)));
  // Their addresses are bound to no one: the claim comes after admission.
  CHECK_FALSE(f.judge.devices().bindings().ownerOf(*IpAddress::parse(forgedIp(3)), 0));
  CHECK(f.judge.counters().new_devices == 3);
  CHECK(f.judge.counters().devices_refused == 37);
  CHECK(f.judge.counters().dropped == 37);
  CHECK(f.judge.admission().refused() == 37);
  const auto st = f.judge.admission().status();
  REQUIRE(st.size() == 1);
  CHECK(st[0].name == "cameras");
  CHECK(st[0].admitted == 3);
  CHECK(st[0].refused == 37);
  CHECK(st[0].tokens == 0);
  // One event per admitted device, none per refusal.
  CHECK(f.linesOf("event=new-device") == 3);
  CHECK(f.linesOf(forged(3)) == 0);

  // A refused device's retry 10 s later finds the token that refilled.
  f.clock.advance(seconds(10));
  CHECK(allowed(f.toNvr(forged(3), forgedIp(3))));
  CHECK(f.recorded(forged(3)));
  CHECK_FALSE(allowed(f.toNvr(forged(4), forgedIp(4))));
}

TEST_CASE("known and policy-named devices are never held; an operator's assignment lets one in") {
  Fixture f;
  CHECK(allowed(f.toNvr(forged(0), forgedIp(0))));  // known from here on
  for (int i = 1; i < 10; ++i) f.toNvr(forged(i), forgedIp(i));
  REQUIRE(f.judge.admission().status()[0].tokens == 0);
  // Known: its flows go on during the flood.
  CHECK(allowed(f.toNvr(forged(0), forgedIp(0))));
  // Named in the policy, never seen before: judged and recorded, the bucket empty.
  CHECK_FALSE(f.recorded(kListedCam));
  CHECK(allowed(f.toNvr(kListedCam, "198.18.10.11")));
  CHECK(f.recorded(kListedCam));
  CHECK(f.logText().find("event=new-device mac=44:47:cc:00:00:11") != std::string::npos);
  // A refused device an operator assigns (`muzzlectl device set`: an entry in the policy).
  const std::string refused = forged(9);
  CHECK_FALSE(f.recorded(refused));
  // The policy's `devices:` list comes before `classify:`: insert the entry there.
  std::string policy = testing::kCameraSitePolicy;
  const std::string entry = "  - {name: yard-cam, mac: \"" + refused + "\", profile: camera}\n";
  policy.insert(policy.find("classify:"), entry);
  f.setPolicy(policy.c_str(), kGen + 1);
  const PacketVerdict v = f.toNvr(refused, forgedIp(9));
  CHECK(v.verdict == NF_REPEAT);
  CHECK(f.recorded(refused));
  CHECK(f.judge.devices().find(*MacAddress::parse(refused))->assignment == "listed");
  // The policy swap kept the segment's bucket: still empty for everyone else.
  CHECK(droppedUnmarked(f.toNvr(forged(20), forgedIp(20))));
}

TEST_CASE("DHCP from a device not admitted still reaches the server, and records nothing") {
  Fixture f;
  for (int i = 0; i < 3; ++i) f.toNvr(forged(i), forgedIp(i));
  const uint64_t refused_before = f.judge.counters().devices_refused;
  // A DISCOVER (no address yet) and a renewal from an address: both accepted, neither recorded.
  PacketVerdict v = f.dhcp(forged(50));
  CHECK(v.verdict == NF_ACCEPT);
  CHECK_FALSE(v.mark.has_value());
  v = f.dhcp(forged(51), "198.18.10.151");
  CHECK(v.verdict == NF_ACCEPT);
  CHECK_FALSE(f.recorded(forged(50)));
  CHECK_FALSE(f.recorded(forged(51)));
  CHECK(f.judge.counters().devices_refused == refused_before + 2);
  CHECK(f.judge.counters().dhcp_requests == 2);
  CHECK(f.linesOf("event=new-device") == 3);
  // Admitted once a token refilled: the request then makes the record, with its fingerprint.
  f.clock.advance(seconds(10));
  CHECK(f.dhcp(forged(50)).verdict == NF_ACCEPT);
  REQUIRE(f.recorded(forged(50)));
  CHECK(f.judge.devices().find(*MacAddress::parse(forged(50)))->dhcp_hostname == "cam");
  // A named device's DHCP is never held.
  CHECK(f.dhcp(kListedCam).verdict == NF_ACCEPT);
  CHECK(f.recorded(kListedCam));
}

TEST_CASE("the neighbour table makes no record of a device not admitted, and counts no refusal") {
  Fixture f;
  for (int i = 0; i < 3; ++i) f.toNvr(forged(i), forgedIp(i));
  const uint64_t refused_before = f.judge.counters().devices_refused;
  // ARP requests to the box from forged MACs leave entries in its neighbour table.
  for (int i = 60; i < 70; ++i) {
    NeighbourEntry n;
    n.ifindex = kSegmentIf;
    n.ip = *IpAddress::parse(forgedIp(i));
    n.mac = *MacAddress::parse(forged(i));
    n.confirmed = true;
    f.host.table.push_back(n);
  }
  // The NVR opens a connection to one of those addresses: the table is read.
  f.bytes = testing::tcpPacket("198.18.1.10", forgedIp(60).c_str(), 40000, 554);
  f.judge.onPacket(
      testing::queuedPacket(f.bytes, NF_INET_FORWARD, kUplinkIf, kSegmentIf, "aa:00:00:00:00:01"));
  CHECK(f.host.reads == 1);
  CHECK(f.judge.devices().size() == 3);
  CHECK_FALSE(f.judge.devices().bindings().ownerOf(*IpAddress::parse(forgedIp(60)), 0));
  CHECK(f.judge.counters().devices_refused == refused_before);
  // With tokens again, the next read takes as many as there are.
  f.clock.advance(seconds(20));
  f.judge.onPacket(
      testing::queuedPacket(f.bytes, NF_INET_FORWARD, kUplinkIf, kSegmentIf, "aa:00:00:00:00:01"));
  CHECK(f.judge.devices().size() == 5);
}

TEST_CASE("refusals become one device-flood line per segment every few seconds, not one each") {
  Fixture f;
  for (int i = 0; i < 10; ++i) f.toNvr(forged(i), forgedIp(i));
  std::vector<LogLine> lines = f.judge.deviceFloodLines();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].text() ==
        "event=device-flood segment=cameras refused=7 new_devices_per_minute=6 burst=3 "
        "refused_total=7");
  for (int i = 10; i < 15; ++i) f.toNvr(forged(i), forgedIp(i));
  CHECK(f.judge.deviceFloodLines().empty());  // within kReportInterval of the last
  f.clock.advance(DeviceAdmission::kReportInterval);
  // A token refilled meanwhile? Not at 6 a minute: 5 s is half an interval.
  lines = f.judge.deviceFloodLines();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].text().find("refused=5 ") != std::string::npos);
  CHECK(lines[0].text().find("refused_total=12") != std::string::npos);
  CHECK(f.judge.deviceFloodLines(/*all=*/true).empty());  // nothing new
}

TEST_CASE("admission off (0 a minute): every new device is recorded, as before") {
  testing::CameraJudge f(/*vendors=*/false, admitting(0, 64));
  f.setPolicy(testing::kCameraSitePolicy, kGen);
  std::vector<uint8_t> bytes;
  for (int i = 0; i < 100; ++i) {
    bytes = testing::tcpPacket(forgedIp(i).c_str(), "198.18.1.10", 40000, 554);
    f.judge.onPacket(
        testing::queuedPacket(bytes, NF_INET_FORWARD, kSegmentIf, kUplinkIf, forged(i).c_str()));
  }
  CHECK(f.judge.devices().size() == 100);
  CHECK(f.judge.counters().devices_refused == 0);
  CHECK(f.judge.deviceFloodLines(true).empty());
}

}  // namespace MUZZLE_UNITY_ID
}  // namespace muzzle
