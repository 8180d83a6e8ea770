// DnsFlowTracker: decides which DNS answers Muzzle may learn from. It reads the queries each
// managed device sends (UDP datagrams, and TCP streams reassembled by DnsTcpStreams), remembers
// their questions (DnsQuestionTable), and hands every answer to a DnsAnswerSink with a verdict:
//   - kMatched: the answer repeats the flow, ID and question of an outstanding question of that
//     device, which it consumes; only these teach names;
//   - kUnsolicited: it answers nothing the device asked (no such question, another ID, another
//     question, a second answer to one question, or an answer after the question expired);
//   - kMalformed: it does not parse (DnsError says why); its question stays outstanding, so a
//     junk packet racing the real answer cannot spend it.
// Packets are never changed or held here: what passes is the caller's choice (Muzzle passes
// every answer on an allowed flow, learned or not; see README "Names").
//
// A query that is not a standard query with one question records nothing (counted). Answers
// are parsed with parseDnsMessage (fw/dns/dns_message.h) into one DnsMessage reused for every
// answer, so nothing is allocated per packet. Bounds are those of DnsQuestionTable and
// DnsTcpStreams.
//
// Not thread-safe: the Judge owns it (under its lock). "*clock" must outlive the tracker.
#pragma once

#include <memory>
#include <span>

#include "fw/common/clock.h"
#include "fw/dns/dns_flow.h"
#include "fw/dns/dns_message.h"
#include "fw/dns/dns_questions.h"
#include "fw/dns/dns_tcp_stream.h"

namespace muzzle {

enum class DnsAnswerKind : uint8_t { kMatched, kUnsolicited, kMalformed };

class DnsAnswerSink {
 public:
  virtual ~DnsAnswerSink() = default;
  // One answer to the device of `flow`. `m` holds what was parsed (on kMalformed, what was read
  // before the error) and is valid only during the call.
  virtual void onDnsAnswerRead(const DnsFlowKey& flow, DnsAnswerKind kind, DnsError error,
                               const DnsMessage& m) = 0;
};

struct DnsFlowCounters {
  uint64_t queries = 0;             // queries read from devices (datagrams and TCP messages)
  uint64_t queries_unreadable = 0;  // of those, not a standard query with one question
  uint64_t answers = 0;             // answers read (datagrams and TCP messages)
  uint64_t matched = 0;             // answers to an outstanding question
  uint64_t unsolicited = 0;         // answers to nothing asked: passed unlearned
};

class DnsFlowTracker : private DnsMessageSink {
 public:
  explicit DnsFlowTracker(const Clock& clock, DnsQuestionLimits questions = {},
                          DnsTcpLimits streams = {});

  // A DNS query datagram the device of `flow` sent on it.
  void onUdpQuery(const DnsFlowKey& flow, std::span<const uint8_t> message);
  // A DNS answer datagram on `flow`, on its way to the device.
  void onUdpAnswer(const DnsFlowKey& flow, std::span<const uint8_t> message, DnsAnswerSink& sink);
  // A TCP segment of `flow`: from the device (queries) or to it (answers).
  DnsTcpResult onTcpSegment(const DnsFlowKey& flow, bool from_device, const DnsTcpSegment& segment,
                            DnsAnswerSink& sink);

  const DnsFlowCounters& counters() const { return counters_; }
  const DnsQuestionTable& questions() const { return questions_; }
  const DnsTcpStreams& streams() const { return streams_; }

 private:
  void onDnsTcpMessage(const DnsFlowKey& flow, bool from_device,
                       std::span<const uint8_t> message) override;
  void readQuery(const DnsFlowKey& flow, std::span<const uint8_t> message);
  void readAnswer(const DnsFlowKey& flow, std::span<const uint8_t> message, DnsAnswerSink& sink);

  DnsQuestionTable questions_;
  DnsTcpStreams streams_;
  // ~36 KB, reused for every answer: too big for a hot path's stack, not worth an allocation
  // per packet.
  std::unique_ptr<DnsMessage> message_;
  DnsQuestion question_;
  DnsAnswerSink* tcp_sink_ = nullptr;  // set only while onTcpSegment runs
  DnsFlowCounters counters_;
};

}  // namespace muzzle
