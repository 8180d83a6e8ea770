// Judge and DNS: answers to a device are learned before they pass, names decide later flows,
// malformed answers pass unlearned and are counted, TTLs expire on the (manual) clock.
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
namespace {

constexpr uint32_t kGeneration = 9;
constexpr const char* kSpeakerMac = "68:54:fd:00:00:31";

constexpr const char* kPolicy = R"(
version: 1
profiles:
  speaker:
    egress:
      - {allow: ["*.voice.example"], proto: tcp, ports: [443]}
      - {allow: [gateway], proto: udp, ports: [53]}
      - {allow: [gateway], proto: tcp, ports: [53]}
  quarantine: {}
devices:
  - {name: speaker, mac: "68:54:fd:00:00:31", profile: speaker}
dns: {resolvers: [gateway], ttl_grace_seconds: 2}
)";

using testing::FakeHost;
using testing::kSegmentIf;
using testing::kUplinkIf;

std::vector<uint8_t> udp(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                         const std::vector<uint8_t>& payload) {
  return testing::udpPacket(src, dst, sport, dport, payload);
}

std::vector<uint8_t> tcp(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                         const std::vector<uint8_t>& payload = {}) {
  return testing::tcpPacket(src, dst, sport, dport, payload, testing::kTcpPshAck);
}

// A response for `name` (A, TTL `ttl`) pointing at 203.0.113.`last`.
std::vector<uint8_t> answer(const std::string& name, uint8_t last, uint32_t ttl) {
  std::vector<uint8_t> m = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0};
  size_t start = 0;
  for (size_t dot = 0; dot <= name.size(); ++dot) {
    if (dot == name.size() || name[dot] == '.') {
      m.push_back(uint8_t(dot - start));
      m.insert(m.end(), name.begin() + long(start), name.begin() + long(dot));
      start = dot + 1;
    }
  }
  m.insert(m.end(), {0, 0, 1, 0, 1, 0xC0, 12, 0, 1, 0, 1, uint8_t(ttl >> 24), uint8_t(ttl >> 16),
                     uint8_t(ttl >> 8), uint8_t(ttl), 0, 4, 203, 0, 113, last});
  return m;
}

struct Fixture {
  Fixture() : log(out.get(), clock), judge(log, clock, host) {
    auto p = compilePolicyText(kPolicy, "policy.yaml", testing::cameraSite());
    REQUIRE_MESSAGE(p.ok(), p.status().message());
    judge.setPolicy(*p, kGeneration);
    // The speaker's query to the gateway: allowed, and teaches the judge the speaker's MAC.
    auto q = send(udp("198.18.10.31", "198.18.10.1", 40000, 53, {}), NF_INET_LOCAL_IN, kSegmentIf, 0, kSpeakerMac);
    REQUIRE(*q.mark == verdictMark(kGeneration, VerdictCode::kAllow));
  }
  std::string logText() {
    log.flush();  // lines reach the file on the log's delivery thread
    return out.text();
  }
  PacketVerdict send(const std::vector<uint8_t>& bytes, uint8_t hook, uint32_t indev, uint32_t outdev,
                     const char* mac, uint32_t mark = 0) {
    return judge.onPacket(testing::queuedPacket(bytes, hook, indev, outdev, mac, mark));
  }
  // The gateway's resolver answering the speaker: leaves through the output hook.
  PacketVerdict gatewayAnswers(const std::vector<uint8_t>& dns) {
    return send(udp("198.18.10.1", "198.18.10.31", 53, 40000, dns), NF_INET_LOCAL_OUT, 0, kSegmentIf,
                nullptr, kHintDnsAnswer | kHintReplyDirection);
  }
  PacketVerdict connect(const char* dst, uint16_t port = 443) {
    return send(tcp("198.18.10.31", dst, 41000, port), NF_INET_FORWARD, kSegmentIf, kUplinkIf, kSpeakerMac);
  }

  testing::MemoryFile out;
  ManualClock clock;
  FakeHost host;
  EventLog log;
  Judge judge;
};

TEST_CASE("an answer from the box's resolver is learned, accepted, and allows the name") {
  Fixture f;
  CHECK(*f.connect("203.0.113.30").mark == verdictMark(kGeneration, VerdictCode::kReject));
  CHECK(f.logText().find("reason=no-dns") != std::string::npos);
  auto a = f.gatewayAnswers(answer("avs.voice.example", 30, 60));
  CHECK(a.verdict == NF_ACCEPT);  // never NF_REPEAT: the answer rules precede the verdict rules
  CHECK_FALSE(a.mark.has_value());
  CHECK(f.judge.counters().dns_answers == 1);
  CHECK(f.judge.counters().dns_learned == 1);
  CHECK(f.judge.names().entryCount() == 1);
  CHECK(*f.connect("203.0.113.30").mark == verdictMark(kGeneration, VerdictCode::kAllow));
}

