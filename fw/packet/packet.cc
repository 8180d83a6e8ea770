#include "fw/packet/packet.h"

#include <algorithm>

namespace muzzle {
namespace {

constexpr size_t kIpv4MinHeader = 20;
constexpr size_t kIpv6Header = 40;
constexpr size_t kTcpMinHeader = 20;
constexpr size_t kUdpHeader = 8;
// Type, code and checksum: the part RFC 792 and RFC 4443 give every ICMP/ICMPv6 message. We
// only read the type, but a message shorter than this is malformed, not a small message.
constexpr size_t kIcmpMinHeader = 4;

// RFC 8200 recommends that each extension header appear at most once (destination options
// twice), so a legitimate packet carries at most about six. Capping the walk bounds the work an
// attacker can make us do per packet, and (8 headers of at most 2048 bytes each) keeps every
// offset we compute well inside uint16_t.
constexpr int kMaxIpv6ExtHeaders = 8;

constexpr uint8_t kProtoHopByHop = 0;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoRouting = 43;
constexpr uint8_t kProtoFragment = 44;
constexpr uint8_t kProtoAh = 51;
constexpr uint8_t kProtoIcmpv6 = 58;
constexpr uint8_t kProtoNoNext = 59;
constexpr uint8_t kProtoDstOpts = 60;

uint16_t readBe16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// Reads the transport header that starts at `offset` and must end by `end` (the end of the IP
// payload, not of the buffer: link-layer padding is not part of the packet). `icmp_proto` is
// the ICMP flavour of this IP version; ICMP carried in the other version is just "other".
ParseError parseL4(const uint8_t* data, size_t offset, size_t end, uint8_t icmp_proto,
                   PacketInfo* out) {
  out->l4_offset = static_cast<uint16_t>(offset);
  const size_t avail = end - offset;
  const uint8_t* l4 = data + offset;
  switch (out->protocol) {
    case kProtoTcp:
    case kProtoUdp:
      if (avail < (out->protocol == kProtoTcp ? kTcpMinHeader : kUdpHeader)) {
        return ParseError::kTruncatedL4;
      }
      out->src_port = readBe16(l4);
      out->dst_port = readBe16(l4 + 2);
      out->has_ports = true;
      return ParseError::kOk;
    default:
      if (out->protocol == icmp_proto) {
        if (avail < kIcmpMinHeader) return ParseError::kTruncatedL4;
        out->icmp_type = l4[0];
      }
      // Anything else (GRE, SCTP, ESP, ...) is opaque to us: the protocol number is enough for
      // the policy to allow or drop it.
      return ParseError::kOk;
  }
}

// `wire_len` is the packet's length on the wire; `data` may hold only its first bytes when the
// queue copies a prefix (see parsePacket).
ParseError parseIpv4(std::span<const uint8_t> data, size_t wire_len, PacketInfo* out) {
  const uint8_t* p = data.data();
  if (data.size() < kIpv4MinHeader) return ParseError::kTruncatedL3;
  const size_t header_len = size_t{p[0] & 0x0fu} * 4;
  if (header_len < kIpv4MinHeader) return ParseError::kBadHeaderLength;
  if (header_len > data.size()) return ParseError::kTruncatedL3;

  out->src = IpAddress::fromBytes(p + 12, false);
  out->dst = IpAddress::fromBytes(p + 16, false);
  out->protocol = p[9];

  // The total length must cover the header and fit in the packet as it was on the wire. Bytes
  // past it are link-layer padding (short Ethernet frames) and are ignored. A total length larger
  // than the packet means it was cut short (or lies): refused.
  const size_t total_len = readBe16(p + 2);
  if (total_len < header_len || total_len > wire_len) return ParseError::kBadHeaderLength;
  // Headers are read only from the bytes we hold: one that runs past a copied prefix is truncated.
  const size_t end = std::min(total_len, data.size());

  const uint16_t frag = readBe16(p + 6);
  const bool more_fragments = frag & 0x2000;
  const uint16_t frag_offset = frag & 0x1fff;
  out->fragment = more_fragments || frag_offset != 0;
  if (frag_offset != 0) {
    // Only the first fragment carries the transport header; later ones are payload bytes.
    out->later_fragment = true;
    out->l4_offset = static_cast<uint16_t>(header_len);
    return ParseError::kOk;
  }
  // A first fragment too short to hold the transport header is refused (kTruncatedL4) rather
  // than passed without ports: that is the "tiny fragment" filter evasion of RFC 1858.
  return parseL4(p, header_len, end, kProtoIcmp, out);
}

ParseError parseIpv6(std::span<const uint8_t> data, size_t wire_len, PacketInfo* out) {
  const uint8_t* p = data.data();
  if (data.size() < kIpv6Header) return ParseError::kTruncatedL3;
  out->src = IpAddress::fromBytes(p + 8, true);
  out->dst = IpAddress::fromBytes(p + 24, true);

  // Same rule as IPv4's total length. Jumbograms (payload length 0 plus a hop-by-hop option)
  // need links with an MTU above 64 KiB, which IoT segments never have; they fail as truncated.
  const size_t packet_end = kIpv6Header + readBe16(p + 4);
  if (packet_end > wire_len) return ParseError::kBadHeaderLength;
  const size_t end = std::min(packet_end, data.size());  // as for IPv4: only the bytes we hold

  uint8_t next = p[6];
  size_t offset = kIpv6Header;
  for (int count = 0;; ++count) {
    size_t header_len;
    switch (next) {
      case kProtoHopByHop:
      case kProtoRouting:
      case kProtoDstOpts:
      case kProtoAh:
      case kProtoFragment:
        break;
      case kProtoNoNext:
        // Nothing follows, by declaration; any bytes up to `end` are to be ignored (RFC 8200).
        out->protocol = next;
        out->l4_offset = static_cast<uint16_t>(offset);
        return ParseError::kOk;
      default:
        // ESP (50) lands here too: it encrypts everything after it, so as far as we can see it
        // is the transport, and the policy matches it by number.
        out->protocol = next;
        return parseL4(p, offset, end, kProtoIcmpv6, out);
    }

    if (count == kMaxIpv6ExtHeaders) {
      out->protocol = next;
      return ParseError::kTooManyExtHeaders;
    }
    // Every extension header starts with next-header and a length byte; the fragment header
    // has a fixed 8 bytes and AH counts 4-byte units minus 2 (RFC 4302), the rest count 8-byte
    // units not including the first (RFC 8200).
    if (end - offset < 2) return ParseError::kTruncatedExtHeader;
    const uint8_t len_byte = p[offset + 1];
    if (next == kProtoFragment) {
      header_len = 8;
    } else if (next == kProtoAh) {
      header_len = (size_t{len_byte} + 2) * 4;
    } else {
      header_len = (size_t{len_byte} + 1) * 8;
    }
    if (end - offset < header_len) return ParseError::kTruncatedExtHeader;

    const uint8_t this_header = next;
    next = p[offset];
    if (this_header == kProtoFragment) {
      const uint16_t frag = readBe16(p + offset + 2);
      // An "atomic fragment" (offset 0, M clear) is a whole packet (RFC 6946), so it is not
      // flagged as a fragment.
      out->fragment = out->fragment || (frag & 0x1) || (frag >> 3) != 0;
      if ((frag >> 3) != 0) {
        // Later fragment: the rest is payload, and `next` names the protocol of the
        // fragmentable part that started in the first fragment.
        out->later_fragment = true;
        out->protocol = next;
        out->l4_offset = static_cast<uint16_t>(offset + header_len);
        return ParseError::kOk;
      }
    }
    offset += header_len;
  }
}

}  // namespace

std::string_view parseErrorName(ParseError e) {
  switch (e) {
    case ParseError::kOk:
      return "ok";
    case ParseError::kEmpty:
      return "empty";
    case ParseError::kBadVersion:
      return "bad_version";
    case ParseError::kTruncatedL3:
      return "truncated_l3";
    case ParseError::kBadHeaderLength:
      return "bad_header_length";
    case ParseError::kTruncatedExtHeader:
      return "truncated_ext_header";
    case ParseError::kTooManyExtHeaders:
      return "too_many_ext_headers";
    case ParseError::kTruncatedL4:
      return "truncated_l4";
  }
  return "unknown";
}

ParseError parsePacket(std::span<const uint8_t> data, PacketInfo* out) {
  return parsePacket(data, data.size(), out);
}

ParseError parsePacket(std::span<const uint8_t> data, size_t wire_length, PacketInfo* out) {
  *out = PacketInfo{};
  if (data.empty()) return ParseError::kEmpty;
  wire_length = std::max(wire_length, data.size());
  switch (data[0] >> 4) {
    case 4:
      return parseIpv4(data, wire_length, out);
    case 6:
      return parseIpv6(data, wire_length, out);
    default:
      return ParseError::kBadVersion;
  }
}

const char* protocolName(uint8_t protocol) {
  switch (protocol) {
    case kProtoTcp:
      return "tcp";
    case kProtoUdp:
      return "udp";
    case kProtoIcmp:
      return "icmp";
    case kProtoIcmpv6:
      return "icmpv6";
    default:
      return "other";
  }
}

}  // namespace muzzle
