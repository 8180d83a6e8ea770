// Parsing of the IP packets netfilter hands to user space. Pure: no I/O, no allocation, no
// exceptions. The input is untrusted (it comes from IoT devices and the internet), so every
// length is checked and every failure is a named ParseError the engine counts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "fw/common/net.h"

namespace muzzle {

enum class L4 : uint8_t { kTcp = 6, kUdp = 17, kIcmp = 1, kIcmpv6 = 58, kOther = 255 };

enum class ParseError : uint8_t {
  kOk = 0,
  kEmpty,            // no bytes at all
  kBadVersion,       // first nibble is neither 4 nor 6
  kTruncatedL3,      // shorter than the IPv4/IPv6 header it claims
  kBadHeaderLength,  // IPv4 IHL < 5 or total length inconsistent with the buffer
  kTruncatedExtHeader,  // an IPv6 extension header runs past the end
  kTooManyExtHeaders,   // more extension headers than any sane packet carries
  kTruncatedL4,      // TCP/UDP/ICMP header cut short (first fragment only)
};
std::string_view parseErrorName(ParseError e);

// What the data plane needs to know about one packet, in the direction it travels.
struct PacketInfo {
  IpAddress src;
  IpAddress dst;
  uint8_t protocol = 0;     // IP protocol number of the transport (after IPv6 extension headers)
  uint16_t src_port = 0;    // TCP/UDP only
  uint16_t dst_port = 0;    // TCP/UDP only
  uint8_t icmp_type = 0;    // ICMP/ICMPv6 only
  bool has_ports = false;   // ports were read (TCP/UDP and not a non-first fragment)
  bool fragment = false;    // any fragment (first or later)
  bool later_fragment = false;  // offset != 0: carries no transport header
  uint16_t l4_offset = 0;   // where the transport header starts in the buffer
};

// Parses an IPv4 or IPv6 packet starting at the IP header. On kOk, `*out` is filled; on error,
// `*out` holds whatever was read before the failure (addresses may be valid).
ParseError parsePacket(std::span<const uint8_t> data, PacketInfo* out);
// The same for a packet of which `data` holds only the first bytes: a queue that copies a header
// prefix (fw/nfq) hands over `wire_length`, the packet's real length. Lengths in the IP header
// are checked against `wire_length`; headers are read only from `data`, so one that runs past
// the prefix fails as truncated (kTruncatedL4 or kTruncatedExtHeader).
ParseError parsePacket(std::span<const uint8_t> data, size_t wire_length, PacketInfo* out);

const char* protocolName(uint8_t protocol);  // "tcp", "udp", "icmp", "icmpv6", or "other"

}  // namespace muzzle
