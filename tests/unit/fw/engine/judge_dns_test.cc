// Judge and DNS: answers to a device are learned before they pass, but only answers to questions
// the device asked on that flow; names decide later flows; malformed and unsolicited answers
// pass unlearned and are counted; DNS over TCP is learned from reassembled streams; TTLs expire
// on the (manual) clock.
#include <doctest/doctest.h>
#include <linux/netfilter.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/unit/fw/engine/judge_dns_fixture.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using namespace judge_dns;  // NOLINT: the fixture's names are this file's vocabulary

TEST_CASE("an answer from the box's resolver is learned, accepted, and allows the name") {
  Fixture f;
  CHECK(*f.connect("203.0.113.30").mark == verdictMark(kGeneration, VerdictCode::kReject));
  CHECK(f.logText().find("reason=no-dns") != std::string::npos);
  f.ask("avs.voice.example");
  auto a = f.gatewayAnswers(answer("avs.voice.example", 30, 60));
  CHECK(a.verdict == NF_ACCEPT);  // never NF_REPEAT: the answer rules precede the verdict rules
  CHECK_FALSE(a.mark.has_value());
  CHECK(f.judge.counters().dns_answers == 1);
  CHECK(f.judge.counters().dns_learned == 1);
  CHECK(f.judge.names().entryCount() == 1);
  CHECK((*f.connect("203.0.113.30").mark & kAllowMask) == verdictMark(kGeneration, VerdictCode::kAllow));
}

TEST_CASE("a sibling name is denied and the log line names it") {
  Fixture f;
  f.ask("voice.example");
  f.gatewayAnswers(answer("voice.example", 34, 60));
  CHECK(*f.connect("203.0.113.34").mark == verdictMark(kGeneration, VerdictCode::kReject));
  CHECK(f.logText().find("dst=203.0.113.34:443 rule=otherwise name=voice.example action=reject") != std::string::npos);
}

TEST_CASE("after TTL + grace, a reconnect without a new lookup is denied") {
  Fixture f;
  f.ask("short.voice.example");
  f.gatewayAnswers(answer("short.voice.example", 35, 1));
  CHECK((*f.connect("203.0.113.35").mark & kAllowMask) == verdictMark(kGeneration, VerdictCode::kAllow));
  f.clock.advance(std::chrono::milliseconds(2900));  // inside 1 s + 2 s grace
  CHECK((*f.connect("203.0.113.35").mark & kAllowMask) == verdictMark(kGeneration, VerdictCode::kAllow));
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

TEST_CASE("a malformed answer does not spend the question: the real answer is still learned") {
  Fixture f;
  f.ask("avs.voice.example");
  auto bad = answer("avs.voice.example", 66, 60);
  bad[7] = 9;
  f.gatewayAnswers(bad);
  f.gatewayAnswers(answer("avs.voice.example", 30, 60));
  CHECK(f.judge.counters().dns_learned == 1);
  CHECK((*f.connect("203.0.113.30").mark & kAllowMask) == verdictMark(kGeneration, VerdictCode::kAllow));
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

TEST_CASE("DNS to another resolver is refused as dns-bypass") {
  Fixture f;
  auto v = f.send(udp("198.18.10.31", "198.51.100.2", 40002, 53, {}), NF_INET_FORWARD, kSegmentIf, kUplinkIf, kSpeakerMac);
  CHECK(*v.mark == verdictMark(kGeneration, VerdictCode::kReject));
  CHECK(f.logText().find("reason=dns-bypass") != std::string::npos);
  CHECK(f.judge.counters().dns_bypass == 1);
}

TEST_CASE("HTTPS to a DoH resolver: the policy's list decides, in either direction of the packet") {
  // No hint from the kernel (the table has no DoH set since 2026-12-07): the Judge's policy holds
  // the list, and a new policy brings its new list with it.
  testing::TempDir dir("muzzle-judge-doh");
  const auto withList = [&dir](const char* list) {
    std::ofstream(dir.path + "/doh.txt") << list;
    std::string text = kPolicy;
    const std::string dns = "ttl_grace_seconds: 2}";
    text.replace(text.find(dns), dns.size(), "ttl_grace_seconds: 2, doh_list: doh.txt}");
    auto p = compilePolicyText(text, dir.path + "/policy.yaml", testing::cameraSite());
    REQUIRE_MESSAGE(p.ok(), p.status().message());
    return *p;
  };
  Fixture f;
  f.judge.setPolicy(withList("203.0.113.53\n"), kGeneration);
  f.ask("doh.voice.example");
  f.gatewayAnswers(answer("doh.voice.example", 53, 60));
  f.ask("avs.voice.example");
  f.gatewayAnswers(answer("avs.voice.example", 30, 60));
  const uint32_t refused = verdictMark(kGeneration, VerdictCode::kReject);
  const uint32_t allowed = verdictMark(kGeneration, VerdictCode::kAllow);
  // The first packet of the flow, from the speaker; and a packet the resolver sends on it, the
  // first one judged after a policy change (the ruleset hints its direction).
  const auto opened = [&f](const char* dst) {
    return f.send(tcp("198.18.10.31", dst, 41001, 443), NF_INET_FORWARD, kSegmentIf, kUplinkIf,
                  kSpeakerMac);
  };
  const auto reply = [&f](const char* src) {
    return f.send(tcp(src, "198.18.10.31", 443, 41001), NF_INET_FORWARD, kUplinkIf, kSegmentIf,
                  "aa:bb:cc:00:00:01", kHintReplyDirection);
  };
  CHECK(*opened("203.0.113.53").mark == refused);  // listed, whatever name it has
  CHECK(*reply("203.0.113.53").mark == refused);
  CHECK(f.judge.counters().dns_bypass == 2);
  CHECK((*opened("203.0.113.30").mark & kAllowMask) == allowed);  // not listed: the rules allow
  CHECK((*reply("203.0.113.30").mark & kAllowMask) == allowed);
  CHECK(f.logText().find("dst=203.0.113.53:443") != std::string::npos);
  // A new list with the new policy: the verdicts follow it.
  f.judge.setPolicy(withList("203.0.113.30\n"), kGeneration);
  CHECK((*opened("203.0.113.53").mark & kAllowMask) == allowed);
  CHECK(*opened("203.0.113.30").mark == refused);
  CHECK(*reply("203.0.113.30").mark == refused);
  CHECK(f.judge.counters().dns_bypass == 4);
}

}  // namespace
}  // namespace muzzle
