// DnsFlowTracker: only an answer to a question the device asked, on the same flow, is matched;
// TCP queries and answers are read from reassembled streams.
#include "fw/dns/dns_flow_tracker.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/unit/fw/dns/dns_test_messages.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using testing::cutAt;
using testing::dnsAnswerA;
using testing::dnsFramed;
using testing::dnsQuery;
using testing::SpelledAnswer;
using testing::spelledAnswer;

struct Answers : DnsAnswerSink {
  void onDnsAnswerRead(const DnsFlowKey&, DnsAnswerKind kind, DnsError error,
                       const DnsMessage& m) override {
    std::string what = kind == DnsAnswerKind::kMatched ? "matched"
                       : kind == DnsAnswerKind::kUnsolicited
                           ? "unsolicited"
                           : "malformed:" + std::string(dnsErrorName(error));
    if (kind != DnsAnswerKind::kMalformed) {
      what += " " + std::string(m.question.view());
      forEachBinding(m, [&](const DnsBinding& b) { what += " " + b.address.toString(); });
    }
    seen.push_back(what);
  }
  std::vector<std::string> seen;
};

DnsFlowKey flow(uint8_t protocol = 17, uint16_t port = 40000) {
  return testing::dnsFlow(protocol, 0x685400000031, port);
}

TEST_CASE("UDP: only the answer to the question asked is matched, once") {
  ManualClock clock;
  DnsFlowTracker t(clock);
  Answers a;
  t.onUdpAnswer(flow(), dnsAnswerA(1, "avs.voice.example", 30), a);  // nothing asked yet
  t.onUdpQuery(flow(), dnsQuery(1, "AVS.voice.example"));
  t.onUdpAnswer(flow(), dnsAnswerA(2, "avs.voice.example", 31), a);           // another ID
  t.onUdpAnswer(flow(), dnsAnswerA(1, "evil.voice.example", 32), a);          // another question
  t.onUdpAnswer(flow(17, 40001), dnsAnswerA(1, "avs.voice.example", 33), a);  // another flow
  auto bad = dnsAnswerA(1, "avs.voice.example", 34);
  bad[7] = 5;  // ANCOUNT lies: malformed, and it does not spend the question
  t.onUdpAnswer(flow(), bad, a);
  t.onUdpAnswer(flow(), dnsAnswerA(1, "avs.voice.example", 35), a);
  t.onUdpAnswer(flow(), dnsAnswerA(1, "avs.voice.example", 36), a);  // a second answer
  CHECK(a.seen == std::vector<std::string>{
                      "unsolicited avs.voice.example 203.0.113.30",
                      "unsolicited avs.voice.example 203.0.113.31",
                      "unsolicited evil.voice.example 203.0.113.32",
                      "unsolicited avs.voice.example 203.0.113.33",
                      "malformed:count-mismatch",
                      "matched avs.voice.example 203.0.113.35",
                      "unsolicited avs.voice.example 203.0.113.36",
                  });
  CHECK(t.counters().queries == 1);
  CHECK(t.counters().answers == 7);
  CHECK(t.counters().matched == 1);
  CHECK(t.counters().unsolicited == 5);
}

TEST_CASE("a query that is not one records nothing") {
  ManualClock clock;
  DnsFlowTracker t(clock);
  Answers a;
  t.onUdpQuery(flow(), dnsAnswerA(1, "avs.voice.example", 30));  // a "query" that is a response
  t.onUdpQuery(flow(), std::vector<uint8_t>{1, 2, 3});
  t.onUdpAnswer(flow(), dnsAnswerA(1, "avs.voice.example", 30), a);
  CHECK(a.seen == std::vector<std::string>{"unsolicited avs.voice.example 203.0.113.30"});
  CHECK(t.counters().queries_unreadable == 2);
  CHECK(t.questions().size() == 0);
}

struct Tcp {
  ManualClock clock;
  DnsFlowTracker tracker{clock};
  Answers answers;
  DnsFlowKey key = flow(6);
  uint32_t device_next = 0, server_next = 0;

  void open() {
    DnsTcpSegment s;
    s.syn = true;
    s.seq = 100;
    tracker.onTcpSegment(key, true, s, answers);
    s.seq = 7000;
    tracker.onTcpSegment(key, false, s, answers);
    device_next = 101;
    server_next = 7001;
  }
  void fromDevice(const std::vector<uint8_t>& bytes) { send(true, device_next, bytes); }
  void fromServer(const std::vector<uint8_t>& bytes) { send(false, server_next, bytes); }
  // The next segment one side sends: at its next sequence number, which it moves on.
  void send(bool from_device, uint32_t& next, const std::vector<uint8_t>& bytes) {
    DnsTcpSegment s;
    s.seq = next;
    s.payload = bytes;
    tracker.onTcpSegment(key, from_device, s, answers);
    next += uint32_t(bytes.size());
  }
};

TEST_CASE("TCP: a query and its answer, both split over segments, are matched") {
  Tcp t;
  t.open();
  for (const auto& s : cutAt(dnsFramed(dnsQuery(9, "long.voice.example")), {7})) t.fromDevice(s);
  for (const auto& s : cutAt(dnsFramed(dnsAnswerA(9, "long.voice.example", 44)), {1, 25}))
    t.fromServer(s);
  CHECK(t.answers.seen == std::vector<std::string>{"matched long.voice.example 203.0.113.44"});
}

TEST_CASE("TCP: a message spelled inside a record at a segment boundary is never read") {
  Tcp t;
  t.open();
  // The device asks both names, so the fake would even match a question if it were read.
  const SpelledAnswer bait = spelledAnswer();
  for (const auto& q : bait.questions) t.fromDevice(q);
  for (const auto& s : bait.segments) t.fromServer(s);
  t.fromServer(dnsFramed(dnsAnswerA(2, "avs.voice.example", 30)));
  CHECK(t.answers.seen ==
        std::vector<std::string>{"matched bait.example", "matched avs.voice.example 203.0.113.30"});
}

}  // namespace
}  // namespace muzzle
