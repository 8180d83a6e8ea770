// Judge and hostile devices: a packet from an address bound to another device is dropped and
// changes nothing, so the NVR's connection to the real camera is still judged as the camera's;
// a DHCP message cannot speak for another device; DHCP-driven reassignments are rate-limited;
// addresses move only by a lease from the box or when the owner is gone.
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

constexpr uint32_t kGen = 9;
constexpr const char* kCam = "44:47:cc:00:00:11";     // listed: camera
constexpr const char* kCam2 = "44:47:cc:00:00:12";    // Hikvision, unlisted: classified camera
constexpr const char* kGadget = "02:5a:00:00:00:99";  // unlisted: quarantine

using testing::dhcpMessage;

struct Fixture : testing::CameraJudge {
  Fixture() : CameraJudge(/*vendors=*/true) {
    oui.addCsv(testing::kHikvisionOui);
    setPolicy(testing::kCameraSitePolicy, kGen);
    judge.devices().bindings().setHold(seconds(600));
  }
  // A connection opened by a device on the segment.
  PacketVerdict fromDevice(const char* mac, const char* src, const char* dst, uint16_t dport,
                           bool udp = false) {
    bytes = udp ? testing::udpPacket(src, dst, 40000, dport)
                : testing::tcpPacket(src, dst, 40000, dport);
    return judge.onPacket(
        testing::queuedPacket(bytes, NF_INET_FORWARD, kSegmentIf, kUplinkIf, mac));
  }
  // The NVR (beyond the uplink) opening a connection to a device.
  PacketVerdict fromNvr(const char* nvr, const char* dst, uint16_t dport) {
    bytes = testing::tcpPacket(nvr, dst, 40000, dport);
    return judge.onPacket(
        testing::queuedPacket(bytes, NF_INET_FORWARD, kUplinkIf, kSegmentIf, "aa:00:00:00:00:01"));
  }
  PacketVerdict dhcpRequest(const char* frame_mac, const std::vector<uint8_t>& message) {
    bytes = testing::udpPacket("0.0.0.0", "255.255.255.255", 68, 67, message);
    return judge.onPacket(
        testing::queuedPacket(bytes, NF_INET_LOCAL_IN, kSegmentIf, 0, frame_mac, kHintDhcpRequest));
  }
  PacketVerdict dhcpAck(const char* chaddr, const char* yiaddr, uint32_t lease,
                        uint8_t hook = NF_INET_LOCAL_OUT) {
    // From the box's address on the output hook; a device forging one sends from its own.
    bytes =
        testing::udpPacket(hook == NF_INET_LOCAL_OUT ? "198.18.10.1" : "198.18.10.99",
                           "255.255.255.255", 67, 68, dhcpMessage(2, chaddr, 5, "", yiaddr, lease));
    const uint32_t indev = hook == NF_INET_LOCAL_OUT ? 0 : kSegmentIf;
    return judge.onPacket(testing::queuedPacket(bytes, hook, indev, kSegmentIf,
                                                hook == NF_INET_LOCAL_OUT ? nullptr : kGadget,
                                                kHintDhcpReply));
  }
  std::optional<MacAddress> owner(const char* address) {
    return judge.devices().bindings().ownerOf(*IpAddress::parse(address), 0);
  }
  const DeviceRecord& record(const char* mac) {
    return *judge.devices().find(*MacAddress::parse(mac));
  }
  size_t logCount(const std::string& needle) {
    log.flush();  // lines reach the file on the log's delivery thread
    const std::string text = out.text();
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
      ++n;
    return n;
  }

  std::vector<uint8_t> bytes;
};

const uint32_t kAllow = verdictMark(kGen, VerdictCode::kAllow);
const uint32_t kReject = verdictMark(kGen, VerdictCode::kReject);

void checkSpoofDropped(const PacketVerdict& v) {
  CHECK(v.verdict == NF_DROP);
  CHECK_FALSE(v.mark.has_value());  // no verdict lands in the conntrack entry of a spoofed tuple
}

