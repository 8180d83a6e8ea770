#include "fw/dns/dns_flow_tracker.h"

namespace muzzle {

DnsFlowTracker::DnsFlowTracker(const Clock& clock, DnsQuestionLimits questions,
                               DnsTcpLimits streams)
    : questions_(clock, questions),
      streams_(clock, streams),
      message_(std::make_unique<DnsMessage>()) {}

void DnsFlowTracker::onUdpQuery(const DnsFlowKey& flow, std::span<const uint8_t> message) {
  readQuery(flow, message);
}

void DnsFlowTracker::onUdpAnswer(const DnsFlowKey& flow, std::span<const uint8_t> message,
                                 DnsAnswerSink& sink) {
  readAnswer(flow, message, sink);
}

DnsTcpResult DnsFlowTracker::onTcpSegment(const DnsFlowKey& flow, bool from_device,
                                          const DnsTcpSegment& segment, DnsAnswerSink& sink) {
  tcp_sink_ = &sink;
  const DnsTcpResult result = streams_.onSegment(flow, from_device, segment, *this);
  tcp_sink_ = nullptr;
  return result;
}

void DnsFlowTracker::onDnsTcpMessage(const DnsFlowKey& flow, bool from_device,
                                     std::span<const uint8_t> message) {
  if (from_device) {
    readQuery(flow, message);
  } else if (tcp_sink_ != nullptr) {
    readAnswer(flow, message, *tcp_sink_);
  }
}

void DnsFlowTracker::readQuery(const DnsFlowKey& flow, std::span<const uint8_t> message) {
  ++counters_.queries;
  if (parseDnsQuery(message, &question_) != DnsError::kOk) {
    // Nothing to anchor an answer on; whatever comes back passes unlearned.
    ++counters_.queries_unreadable;
    return;
  }
  questions_.ask(flow, question_);
}

void DnsFlowTracker::readAnswer(const DnsFlowKey& flow, std::span<const uint8_t> message,
                                DnsAnswerSink& sink) {
  ++counters_.answers;
  DnsMessage& m = *message_;
  const DnsError err = parseDnsMessage(message, &m);
  if (err != DnsError::kOk) {
    sink.onDnsAnswerRead(flow, DnsAnswerKind::kMalformed, err, m);
    return;
  }
  if (!questions_.answer(flow, m.id, m.question, m.qtype, m.qclass)) {
    ++counters_.unsolicited;
    sink.onDnsAnswerRead(flow, DnsAnswerKind::kUnsolicited, DnsError::kOk, m);
    return;
  }
  ++counters_.matched;
  sink.onDnsAnswerRead(flow, DnsAnswerKind::kMatched, DnsError::kOk, m);
}

}  // namespace muzzle
