// Judge and DNS questions: a device's queries are read on every packet (judged like any packet
// when their flow is undecided), and an answer teaches names only when it answers a question
// the device asked on that flow, once. Over TCP, both directions are reassembled, so segment
// boundaries can neither hide a real answer nor forge one.
#include <doctest/doctest.h>
#include <linux/netfilter.h>

#include <string>
#include <vector>

#include "tests/unit/fw/engine/judge_dns_fixture.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using namespace judge_dns;  // NOLINT: the fixture's names are this file's vocabulary
using testing::concat;
using testing::dnsAnswerA;
using testing::dnsFramed;
using testing::dnsQuery;
using testing::slice;

const uint32_t kAllow = verdictMark(kGeneration, VerdictCode::kAllow);
const uint32_t kReject = verdictMark(kGeneration, VerdictCode::kReject);

TEST_CASE("an answer to no question passes, teaches nothing, and is counted and logged") {
  Fixture f;
  auto v = f.gatewayAnswers(answer("avs.voice.example", 30, 60));
  CHECK(v.verdict == NF_ACCEPT);
  CHECK(f.judge.counters().dns_unsolicited == 1);
  CHECK(f.judge.counters().dns_learned == 0);
  CHECK(f.judge.names().entryCount() == 0);
  CHECK(
      f.logText().find("event=dns-unsolicited mac=68:54:fd:00:00:31 id=4660 name=avs.voice.example "
                       "src=198.18.10.1:53") != std::string::npos);
  CHECK(*f.connect("203.0.113.30").mark == kReject);
}

TEST_CASE("an answer with another ID, question or flow teaches nothing") {
  Fixture f;
  f.ask("avs.voice.example", 0x1234);
  f.gatewayAnswers(dnsAnswerA(0x1235, "avs.voice.example", 30));   // another ID
  f.gatewayAnswers(dnsAnswerA(0x1234, "evil.voice.example", 31));  // another name
  auto other_type = dnsAnswerA(0x1234, "avs.voice.example", 32);
  other_type[other_type.size() - 19] = 28;  // the question's type: AAAA, not the A asked
  f.gatewayAnswers(other_type);
  // The right ID and question, to another port of the speaker.
  f.send(udp("198.18.10.1", "198.18.10.31", 53, 40009, dnsAnswerA(0x1234, "avs.voice.example", 33)),
         NF_INET_LOCAL_OUT, 0, kSegmentIf, nullptr, kHintDnsAnswer | kHintReplyDirection);
  CHECK(f.judge.counters().dns_unsolicited == 4);
  CHECK(f.judge.names().entryCount() == 0);
  for (const char* ip : {"203.0.113.30", "203.0.113.31", "203.0.113.32", "203.0.113.33"}) {
    CHECK(*f.connect(ip).mark == kReject);
  }
}

TEST_CASE("one answer per question: a second answer teaches nothing") {
  Fixture f;
  f.ask("avs.voice.example");
  f.gatewayAnswers(answer("avs.voice.example", 30, 60));
  f.gatewayAnswers(answer("avs.voice.example", 66, 60));
  CHECK(f.judge.counters().dns_learned == 1);
  CHECK(f.judge.counters().dns_unsolicited == 1);
  CHECK((*f.connect("203.0.113.30").mark & kAllowMask) == kAllow);
  CHECK(*f.connect("203.0.113.66").mark == kReject);
}

TEST_CASE("a query on an undecided flow is judged like a first packet, and its question read") {
  Fixture f;
  // kHintDnsQuery alone: the ruleset found no verdict for the flow. NF_REPEAT with the verdict
  // mark, which the packet mark's verdict map acts on before dns-query could queue it again.
  auto v = f.send(udp("198.18.10.31", "198.18.10.1", 40100, 53, dnsQuery(7, "avs.voice.example")),
                  NF_INET_LOCAL_IN, kSegmentIf, 0, kSpeakerMac, kHintDnsQuery);
  CHECK(v.verdict == NF_REPEAT);
  CHECK((*v.mark & kAllowMask) == kAllow);
  CHECK(f.judge.dnsFlows().questions().size() == 1);
  f.send(udp("198.18.10.1", "198.18.10.31", 53, 40100, dnsAnswerA(7, "avs.voice.example", 30)),
         NF_INET_LOCAL_OUT, 0, kSegmentIf, nullptr, kHintDnsAnswer | kHintReplyDirection);
  CHECK((*f.connect("203.0.113.30").mark & kAllowMask) == kAllow);
}

