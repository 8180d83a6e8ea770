// libFuzzer entry point for the DNS answer parser (UDP and TCP framing) and the CNAME-chain walk
// that follows it. Contract: any bytes, no crash, no out-of-bounds read, bounded work; the
// sanitizers are the oracle, plus the invariants below that hold for every input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>

#include "fw/dns/dns_message.h"

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
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> input(data, size);
  muzzle::DnsMessage& m = *message();
  check(m, muzzle::parseDnsMessage(input, &m));
  check(m, muzzle::parseDnsTcpPayload(input, &m));
  return 0;
}