TEST_CASE("a sibling name is denied and the log line names it") {
  Fixture f;
  f.gatewayAnswers(answer("voice.example", 34, 60));
  CHECK(*f.connect("203.0.113.34").mark == verdictMark(kGeneration, VerdictCode::kReject));
  CHECK(f.logText().find("dst=203.0.113.34:443 rule=otherwise name=voice.example action=reject") != std::string::npos);
}

TEST_CASE("after TTL + grace, a reconnect without a new lookup is denied") {
  Fixture f;
  f.gatewayAnswers(answer("short.voice.example", 35, 1));
  CHECK(*f.connect("203.0.113.35").mark == verdictMark(kGeneration, VerdictCode::kAllow));
  f.clock.advance(std::chrono::milliseconds(2900));  // inside 1 s + 2 s grace
  CHECK(*f.connect("203.0.113.35").mark == verdictMark(kGeneration, VerdictCode::kAllow));
  f.clock.advance(std::chrono::milliseconds(200));
  CHECK(*f.connect("203.0.113.35").mark == verdictMark(kGeneration, VerdictCode::kReject));
}

TEST_CASE("a malformed answer passes unlearned and is counted") {
  Fixture f;
  auto bad = answer("avs.voice.example", 30, 60);
  bad[7] = 9;  // ANCOUNT 9, one record present
  CHECK(f.gatewayAnswers(bad).verdict == NF_ACCEPT);
  CHECK(f.judge.counters().dns_malformed == 1);
  CHECK(f.judge.counters().dns_malformed_by_error[static_cast<size_t>(DnsError::kCountMismatch)] == 1);
  CHECK(f.judge.names().entryCount() == 0);
  CHECK(f.logText().find("event=dns-malformed error=count-mismatch") != std::string::npos);
  CHECK(f.gatewayAnswers({}).verdict == NF_ACCEPT);  // an empty datagram
}

TEST_CASE("TCP answers: framed messages are learned, bare segments pass") {
  Fixture f;
  auto dns = answer("tcp.voice.example", 36, 60);
  std::vector<uint8_t> framed = {uint8_t(dns.size() >> 8), uint8_t(dns.size())};
  framed.insert(framed.end(), dns.begin(), dns.end());
  const uint32_t hint = kHintDnsAnswer | kHintReplyDirection;
  CHECK(f.send(tcp("198.18.10.1", "198.18.10.31", 53, 40001), NF_INET_LOCAL_OUT, 0, kSegmentIf, nullptr, hint).verdict == NF_ACCEPT);
  CHECK(f.send(tcp("198.18.10.1", "198.18.10.31", 53, 40001, framed), NF_INET_LOCAL_OUT, 0, kSegmentIf, nullptr, hint).verdict == NF_ACCEPT);
  CHECK(f.judge.counters().dns_learned == 1);
  CHECK(*f.connect("203.0.113.36").mark == verdictMark(kGeneration, VerdictCode::kAllow));
}

TEST_CASE("answers on flows the device may not have are dropped and teach nothing") {
  Fixture f;
  // Not a reply: a packet from port 53 that would open an inbound flow to the speaker.
  auto v = f.send(udp("198.51.100.2", "198.18.10.31", 53, 40000, answer("avs.voice.example", 30, 60)),
                  NF_INET_FORWARD, kUplinkIf, kSegmentIf, "aa:bb:cc:00:00:01", kHintDnsAnswer);
  CHECK(v.verdict == NF_DROP);
  CHECK(f.judge.counters().dns_answers_dropped == 1);
  CHECK(f.judge.names().entryCount() == 0);
}

TEST_CASE("DNS to another resolver and DoH destinations are refused as dns-bypass") {
  Fixture f;
  auto v = f.send(udp("198.18.10.31", "198.51.100.2", 40002, 53, {}), NF_INET_FORWARD, kSegmentIf, kUplinkIf, kSpeakerMac);
  CHECK(*v.mark == verdictMark(kGeneration, VerdictCode::kReject));
  CHECK(f.logText().find("reason=dns-bypass") != std::string::npos);
  f.gatewayAnswers(answer("doh.voice.example", 53, 60));
  v = f.send(tcp("198.18.10.31", "203.0.113.53", 41001, 443), NF_INET_FORWARD, kSegmentIf, kUplinkIf,
             kSpeakerMac, kHintDohDestination);
  CHECK(*v.mark == verdictMark(kGeneration, VerdictCode::kReject));
  CHECK(f.judge.counters().dns_bypass == 2);
}

}  // namespace
}  // namespace muzzle