TEST_CASE(
    "a spoofed source, allowed or rejected, is dropped and rebinds nothing; the NVR still reaches "
    "the camera as a camera") {
  for (const auto& [cam_ip, nvr_ip, gateway] :
       {std::tuple{"198.18.10.11", "198.18.1.10", "198.18.10.1"},
        std::tuple{"fd00:10::11", "fd00:1::10", "198.18.10.1"}}) {
    // A variable for CAPTURE (a lambda): clang before 16 cannot capture a binding.
    const char* const camera_address = cam_ip;
    CAPTURE(camera_address);
    Fixture f;
    CHECK((*f.fromDevice(kCam, cam_ip, nvr_ip, 554).mark & kAllowMask) == kAllow);
    const int64_t cam_seen = f.record(kCam).last_seen_unix;
    f.clock.advance(seconds(5));
    // The gadget uses the camera's address: towards the NVR (its profile would reject it) and
    // towards the gateway's DNS (its profile would allow that, IPv4 only).
    checkSpoofDropped(f.fromDevice(kGadget, cam_ip, nvr_ip, 554));
    if (!IpAddress::parse(cam_ip)->v6)
      checkSpoofDropped(f.fromDevice(kGadget, cam_ip, gateway, 53, /*udp=*/true));
    checkSpoofDropped(f.fromDevice(kGadget, cam_ip, "203.0.113.10", 443));
    CHECK(f.judge.counters().spoofed == (IpAddress::parse(cam_ip)->v6 ? 2u : 3u));
    CHECK(f.judge.counters().allowed == 1);
    CHECK(f.owner(cam_ip)->toString() == kCam);
    // Reported once for the pair, naming both devices.
    CHECK(f.logCount(std::string("event=spoof mac=") + kGadget + " claimed=" + cam_ip +
                     " owner=" + kCam) == 1);
    // The camera's record is untouched, and the gadget's lists no address of the camera's.
    CHECK(f.record(kCam).last_seen_unix == cam_seen);
    CHECK(f.record(kGadget).addresses.empty());
    CHECK(f.record(kGadget).profile == "quarantine");
    // The NVR's next connection to the camera's address is judged by the camera's inbound rules.
    CHECK((*f.fromNvr(nvr_ip, cam_ip, 554).mark & kAllowMask) == kAllow);
    CHECK((*f.fromDevice(kCam, cam_ip, nvr_ip, 554).mark & kAllowMask) == kAllow);
  }
}

TEST_CASE("the box's own address is no device's: using it is a spoof") {
  Fixture f;
  checkSpoofDropped(f.fromDevice(kGadget, "198.18.10.1", "203.0.113.10", 443));
  CHECK(f.logCount(std::string("event=spoof mac=") + kGadget + " claimed=198.18.10.1 owner=box") ==
        1);
  CHECK_FALSE(f.owner("198.18.10.1").has_value());
}

TEST_CASE(
    "an owner gone past the hold time lets a new device take the address, and the NVR follows it") {
  for (const char* cam_ip : {"198.18.10.11", "fd00:10::11"}) {
    // A variable for CAPTURE (a lambda): clang before 16 cannot capture a binding.
    const char* const camera_address = cam_ip;
    CAPTURE(camera_address);
    Fixture f;
    const bool v6 = IpAddress::parse(cam_ip)->v6;
    const char* nvr_ip = v6 ? "fd00:1::10" : "198.18.1.10";
    f.fromDevice(kCam, cam_ip, nvr_ip, 554);
    f.clock.advance(seconds(599));
    checkSpoofDropped(f.fromDevice(kGadget, cam_ip, nvr_ip, 554));
    f.clock.advance(seconds(2));  // quiet for 601 s, and the neighbour table does not show it
    auto v = f.fromDevice(kGadget, cam_ip, nvr_ip, 554);
    CHECK(v.verdict == NF_REPEAT);
    CHECK(*v.mark == kReject);  // judged as what it is: quarantine
    CHECK(f.owner(cam_ip)->toString() == kGadget);
    CHECK(f.logCount(std::string("event=address-moved ip=") + cam_ip + " from=" + kCam +
                     " to=" + kGadget + " why=owner-gone") == 1);
    CHECK(f.judge.counters().addresses_moved == 1);
    CHECK(f.record(kCam).addresses.empty());
    CHECK(f.record(kGadget).addresses.at(0).toString() == cam_ip);
    // The NVR's connection to that address now meets the gadget's (empty) inbound rules.
    CHECK(*f.fromNvr(nvr_ip, cam_ip, 554).mark == kReject);
    // And the camera coming back with that address is now the one refused.
    checkSpoofDropped(f.fromDevice(kCam, cam_ip, nvr_ip, 554));
  }
}