TEST_CASE("an answer on a flow the kernel allows is read without judging the flow again") {
  Fixture f;
  // kHintFlowAllowed with kHintDnsAnswer: the conntrack mark allows the query's flow under this
  // generation (dns-answer rule 3). The answer is read as any: learned when it answers the
  // question asked, unlearned (and still passed) when it answers nothing.
  const uint32_t hint = kHintDnsAnswer | kHintReplyDirection | kHintFlowAllowed;
  f.send(udp("198.18.10.31", "198.18.10.1", 40300, 53, dnsQuery(9, "avs.voice.example")),
         NF_INET_LOCAL_IN, kSegmentIf, 0, kSpeakerMac, kHintDnsQuery | kHintFlowAllowed);
  const uint64_t judged = f.judge.counters().allowed;
  auto v = f.send(udp("198.18.10.1", "198.18.10.31", 53, 40300, dnsAnswerA(9, "avs.voice.example", 34)),
                  NF_INET_LOCAL_OUT, 0, kSegmentIf, nullptr, hint);
  CHECK(v.verdict == NF_ACCEPT);
  CHECK_FALSE(v.mark.has_value());
  CHECK(f.judge.counters().allowed == judged);  // no verdict counted: the flow was not judged
  CHECK(f.judge.counters().dns_answers == 1);
  CHECK(f.judge.counters().dns_answers_read_only == 1);
  CHECK(f.judge.counters().dns_learned == 1);
  CHECK((*f.connect("203.0.113.34").mark & kAllowMask) == kAllow);
  // The same answer again, and one to a question never asked: nothing learned, both pass.
  f.send(udp("198.18.10.1", "198.18.10.31", 53, 40300, dnsAnswerA(9, "avs.voice.example", 35)),
         NF_INET_LOCAL_OUT, 0, kSegmentIf, nullptr, hint);
  v = f.send(udp("198.18.10.1", "198.18.10.31", 53, 40301, dnsAnswerA(10, "avs.voice.example", 36)),
             NF_INET_LOCAL_OUT, 0, kSegmentIf, nullptr, hint);
  CHECK(v.verdict == NF_ACCEPT);
  CHECK(f.judge.counters().dns_unsolicited == 2);
  CHECK(f.judge.counters().dns_learned == 1);
  CHECK(*f.connect("203.0.113.35").mark == kReject);
  CHECK(*f.connect("203.0.113.36").mark == kReject);
}

TEST_CASE("a denied query is refused as before and asks nothing") {
  Fixture f;
  auto v = f.send(udp("198.18.10.31", "198.51.100.2", 40200, 53, dnsQuery(8, "avs.voice.example")),
                  NF_INET_FORWARD, kSegmentIf, kUplinkIf, kSpeakerMac, kHintDnsQuery);
  CHECK(v.verdict == NF_REPEAT);
  CHECK(*v.mark == kReject);
  CHECK(f.judge.dnsFlows().questions().size() == 0);
  CHECK(f.logText().find("reason=dns-bypass") != std::string::npos);
}

// The speaker's TCP connection to the gateway's resolver, both directions followed by sequence.
struct TcpDns {
  Fixture& f;
  uint16_t port = 41053;
  uint32_t device_next = 101, server_next = 7001;

  void open() {
    auto syn =
        f.send(testing::tcpSegment("198.18.10.31", "198.18.10.1", port, 53, 100, testing::kTcpSyn),
               NF_INET_LOCAL_IN, kSegmentIf, 0, kSpeakerMac, kHintDnsQuery);
    REQUIRE((*syn.mark & kAllowMask) == kAllow);
    auto syn_ack = serverAt(7000, testing::kTcpSynAck, {});
    REQUIRE(syn_ack.verdict == NF_ACCEPT);
  }
  PacketVerdict fromDevice(const std::vector<uint8_t>& bytes) {
    auto v = f.send(testing::tcpSegment("198.18.10.31", "198.18.10.1", port, 53, device_next,
                                        testing::kTcpPshAck, bytes),
                    NF_INET_LOCAL_IN, kSegmentIf, 0, kSpeakerMac, kHintDnsQuery | kHintFlowAllowed);
    device_next += uint32_t(bytes.size());
    return v;
  }
  PacketVerdict serverAt(uint32_t seq, uint8_t flags, const std::vector<uint8_t>& bytes) {
    return f.send(testing::tcpSegment("198.18.10.1", "198.18.10.31", 53, port, seq, flags, bytes),
                  NF_INET_LOCAL_OUT, 0, kSegmentIf, nullptr, kHintDnsAnswer | kHintReplyDirection);
  }
  PacketVerdict fromServer(const std::vector<uint8_t>& bytes) {
    auto v = serverAt(server_next, testing::kTcpPshAck, bytes);
    server_next += uint32_t(bytes.size());
    return v;
  }
};

