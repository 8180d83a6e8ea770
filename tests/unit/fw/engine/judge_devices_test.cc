// Judge and the device inventory: classification decides unlisted devices' profiles, a DHCP
// request is read and accepted at once, and a reclassification asks for a re-judge.
#include <doctest/doctest.h>
#include <linux/netfilter.h>

#include <cstdio>
#include <vector>

#include "fw/engine/judge.h"
#include "fw/nft/marks.h"
#include "fw/policy/policy_loader.h"
#include "tests/unit/fw/engine/test_support.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

constexpr const char* kPolicy = R"(
version: 1
addresses: {nvr: [198.18.1.10]}
profiles:
  camera: {egress: [{allow: [nvr], proto: tcp, ports: [554]}]}
  vacuum: {egress: [{allow: [203.0.113.20], proto: tcp, ports: [443]}]}
  quarantine: {}
classify:
  - {dhcp_hostname: "ECOVACS*", profile: vacuum}
  - {vendor: "Hangzhou Hikvision Digital Technology Co.,Ltd.", profile: camera}
)";

using testing::kSegmentIf;
using testing::kUplinkIf;

std::vector<uint8_t> ipv4Udp(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                             const std::vector<uint8_t>& payload) {
  return testing::udpPacket(src, dst, sport, dport, payload);
}

std::vector<uint8_t> tcpSyn(const char* src, const char* dst, uint16_t dport) {
  return testing::tcpPacket(src, dst, 40000, dport);
}

// A DHCPDISCOVER from `mac` naming itself `hostname`.
std::vector<uint8_t> dhcpDiscover(const char* mac, const std::string& hostname) {
  return testing::dhcpMessage(1, mac, 1, hostname);
}

struct Fixture : testing::CameraJudge {
  Fixture() : CameraJudge(/*vendors=*/true) {
    oui.addCsv(testing::kHikvisionOui);
    setPolicy(kPolicy, 5);
    judge.onReassigned([this] { ++reassigned; });
  }
  PacketVerdict send(const std::vector<uint8_t>& bytes, const char* mac, uint32_t mark = 0,
                     uint8_t hook = NF_INET_FORWARD) {
    return judge.onPacket(
        testing::queuedPacket(bytes, hook, kSegmentIf, hook == NF_INET_FORWARD ? kUplinkIf : 0, mac, mark));
  }

  int reassigned = 0;
};

TEST_CASE("an unlisted Hikvision camera is judged by the profile its vendor rule names") {
  Fixture f;
  auto v = f.send(tcpSyn("198.18.10.12", "198.18.1.10", 554), "44:47:cc:00:00:12");
  CHECK((*v.mark & kAllowMask) == verdictMark(5, VerdictCode::kAllow));
  const auto* rec = f.judge.devices().find(*MacAddress::parse("44:47:cc:00:00:12"));
  REQUIRE(rec != nullptr);
  CHECK(rec->profile == "camera");
  CHECK(rec->assignment == "classified");
  CHECK(rec->assigned_by == "classify[1]");
  CHECK(rec->allowed_flows == 1);
  // Any other vendor stays in the default profile.
  auto w = f.send(tcpSyn("198.18.10.30", "198.18.1.10", 554), "00:11:22:33:44:55");
  CHECK(*w.mark == verdictMark(5, VerdictCode::kReject));
  CHECK(f.logText().find("event=new-device mac=00:11:22:33:44:55 ip=198.18.10.30 segment=cameras "
                         "device=unlisted profile=quarantine assignment=default vendor=unknown") !=
        std::string::npos);
}

