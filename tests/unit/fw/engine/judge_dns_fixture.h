// The judge's DNS tests share this: a speaker on the camera segment whose policy allows names
// under *.voice.example, the gateway's resolver, and packets between them.
#pragma once

#include <doctest/doctest.h>
#include <linux/netfilter.h>

#include <cstdio>
#include <string>
#include <vector>

#include "fw/engine/judge.h"
#include "fw/nft/marks.h"
#include "fw/policy/policy_loader.h"
#include "tests/unit/fw/dns/dns_test_messages.h"
#include "tests/unit/fw/engine/test_support.h"

namespace muzzle::judge_dns {

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

inline std::vector<uint8_t> udp(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                                const std::vector<uint8_t>& payload) {
  return testing::udpPacket(src, dst, sport, dport, payload);
}

inline std::vector<uint8_t> tcp(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                                const std::vector<uint8_t>& payload = {}) {
  return testing::tcpPacket(src, dst, sport, dport, payload, testing::kTcpPshAck);
}

// The resolver's answer to the speaker's query 0x1234 for `name`: 203.0.113.`last`, TTL `ttl`.
inline std::vector<uint8_t> answer(const std::string& name, uint8_t last, uint32_t ttl) {
  return testing::dnsAnswerA(0x1234, name, last, ttl);
}

struct Fixture : testing::CameraJudge {
  Fixture() {
    setPolicy(kPolicy, kGeneration);
    // The speaker's query to the gateway: allowed, and teaches the judge the speaker's MAC.
    auto q = send(udp("198.18.10.31", "198.18.10.1", 40000, 53, {}), NF_INET_LOCAL_IN, kSegmentIf,
                  0, kSpeakerMac);
    REQUIRE((*q.mark & kAllowMask) == verdictMark(kGeneration, VerdictCode::kAllow));
  }
  // The speaker asks the gateway's resolver about `name` on its UDP flow from `port` (already
  // allowed in the kernel, so the ruleset hints kHintFlowAllowed).
  void ask(const std::string& name, uint16_t id = 0x1234, uint16_t port = 40000,
           uint16_t qtype = 1) {
    auto v = send(udp("198.18.10.31", "198.18.10.1", port, 53, testing::dnsQuery(id, name, qtype)),
                  NF_INET_LOCAL_IN, kSegmentIf, 0, kSpeakerMac, kHintDnsQuery | kHintFlowAllowed);
    REQUIRE(v.verdict == NF_ACCEPT);
    REQUIRE_FALSE(v.mark.has_value());
  }
  PacketVerdict send(const std::vector<uint8_t>& bytes, uint8_t hook, uint32_t indev,
                     uint32_t outdev, const char* mac, uint32_t mark = 0) {
    return judge.onPacket(testing::queuedPacket(bytes, hook, indev, outdev, mac, mark));
  }
  // The gateway's resolver answering the speaker: leaves through the output hook.
  PacketVerdict gatewayAnswers(const std::vector<uint8_t>& dns) {
    return send(udp("198.18.10.1", "198.18.10.31", 53, 40000, dns), NF_INET_LOCAL_OUT, 0,
                kSegmentIf, nullptr, kHintDnsAnswer | kHintReplyDirection);
  }
  PacketVerdict connect(const char* dst, uint16_t port = 443) {
    return send(tcp("198.18.10.31", dst, 41000, port), NF_INET_FORWARD, kSegmentIf, kUplinkIf,
                kSpeakerMac);
  }
};

}  // namespace muzzle::judge_dns
