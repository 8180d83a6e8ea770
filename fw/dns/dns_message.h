// Parsing of DNS answers (RFC 1035) that managed devices receive, so Muzzle can learn which
// addresses each name resolved to, and of the queries they send, so it learns only answers to
// questions a device asked. Pure: no I/O, no allocation, no exceptions, no recursion.
//
// The input is untrusted twice over (devices and the internet), so the parser is bounded:
//   - every length and count is checked against the bytes left; a count that runs past the end
//     of the message is an error (kCountMismatch), except in a message with the TC bit set,
//     where the records that are complete are kept;
//   - compression pointers must point strictly backwards (before the place they were read), and
//     a name may follow at most kMaxPointerJumps of them, so no loop can run forever;
//   - names are at most 255 octets on the wire (RFC 1035 2.3.4);
//   - labels may only hold printable ASCII other than '.', so a label cannot pose as two labels
//     of a name a policy allows;
//   - only the header, the single question and the answer section are read; authority and
//     additional records carry nothing Muzzle learns from and are never touched;
//   - a query is read only up to its question (header, QDCOUNT == 1, name, type, class).
// Each parser takes one whole DNS message. Over TCP (RFC 1035 4.2.2) a message is found only by
// following the 2-byte length prefixes from the first byte of the stream: a segment boundary
// says nothing about where a message starts, so segments are never parsed on their own (see
// fw/dns/dns_tcp_stream.h, which reassembles).
// What happens to a malformed answer is the caller's choice; the engine passes it unlearned and
// counts it (see fw/engine/judge.cc).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "fw/common/net.h"

namespace muzzle {

enum class DnsError : uint8_t {
  kOk = 0,
  kTruncatedHeader,   // fewer than 12 bytes
  kNotResponse,       // QR bit clear: a query, not an answer
  kNotQuery,          // parseDnsQuery: QR bit set, or an opcode other than QUERY
  kBadQuestionCount,  // QDCOUNT != 1: nothing to anchor a CNAME chain on
  kTruncatedName,     // a name runs past the end of the message
  kBadLabelType,      // label type 0x40 or 0x80 (extended/reserved), not a length or a pointer
  kPointerOutOfRange, // a compression pointer to a place not strictly before it
  kPointerLoop,       // more than kMaxPointerJumps pointers in one name
  kNameTooLong,       // more than 255 octets
  kBadNameCharacter,  // a label holds '.', a space or a non-printable byte
  kTruncatedRecord,   // a record's fixed part or its RDATA runs past the end
  kCountMismatch,     // ANCOUNT promises more records than the message holds
  kBadRdata,          // an A that is not 4 bytes, an AAAA not 16, a CNAME with trailing bytes
  kCount,             // number of values, for counter arrays
};
std::string_view dnsErrorName(DnsError e);

constexpr size_t kDnsMaxNameOctets = 255;
constexpr int kDnsMaxPointerJumps = 16;
// Records kept from one answer. Real answers hold a handful; more are skipped (and flagged), so
// a huge answer costs parsing time bounded by its size and memory bounded by this.
constexpr size_t kDnsMaxRecords = 32;

constexpr uint16_t kDnsTypeA = 1;
constexpr uint16_t kDnsTypeCname = 5;
constexpr uint16_t kDnsTypeAaaa = 28;

// A name in presentation form: lowercase, dot-separated, no trailing dot ("" is the root).
struct DnsName {
  std::array<char, kDnsMaxNameOctets + 1> text{};
  uint8_t length = 0;
  std::string_view view() const { return std::string_view(text.data(), length); }
};

// One answer record Muzzle cares about: A, AAAA or CNAME (others are skipped).
struct DnsRecord {
  uint16_t type = 0;
  uint32_t ttl = 0;
  DnsName owner;
  IpAddress address;  // A and AAAA
  DnsName target;     // CNAME
};

struct DnsMessage {
  uint16_t id = 0;
  bool truncated = false;  // TC bit
  uint8_t rcode = 0;
  DnsName question;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  std::array<DnsRecord, kDnsMaxRecords> records;
  size_t record_count = 0;
  bool records_dropped = false;  // more A/AAAA/CNAME records than kDnsMaxRecords
};

// Parses one DNS message as carried in a UDP datagram. On error `*out` holds what was read.
DnsError parseDnsMessage(std::span<const uint8_t> message, DnsMessage* out);

// The one question of a query a device sent: what an answer must repeat to be learned.
struct DnsQuestion {
  uint16_t id = 0;
  DnsName name;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
};

// Parses the header and the question of one standard query (QR clear, opcode QUERY,
// QDCOUNT == 1). The rest of the message (EDNS options, a TSIG) is never read.
DnsError parseDnsQuery(std::span<const uint8_t> message, DnsQuestion* out);

// What an answer teaches: `address` is what `name` resolves to for `ttl` seconds.
struct DnsBinding {
  IpAddress address;
  std::string_view name;  // points into the DnsMessage
  uint32_t ttl = 0;
};

// The chain of names an answer vouches for: the question, then each CNAME target reached from
// it (at most kDnsMaxChain links). Records whose owner is not on the chain are ignored: an
// answer may only speak about the name that was asked.
constexpr size_t kDnsMaxChain = 8;

// Calls `sink(binding)` for every A/AAAA record on the chain, once per name on the chain from
// the question down to the record's owner, with the smallest TTL along the way. Returns the
// number of addresses found.
template <typename Sink>
size_t forEachBinding(const DnsMessage& m, Sink&& sink);

// ----- implementation of the template -----
namespace dns_detail {
// Fills `chain` with the names from the question along CNAMEs; ttls[i] is the smallest TTL of
// the links up to chain[i]. Returns the chain length (>= 1).
size_t followChain(const DnsMessage& m, std::array<std::string_view, kDnsMaxChain + 1>& chain,
                   std::array<uint32_t, kDnsMaxChain + 1>& ttls);
}  // namespace dns_detail

template <typename Sink>
size_t forEachBinding(const DnsMessage& m, Sink&& sink) {
  std::array<std::string_view, kDnsMaxChain + 1> chain;
  std::array<uint32_t, kDnsMaxChain + 1> ttls;
  const size_t length = dns_detail::followChain(m, chain, ttls);
  size_t addresses = 0;
  for (size_t r = 0; r < m.record_count; ++r) {
    const DnsRecord& rec = m.records[r];
    if (rec.type != kDnsTypeA && rec.type != kDnsTypeAaaa) continue;
    size_t at = length;
    for (size_t i = 0; i < length; ++i) {
      if (chain[i] == rec.owner.view()) {
        at = i;
        break;
      }
    }
    if (at == length) continue;
    ++addresses;
    const uint32_t ttl = rec.ttl < ttls[at] ? rec.ttl : ttls[at];
    for (size_t i = 0; i <= at; ++i) sink(DnsBinding{rec.address, chain[i], ttl});
  }
  return addresses;
}

}  // namespace muzzle