TEST_CASE(
    "a quiet owner the neighbour table confirms keeps its address; a poisoned entry moves "
    "nothing") {
  Fixture f;
  f.fromDevice(kCam, "198.18.10.11", "198.18.1.10", 554);
  f.clock.advance(seconds(900));  // one long flow: no queued packet for 15 minutes
  NeighbourEntry cam{kSegmentIf, *IpAddress::parse("198.18.10.11"), *MacAddress::parse(kCam), true};
  f.host.table = {cam};
  checkSpoofDropped(f.fromDevice(kGadget, "198.18.10.11", "198.18.1.10", 554));
  CHECK(f.host.reads == 1);
  CHECK(f.owner("198.18.10.11")->toString() == kCam);
  // The gadget poisons the box's ARP cache: the table now names it for the camera's address.
  f.host.table = {NeighbourEntry{kSegmentIf, *IpAddress::parse("198.18.10.11"),
                                 *MacAddress::parse(kGadget), true},
                  NeighbourEntry{kSegmentIf, *IpAddress::parse("198.18.10.77"),
                                 *MacAddress::parse(kCam2), false}};
  f.clock.advance(seconds(2));
  // An address nobody holds makes the judge read the table: it learns .77, not the poison.
  CHECK((*f.fromNvr("198.18.1.10", "198.18.10.77", 554).mark & kAllowMask) == kAllow);  // cam2: a camera by vendor
  CHECK(f.host.reads == 2);
  CHECK(f.owner("198.18.10.11")->toString() == kCam);
  CHECK(f.judge.devices().bindings().counters().neighbour_conflicts == 1);
  CHECK((*f.fromNvr("198.18.1.10", "198.18.10.11", 554).mark & kAllowMask) == kAllow);
}

TEST_CASE(
    "a lease from the box's DHCP server moves an address at once; a DHCP reply from a device does "
    "not") {
  Fixture f;
  f.fromDevice(kCam2, "198.18.10.50", "198.18.1.10", 554);
  CHECK(f.owner("198.18.10.50")->toString() == kCam2);
  f.fromDevice(kGadget, "198.18.10.99", "198.18.10.1", 53, true);
  // A forged ACK sent by a device on the segment (forward hook) teaches nothing.
  CHECK(f.dhcpAck(kGadget, "198.18.10.50", 3600, NF_INET_FORWARD).verdict == NF_ACCEPT);
  CHECK(f.owner("198.18.10.50")->toString() == kCam2);
  CHECK(f.judge.counters().dhcp_leases == 0);
  // The box's server leases the address to the gadget: it moves now, with an event.
  auto v = f.dhcpAck(kGadget, "198.18.10.50", 3600);
  CHECK(v.verdict == NF_ACCEPT);
  CHECK_FALSE(v.mark.has_value());
  CHECK(f.judge.counters().dhcp_leases == 1);
  CHECK(f.owner("198.18.10.50")->toString() == kGadget);
  CHECK(f.logCount(std::string("event=address-moved ip=198.18.10.50 from=") + kCam2 +
                   " to=" + kGadget + " why=lease") == 1);
  CHECK(f.record(kGadget).addresses.at(0).toString() == "198.18.10.50");
  CHECK(f.fromDevice(kGadget, "198.18.10.50", "198.18.10.1", 53, true).verdict == NF_REPEAT);
  checkSpoofDropped(f.fromDevice(kCam2, "198.18.10.50", "198.18.1.10", 554));
  // Offers and ACKs without a lease are read and ignored.
  f.bytes = testing::udpPacket("198.18.10.1", "255.255.255.255", 67, 68,
                               dhcpMessage(2, kCam2, 2, "", "198.18.10.50", 60));
  f.judge.onPacket(
      testing::queuedPacket(f.bytes, NF_INET_LOCAL_OUT, 0, kSegmentIf, nullptr, kHintDhcpReply));
  CHECK(f.owner("198.18.10.50")->toString() == kGadget);
}

