#include "fw/dns/dns_message.h"

namespace muzzle {
namespace {

constexpr size_t kHeaderSize = 12;
constexpr size_t kRecordFixedSize = 10;  // type, class, ttl, rdlength
constexpr uint16_t kClassIn = 1;

uint16_t read16(std::span<const uint8_t> m, size_t at) {
  return static_cast<uint16_t>(m[at] << 8 | m[at + 1]);
}
uint32_t read32(std::span<const uint8_t> m, size_t at) {
  return uint32_t{m[at]} << 24 | uint32_t{m[at + 1]} << 16 | uint32_t{m[at + 2]} << 8 |
         uint32_t{m[at + 3]};
}

// Reads the (possibly compressed) name at `*pos` into `out` and moves `*pos` past it in the
// message (past the first pointer if there is one). Iterative: pointers are followed by moving
// a cursor, bounded by kDnsMaxPointerJumps and by pointing strictly backwards.
DnsError readName(std::span<const uint8_t> m, size_t* pos, DnsName* out) {
  size_t cursor = *pos;
  size_t end_of_name = 0;  // where the caller continues; set at the first pointer
  bool jumped = false;
  int jumps = 0;
  size_t wire_octets = 0;
  out->length = 0;
  for (;;) {
    if (cursor >= m.size()) return DnsError::kTruncatedName;
    const uint8_t len = m[cursor];
    if ((len & 0xC0) == 0xC0) {
      if (cursor + 1 >= m.size()) return DnsError::kTruncatedName;
      const size_t target = static_cast<size_t>(len & 0x3F) << 8 | m[cursor + 1];
      if (!jumped) end_of_name = cursor + 2;
      jumped = true;
      if (++jumps > kDnsMaxPointerJumps) return DnsError::kPointerLoop;
      // Strictly backwards: every jump lands before the last, so the walk ends.
      if (target >= cursor) return DnsError::kPointerOutOfRange;
      cursor = target;
      continue;
    }
    if ((len & 0xC0) != 0) return DnsError::kBadLabelType;
    wire_octets += 1 + len;
    if (wire_octets > kDnsMaxNameOctets) return DnsError::kNameTooLong;
    if (len == 0) {
      *pos = jumped ? end_of_name : cursor + 1;
      return DnsError::kOk;
    }
    if (cursor + 1 + len > m.size()) return DnsError::kTruncatedName;
    // Presentation length never exceeds wire length - 1, so text[] (256) always has room.
    if (out->length > 0) out->text[out->length++] = '.';
    for (size_t i = 0; i < len; ++i) {
      uint8_t c = m[cursor + 1 + i];
      if (c <= 0x20 || c >= 0x7F || c == '.') return DnsError::kBadNameCharacter;
      if (c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c - 'A' + 'a');
      out->text[out->length++] = static_cast<char>(c);
    }
    cursor += 1 + len;
  }
}

}  // namespace

std::string_view dnsErrorName(DnsError e) {
  switch (e) {
    case DnsError::kOk: return "ok";
    case DnsError::kTruncatedHeader: return "truncated-header";
    case DnsError::kNotResponse: return "not-a-response";
    case DnsError::kNotQuery: return "not-a-query";
    case DnsError::kBadQuestionCount: return "bad-question-count";
    case DnsError::kTruncatedName: return "truncated-name";
    case DnsError::kBadLabelType: return "bad-label-type";
    case DnsError::kPointerOutOfRange: return "pointer-out-of-range";
    case DnsError::kPointerLoop: return "pointer-loop";
    case DnsError::kNameTooLong: return "name-too-long";
    case DnsError::kBadNameCharacter: return "bad-name-character";
    case DnsError::kTruncatedRecord: return "truncated-record";
    case DnsError::kCountMismatch: return "count-mismatch";
    case DnsError::kBadRdata: return "bad-rdata";
    case DnsError::kCount: break;
  }
  return "unknown";
}

DnsError parseDnsMessage(std::span<const uint8_t> m, DnsMessage* out) {
  out->record_count = 0;
  out->records_dropped = false;
  out->question.length = 0;
  if (m.size() < kHeaderSize) return DnsError::kTruncatedHeader;
  out->id = read16(m, 0);
  const uint16_t flags = read16(m, 2);
  if ((flags & 0x8000) == 0) return DnsError::kNotResponse;
  out->truncated = (flags & 0x0200) != 0;
  out->rcode = static_cast<uint8_t>(flags & 0x000F);
  const uint16_t qdcount = read16(m, 4);
  const uint16_t ancount = read16(m, 6);
  if (qdcount != 1) return DnsError::kBadQuestionCount;

  size_t pos = kHeaderSize;
  if (DnsError e = readName(m, &pos, &out->question); e != DnsError::kOk) return e;
  if (pos + 4 > m.size()) return DnsError::kTruncatedRecord;
  out->qtype = read16(m, pos);
  out->qclass = read16(m, pos + 2);
  pos += 4;

  // ANCOUNT is checked as we go: running out of bytes before the promised records ends the loop,
  // so a lying count of 65535 costs nothing more than the bytes actually there.
  // Records past kDnsMaxRecords are still parsed (to validate the message) into one scratch
  // record, built once rather than per record (it is ~550 bytes).
  DnsRecord scratch;
  for (uint16_t i = 0; i < ancount; ++i) {
    if (pos >= m.size()) return out->truncated ? DnsError::kOk : DnsError::kCountMismatch;
    DnsRecord& rec = out->record_count < kDnsMaxRecords ? out->records[out->record_count] : scratch;
    if (DnsError e = readName(m, &pos, &rec.owner); e != DnsError::kOk) {
      if (out->truncated && e == DnsError::kTruncatedName) return DnsError::kOk;
      return e;
    }
    if (pos + kRecordFixedSize > m.size()) {
      return out->truncated ? DnsError::kOk : DnsError::kTruncatedRecord;
    }
    const uint16_t type = read16(m, pos);
    const uint16_t klass = read16(m, pos + 2);
    uint32_t ttl = read32(m, pos + 4);
    const uint16_t rdlength = read16(m, pos + 8);
    pos += kRecordFixedSize;
    if (pos + rdlength > m.size()) return out->truncated ? DnsError::kOk : DnsError::kTruncatedRecord;
    const size_t rdata = pos;
    pos += rdlength;
    if (klass != kClassIn) continue;
    // RFC 2181 8: a TTL with the top bit set is treated as zero.
    if (ttl > 0x7FFFFFFF) ttl = 0;
    rec.type = type;
    rec.ttl = ttl;
    if (type == kDnsTypeA || type == kDnsTypeAaaa) {
      const size_t want = type == kDnsTypeA ? 4 : 16;
      if (rdlength != want) return DnsError::kBadRdata;
      rec.address = IpAddress::fromBytes(m.data() + rdata, type == kDnsTypeAaaa);
    } else if (type == kDnsTypeCname) {
      // The target may be compressed and point anywhere before it; it must end exactly at the
      // end of the RDATA.
      size_t cname_pos = rdata;
      if (DnsError e = readName(m.first(rdata + rdlength), &cname_pos, &rec.target); e != DnsError::kOk) {
        return e == DnsError::kTruncatedName ? DnsError::kBadRdata : e;
      }
      if (cname_pos != rdata + rdlength) return DnsError::kBadRdata;
    } else {
      continue;  // other types teach nothing
    }
    if (&rec == &scratch) {
      out->records_dropped = true;
    } else {
      ++out->record_count;
    }
  }
  return DnsError::kOk;
}

DnsError parseDnsQuery(std::span<const uint8_t> m, DnsQuestion* out) {
  out->name.length = 0;
  if (m.size() < kHeaderSize) return DnsError::kTruncatedHeader;
  out->id = read16(m, 0);
  const uint16_t flags = read16(m, 2);
  // QR clear and opcode 0 (QUERY): NOTIFY, UPDATE and the rest get no answer Muzzle learns from.
  if ((flags & 0xF800) != 0) return DnsError::kNotQuery;
  if (read16(m, 4) != 1) return DnsError::kBadQuestionCount;
  size_t pos = kHeaderSize;
  if (DnsError e = readName(m, &pos, &out->name); e != DnsError::kOk) return e;
  if (pos + 4 > m.size()) return DnsError::kTruncatedRecord;
  out->qtype = read16(m, pos);
  out->qclass = read16(m, pos + 2);
  return DnsError::kOk;
}

namespace dns_detail {

size_t followChain(const DnsMessage& m, std::array<std::string_view, kDnsMaxChain + 1>& chain,
                   std::array<uint32_t, kDnsMaxChain + 1>& ttls) {
  chain[0] = m.question.view();
  ttls[0] = UINT32_MAX;
  size_t length = 1;
  while (length <= kDnsMaxChain) {
    const std::string_view last = chain[length - 1];
    const DnsRecord* next = nullptr;
    for (size_t r = 0; r < m.record_count; ++r) {
      const DnsRecord& rec = m.records[r];
      if (rec.type == kDnsTypeCname && rec.owner.view() == last) {
        next = &rec;
        break;
      }
    }
    if (next == nullptr) break;
    // A chain that comes back to a name already on it is a loop: stop there.
    bool seen = false;
    for (size_t i = 0; i < length; ++i) seen = seen || chain[i] == next->target.view();
    if (seen) break;
    chain[length] = next->target.view();
    ttls[length] = next->ttl < ttls[length - 1] ? next->ttl : ttls[length - 1];
    ++length;
  }
  return length;
}

}  // namespace dns_detail
}  // namespace muzzle
