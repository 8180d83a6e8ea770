// libFuzzer entry point for the DNS parsers (answers, the question of a query), the CNAME-chain
// walk that follows them, and TCP stream reassembly fed the input as a run of segments. Contract:
// any bytes, no crash, no out-of-bounds read, bounded work; the sanitizers are the oracle, plus the
// invariants below that hold for every input.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>

#include "fw/dns/dns_message.h"
#include "fw/dns/dns_tcp_stream.h"

namespace {
muzzle::DnsMessage* message() {
  static auto* m = new muzzle::DnsMessage();  // ~36 KB: once, not per input
  return m;
}

void check(const muzzle::DnsMessage& m, muzzle::DnsError e) {
  if (muzzle::dnsErrorName(e) == "unknown") std::abort();
  if (e != muzzle::DnsError::kOk) return;
  if (m.record_count > muzzle::kDnsMaxRecords) std::abort();
  if (m.question.length > muzzle::kDnsMaxNameOctets) std::abort();
  size_t bindings = 0;
  muzzle::forEachBinding(m, [&](const muzzle::DnsBinding& b) {
    if (b.name.size() > muzzle::kDnsMaxNameOctets) std::abort();
    ++bindings;
  });
  // Every binding is an address record times a name on the (bounded) chain.
  if (bindings > m.record_count * (muzzle::kDnsMaxChain + 1)) std::abort();
}
// Every message the streams hand over must fit the DNS limit and lie inside the input's bytes
// or the stream's buffer; the sanitizers catch a read outside them.
class CheckingSink : public muzzle::DnsMessageSink {
 public:
  void onDnsTcpMessage(const muzzle::DnsFlowKey&, bool, std::span<const uint8_t> message) override {
    if (message.size() > 65535) std::abort();
    muzzle::DnsMessage& m = *::message();
    check(m, muzzle::parseDnsMessage(message, &m));
  }
};

// The input as segments: [flags][seq step, 2 bytes][length][bytes], one stream per direction.
void feedStreams(std::span<const uint8_t> input) {
  static muzzle::ManualClock clock;
  static auto* streams = new muzzle::DnsTcpStreams(clock, muzzle::DnsTcpLimits{4, 2});
  CheckingSink sink;
  muzzle::DnsFlowKey flow;
  flow.protocol = 6;
  uint32_t seq = 1000;
  while (input.size() >= 4) {
    const uint8_t flags = input[0];
    seq += static_cast<uint32_t>(input[1] << 8 | input[2]) - 0x8000u;
    const size_t length = std::min<size_t>(input[3], input.size() - 4);
    muzzle::DnsTcpSegment segment;
    segment.seq = seq;
    segment.syn = (flags & 1) != 0;
    segment.fin = (flags & 2) != 0;
    segment.rst = (flags & 4) != 0;
    segment.payload = input.subspan(4, length);
    flow.client_port = flags >> 4;
    streams->onSegment(flow, (flags & 8) != 0, segment, sink);
    input = input.subspan(4 + length);
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> input(data, size);
  muzzle::DnsMessage& m = *message();
  check(m, muzzle::parseDnsMessage(input, &m));
  muzzle::DnsQuestion q;
  const muzzle::DnsError e = muzzle::parseDnsQuery(input, &q);
  if (muzzle::dnsErrorName(e) == "unknown" || q.name.length > muzzle::kDnsMaxNameOctets)
    std::abort();
  feedStreams(input);
  return 0;
}