TEST_CASE("a DHCP request is accepted at once, learned, and a profile change asks for a re-judge") {
  Fixture f;
  const char* mac = "44:47:cc:00:00:12";
  f.send(tcpSyn("198.18.10.12", "198.18.1.10", 554), "44:47:cc:00:00:12");  // camera by vendor
  CHECK(f.reassigned == 0);
  auto dhcp = ipv4Udp("0.0.0.0", "255.255.255.255", 68, 67, dhcpDiscover(mac, "ECOVACS-DEEBOT"));
  auto v = f.send(dhcp, "44:47:cc:00:00:12", kHintDhcpRequest, NF_INET_LOCAL_IN);
  CHECK(v.verdict == NF_ACCEPT);
  CHECK_FALSE(v.mark.has_value());
  CHECK(f.reassigned == 1);
  CHECK(f.judge.counters().dhcp_requests == 1);
  CHECK(f.judge.counters().reassigned == 1);
  const auto* rec = f.judge.devices().find(*MacAddress::parse("44:47:cc:00:00:12"));
  CHECK(rec->profile == "vacuum");
  CHECK(rec->dhcp_hostname == "ECOVACS-DEEBOT");
  CHECK(f.logText().find("event=device-reassigned mac=44:47:cc:00:00:12 from=camera profile=vacuum") !=
        std::string::npos);
  // The same request again changes nothing: no second re-judge.
  f.send(dhcp, "44:47:cc:00:00:12", kHintDhcpRequest, NF_INET_LOCAL_IN);
  CHECK(f.reassigned == 1);
  // Its flows now follow the vacuum profile.
  CHECK(*f.send(tcpSyn("198.18.10.12", "198.18.1.10", 554), "44:47:cc:00:00:12").mark ==
        verdictMark(5, VerdictCode::kReject));
}

TEST_CASE("a malformed DHCP request is counted and still accepted") {
  Fixture f;
  const char* mac = "02:00:00:00:00:99";
  auto body = dhcpDiscover(mac, "x");
  body.resize(241);  // a code byte without its length
  body[240] = 12;
  auto v = f.send(ipv4Udp("0.0.0.0", "255.255.255.255", 68, 67, body), "02:00:00:00:00:99",
                  kHintDhcpRequest, NF_INET_LOCAL_IN);
  CHECK(v.verdict == NF_ACCEPT);
  CHECK(f.judge.counters().dhcp_malformed == 1);
  CHECK(f.logText().find("event=dhcp-malformed error=option_overrun") != std::string::npos);
}

}  // namespace
}  // namespace muzzle

namespace muzzle {
namespace MUZZLE_UNITY_ID {

// A DHCPREQUEST from `mac` announcing `mud_url` (option 161).
std::vector<uint8_t> dhcpWithMudUrl(const char* mac, const std::string& mud_url) {
  std::vector<uint8_t> m = testing::dhcpMessage(1, mac, 3, "cam");
  m.pop_back();  // the end option
  m.push_back(161), m.push_back(static_cast<uint8_t>(mud_url.size()));
  m.insert(m.end(), mud_url.begin(), mud_url.end());
  m.push_back(255);
  return m;
}

TEST_CASE("a new or changed MUD URL is reported to the hook, only while the policy fetches") {
  Fixture f;
  std::vector<std::pair<std::string, std::string>> seen;
  f.judge.onMudUrl([&](MacAddress mac, const std::string& url) {
    seen.emplace_back(mac.toString(), url);
  });
  const char* mac = "02:00:00:00:00:31";
  auto announce = [&](const std::string& url) {
    return f.send(ipv4Udp("0.0.0.0", "255.255.255.255", 68, 67, dhcpWithMudUrl(mac, url)), mac,
                  kHintDhcpRequest, NF_INET_LOCAL_IN);
  };
  announce("https://maker.example.com/a.json");  // the policy does not fetch
  CHECK(seen.empty());

  auto compiled = compilePolicyText(kPolicy, "policy.yaml", testing::cameraSite());
  REQUIRE(compiled.ok());
  auto fetching = std::make_shared<CompiledPolicy>(**compiled);
  fetching->mud.fetch = true;
  f.judge.setPolicy(fetching, 6);
  CHECK(announce("https://maker.example.com/a.json").verdict == NF_ACCEPT);
  CHECK(seen.empty());  // the record already had this URL
  announce("https://maker.example.com/b.json");
  REQUIRE(seen.size() == 1);
  CHECK(seen[0] == std::make_pair(std::string(mac), std::string("https://maker.example.com/b.json")));
  announce("https://maker.example.com/b.json");  // the same again: nothing new
  CHECK(seen.size() == 1);
  // A device seen first through its DHCP request is reported too.
  const char* other = "02:00:00:00:00:32";
  f.send(ipv4Udp("0.0.0.0", "255.255.255.255", 68, 67,
                 dhcpWithMudUrl(other, "https://maker.example.com/c.json")),
         other, kHintDhcpRequest, NF_INET_LOCAL_IN);
  REQUIRE(seen.size() == 2);
  CHECK(seen[1].first == other);
}

}  // namespace
}  // namespace muzzle
