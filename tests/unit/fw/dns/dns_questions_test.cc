// DnsQuestionTable: an answer counts only for the device, flow, ID and question that were asked,
// once, within the lifetime; the table is bounded per device and in all, oldest out, counted.
#include "fw/dns/dns_questions.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "tests/unit/fw/dns/dns_test_messages.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

DnsFlowKey flow(uint64_t mac = 0x685400000031, uint16_t port = 40000) {
  return testing::dnsFlow(17, mac, port);
}

DnsName name(std::string_view text) {
  DnsName n;
  for (char c : text) n.text[n.length++] = c;
  return n;
}

DnsQuestion question(uint16_t id, std::string_view qname, uint16_t qtype = kDnsTypeA) {
  DnsQuestion q;
  q.id = id;
  q.name = name(qname);
  q.qtype = qtype;
  q.qclass = 1;
  return q;
}

bool answers(DnsQuestionTable& t, const DnsFlowKey& f, uint16_t id, std::string_view qname,
             uint16_t qtype = kDnsTypeA, uint16_t qclass = 1) {
  return t.answer(f, id, name(qname), qtype, qclass);
}

TEST_CASE("an answer matches the device, flow, ID and question asked, once") {
  ManualClock clock;
  DnsQuestionTable t(clock);
  t.ask(flow(), question(7, "avs.voice.example"));
  CHECK(t.size() == 1);
  CHECK_FALSE(answers(t, flow(), 8, "avs.voice.example"));                       // another ID
  CHECK_FALSE(answers(t, flow(), 7, "evil.voice.example"));                      // another name
  CHECK_FALSE(answers(t, flow(), 7, "avs.voice.example", kDnsTypeAaaa));         // another type
  CHECK_FALSE(answers(t, flow(), 7, "avs.voice.example", kDnsTypeA, 3));         // another class
  CHECK_FALSE(answers(t, flow(0x685400000031, 40001), 7, "avs.voice.example"));  // another port
  CHECK_FALSE(answers(t, flow(0x685400000032), 7, "avs.voice.example"));         // another device
  DnsFlowKey tcp = flow();
  tcp.protocol = 6;
  CHECK_FALSE(answers(t, tcp, 7, "avs.voice.example"));  // the same ports over TCP
  CHECK(answers(t, flow(), 7, "avs.voice.example"));
  CHECK(t.size() == 0);
  CHECK(t.deviceCount() == 0);
  CHECK_FALSE(answers(t, flow(), 7, "avs.voice.example"));  // consumed: a second answer is not one
}

TEST_CASE("names compare as parsed: lowercase on both sides") {
  ManualClock clock;
  DnsQuestionTable t(clock);
  // parseDnsQuery and parseDnsMessage both lowercase, so 0x20-randomised case still matches.
  t.ask(flow(), question(1, "avs.voice.example"));
  CHECK(answers(t, flow(), 1, "avs.voice.example"));
}

TEST_CASE("a retransmitted query renews its question instead of adding one") {
  ManualClock clock;
  DnsQuestionTable t(clock);
  t.ask(flow(), question(1, "a.example"));
  clock.advance(std::chrono::seconds(8));
  t.ask(flow(), question(1, "a.example"));
  CHECK(t.size() == 1);
  clock.advance(std::chrono::seconds(8));  // 16 s after the first ask, 8 after the second
  CHECK(answers(t, flow(), 1, "a.example"));
}

TEST_CASE("a question expires after its lifetime: a late answer is unsolicited") {
  ManualClock clock;
  DnsQuestionTable t(clock);
  t.ask(flow(), question(1, "a.example"));
  t.ask(flow(), question(2, "b.example"));
  clock.advance(kDnsQuestionLifetime - std::chrono::milliseconds(1));
  CHECK(answers(t, flow(), 1, "a.example"));
  clock.advance(std::chrono::milliseconds(1));
  CHECK_FALSE(answers(t, flow(), 2, "b.example"));
  CHECK(t.expired() == 1);
  CHECK(t.size() == 0);
}

TEST_CASE("a device over its share pushes out only its own oldest questions") {
  ManualClock clock;
  DnsQuestionTable t(clock, DnsQuestionLimits{64, 4, kDnsQuestionLifetime});
  const DnsFlowKey other = flow(0x685400000032);
  t.ask(other, question(99, "other.example"));
  for (uint16_t id = 0; id < 10; ++id) t.ask(flow(), question(id, "flood.example"));
  CHECK(t.size() == 5);
  CHECK(t.evictions() == 6);
  CHECK_FALSE(answers(t, flow(), 5, "flood.example"));
  CHECK(answers(t, flow(), 6, "flood.example"));  // the 4 newest stay
  CHECK(answers(t, flow(), 9, "flood.example"));
  CHECK(answers(t, other, 99, "other.example"));
}

TEST_CASE("the table is bounded in all: the oldest question of anyone goes first, counted") {
  ManualClock clock;
  DnsQuestionTable t(clock);
  for (size_t i = 0; i < kDnsMaxQuestions + 10; ++i) {
    // A new device (MAC) for every question: the total bound is what holds.
    t.ask(flow(0x020000000000 + i), question(uint16_t(i), "many.example"));
  }
  CHECK(t.size() == kDnsMaxQuestions);
  CHECK(t.deviceCount() == kDnsMaxQuestions);
  CHECK(t.evictions() == 10);
  CHECK_FALSE(answers(t, flow(0x020000000000 + 9), 9, "many.example"));
  CHECK(answers(t, flow(0x020000000000 + 10), 10, "many.example"));
  const size_t last = kDnsMaxQuestions + 9;
  CHECK(answers(t, flow(0x020000000000 + last), uint16_t(last), "many.example"));
}

TEST_CASE("the per-device bound holds with the real constants") {
  ManualClock clock;
  DnsQuestionTable t(clock);
  for (uint16_t id = 0; id < 1000; ++id) t.ask(flow(), question(id, "flood.example"));
  CHECK(t.size() == kDnsMaxQuestionsPerDevice);
  CHECK(t.evictions() == 1000 - kDnsMaxQuestionsPerDevice);
}

}  // namespace
}  // namespace muzzle