TEST_CASE("TCP: a segment boundary cannot make a message out of the inside of an answer") {
  Fixture f;
  TcpDns t{f};
  t.open();
  // The resolver's answer spells "avs.voice.example is 203.0.113.66" and is cut where the
  // spelling starts (spelledAnswer); per-segment parsing read it as a message.
  const testing::SpelledAnswer bait = testing::spelledAnswer();
  for (const auto& q : bait.questions) t.fromDevice(q);
  CHECK(t.fromServer(bait.segments[0]).verdict == NF_ACCEPT);
  CHECK(t.fromServer(bait.segments[1]).verdict == NF_ACCEPT);
  CHECK(*f.connect("203.0.113.66").mark == kReject);
  // The resolver's real answer to the second question is learned.
  t.fromServer(dnsFramed(dnsAnswerA(2, "avs.voice.example", 30)));
  CHECK((*f.connect("203.0.113.30").mark & kAllowMask) == kAllow);
  CHECK(*f.connect("203.0.113.66").mark == kReject);
  CHECK(f.judge.counters().dns_learned == 1);
}

TEST_CASE("TCP: a query and a long answer split over three segments are learned") {
  Fixture f;
  TcpDns t{f};
  t.open();
  for (const auto& s : testing::cutAt(dnsFramed(dnsQuery(3, "long.voice.example")), {1}))
    t.fromDevice(s);
  const auto a = testing::cutAt(dnsFramed(dnsAnswerA(3, "long.voice.example", 37)), {10, 30});
  t.fromServer(a[0]);
  t.fromServer(a[1]);
  CHECK(*f.connect("203.0.113.37").mark == kReject);  // not whole yet
  t.fromServer(a[2]);
  CHECK(f.judge.counters().dns_learned == 1);
  CHECK((*f.connect("203.0.113.37").mark & kAllowMask) == kAllow);
}

TEST_CASE("TCP: retransmissions are read once; a segment out of order loses only what it must") {
  Fixture f;
  TcpDns t{f};
  t.open();
  t.fromDevice(dnsFramed(dnsQuery(4, "a.voice.example")));
  t.fromDevice(dnsFramed(dnsQuery(5, "b.voice.example")));
  const auto a = dnsFramed(dnsAnswerA(4, "a.voice.example", 40));
  const auto b = dnsFramed(dnsAnswerA(5, "b.voice.example", 41));
  const uint32_t start = t.server_next;
  t.fromServer(a);
  t.serverAt(start, testing::kTcpPshAck, a);  // retransmitted: not a second answer
  CHECK(f.judge.counters().dns_unsolicited == 0);
  CHECK(f.judge.counters().dns_learned == 1);
  // b's tail arrives before its head: the hole holds b's length, so no later boundary can be
  // proven. Nothing is guessed: the stream is lost, b passes unread, a stays learned.
  const uint32_t b_at = t.server_next;
  t.serverAt(b_at + 10, testing::kTcpPshAck, slice(b, 10, b.size()));
  t.serverAt(b_at, testing::kTcpPshAck, slice(b, 0, 10));
  CHECK(*f.connect("203.0.113.41").mark == kReject);
  CHECK((*f.connect("203.0.113.40").mark & kAllowMask) == kAllow);
  CHECK(f.logText().find("event=dns-tcp-unread reason=lost") != std::string::npos);
  CHECK(f.judge.dnsFlows().streams().counters().lost == 1);
}

TEST_CASE("TCP: an answer on a connection whose start was not seen passes unread") {
  Fixture f;
  TcpDns t{f};
  f.ask("avs.voice.example");
  CHECK(t.serverAt(7001, testing::kTcpPshAck, dnsFramed(answer("avs.voice.example", 30, 60)))
            .verdict == NF_ACCEPT);
  CHECK(f.judge.counters().dns_learned == 0);
  CHECK(f.judge.dnsFlows().streams().counters().untracked == 1);
}

}  // namespace
}  // namespace muzzle