TEST_CASE("a DHCP request whose chaddr is not the sender's changes nothing") {
  Fixture f;
  f.fromDevice(kCam2, "198.18.10.12", "198.18.1.10", 554);
  CHECK(f.record(kCam2).profile == "camera");
  auto v = f.dhcpRequest(kGadget, dhcpMessage(1, kCam2, 1, "ECOVACS-DEEBOT"));
  CHECK(v.verdict == NF_ACCEPT);
  CHECK(f.judge.counters().dhcp_mac_mismatch == 1);
  CHECK(f.judge.counters().reassigned == 0);
  CHECK(f.record(kCam2).profile == "camera");
  CHECK(f.record(kCam2).dhcp_hostname.empty());
  CHECK(f.logCount(std::string("event=dhcp-mac-mismatch mac=") + kGadget + " chaddr=" + kCam2) ==
        1);
  CHECK((*f.fromDevice(kCam2, "198.18.10.12", "198.18.1.10", 554).mark & kAllowMask) == kAllow);
  // Nor can it make up a device: no record for a chaddr nobody has seen.
  f.dhcpRequest(kGadget, dhcpMessage(1, "00:11:22:33:44:55", 1, "x"));
  CHECK(f.judge.devices().find(*MacAddress::parse("00:11:22:33:44:55")) == nullptr);
}

TEST_CASE("what a device says over DHCP moves its profile at most once a minute") {
  Fixture f;
  int rejudges = 0;
  f.judge.onReassigned([&] { ++rejudges; });
  f.fromDevice(kCam2, "198.18.10.12", "198.18.1.10", 554);
  f.dhcpRequest(kCam2, dhcpMessage(1, kCam2, 1, "ECOVACS-DEEBOT"));
  CHECK(f.record(kCam2).profile == "vacuum");
  CHECK(f.judge.counters().reassigned == 1);
  f.clock.advance(seconds(30));
  // Back to a camera name half a minute later: refused, reported, not learned.
  f.dhcpRequest(kCam2, dhcpMessage(1, kCam2, 1, "ipcam"));
  CHECK(f.record(kCam2).profile == "vacuum");
  CHECK(f.record(kCam2).dhcp_hostname == "ECOVACS-DEEBOT");
  CHECK(f.judge.counters().reassign_limited == 1);
  CHECK(f.logCount(std::string("event=device-reassign-limited mac=") + kCam2 +
                   " profile=vacuum wanted=camera") == 1);
  CHECK(rejudges == 1);
  // Facts that do not change the profile are still learned.
  f.dhcpRequest(kCam2, dhcpMessage(1, kCam2, 1, "ECOVACS-T8"));
  CHECK(f.record(kCam2).dhcp_hostname == "ECOVACS-T8");
  f.clock.advance(seconds(30));
  f.dhcpRequest(kCam2, dhcpMessage(1, kCam2, 1, "ipcam"));
  CHECK(f.record(kCam2).profile == "camera");
  CHECK(f.judge.counters().reassigned == 2);
  CHECK(rejudges == 2);
  CHECK(f.logCount("event=device-reassigned mac=44:47:cc:00:00:12") == 2);
}

}  // namespace
}  // namespace muzzle
