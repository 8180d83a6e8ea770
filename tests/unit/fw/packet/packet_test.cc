#include "fw/packet/packet.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using Bytes = std::vector<uint8_t>;

// --- Builders: every packet in this file is assembled byte by byte from these. ---

void putBe16(Bytes& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes tcp(uint16_t src_port, uint16_t dst_port) {
  Bytes b(20, 0);
  putBe16(b, 0, src_port);
  putBe16(b, 2, dst_port);
  b[12] = 5 << 4;  // data offset
  b[13] = 0x02;    // SYN
  putBe16(b, 14, 64240);
  return b;
}

Bytes udp(uint16_t src_port, uint16_t dst_port, size_t payload = 0) {
  Bytes b(8 + payload, 0xab);
  putBe16(b, 0, src_port);
  putBe16(b, 2, dst_port);
  putBe16(b, 4, static_cast<uint16_t>(8 + payload));
  putBe16(b, 6, 0);
  return b;
}

Bytes icmp(uint8_t type) {
  Bytes b(8, 0);
  b[0] = type;
  return b;
}

// Chainable so each test states only what differs from a plain TCP packet. (Designated
// initialisers would read better, but GCC 12 warns about the fields they leave out.)
class V4 {
 public:
  V4& protocol(uint8_t v) {
    protocol_ = v;
    return *this;
  }
  // Appended after the 20-byte header; the IHL follows from their size.
  V4& options(Bytes v) {
    options_ = std::move(v);
    return *this;
  }
  V4& ihl(uint8_t v) {
    ihl_ = v;
    return *this;
  }  // overrides the computed IHL
  V4& totalLen(uint16_t v) {
    total_len_ = v;
    return *this;
  }  // overrides the computed length
  V4& moreFragments(bool v) {
    more_fragments_ = v;
    return *this;
  }
  V4& fragOffset(uint16_t v) {
    frag_offset_ = v;
    return *this;
  }  // in 8-byte units
  V4& version(uint8_t v) {
    version_ = v;
    return *this;
  }

  Bytes build(const Bytes& payload) const {
    Bytes b(20, 0);
    size_t header_len = 20 + options_.size();
    b[0] = static_cast<uint8_t>(version_ << 4 | (ihl_ ? *ihl_ : header_len / 4));
    putBe16(b, 2, total_len_ ? *total_len_ : static_cast<uint16_t>(header_len + payload.size()));
    putBe16(b, 4, 0x1234);
    putBe16(b, 6, static_cast<uint16_t>((more_fragments_ ? 0x2000 : 0) | frag_offset_));
    b[8] = 64;
    b[9] = protocol_;
    const uint8_t src[4] = {192, 168, 7, 20};
    const uint8_t dst[4] = {198, 18, 1, 5};
    for (int i = 0; i < 4; ++i) {
      b[12 + i] = src[i];
      b[16 + i] = dst[i];
    }
    return cat({b, options_, payload});
  }

 private:
  uint8_t protocol_ = 6;
  Bytes options_;
  std::optional<uint8_t> ihl_;
  std::optional<uint16_t> total_len_;
  bool more_fragments_ = false;
  uint16_t frag_offset_ = 0;
  uint8_t version_ = 4;
};

// IPv6 extension headers. `next` is the header that follows this one.
Bytes extGeneric(uint8_t next, uint8_t len_units) {
  Bytes b((len_units + 1) * 8, 0);
  b[0] = next;
  b[1] = len_units;
  return b;
}
Bytes extAh(uint8_t next, uint8_t len) {
  Bytes b((len + 2) * 4, 0);
  b[0] = next;
  b[1] = len;
  return b;
}
Bytes extFragment(uint8_t next, uint16_t offset_units, bool more) {
  Bytes b(8, 0);
  b[0] = next;
  putBe16(b, 2, static_cast<uint16_t>(offset_units << 3 | (more ? 1 : 0)));
  return b;
}

Bytes v6(uint8_t first_next, const Bytes& payload, std::optional<uint16_t> payload_len = {}) {
  Bytes b(40, 0);
  b[0] = 0x60;
  putBe16(b, 4, payload_len ? *payload_len : static_cast<uint16_t>(payload.size()));
  b[6] = first_next;
  b[7] = 64;
  b[8] = 0xfd;  // src fd00:7::20
  b[10] = 0x00;
  b[11] = 0x07;
  b[23] = 0x20;
  b[24] = 0x20;  // dst 2001:db8::5
  b[25] = 0x01;
  b[26] = 0x0d;
  b[27] = 0xb8;
  b[39] = 0x05;
  return cat({b, payload});
}

ParseError parse(const Bytes& b, PacketInfo* info) {
  return parsePacket(std::span<const uint8_t>(b.data(), b.size()), info);
}

// Parses every strict prefix of `packet` (including the empty one). None may crash or read out
// of bounds (run under ASan to be sure); each must fail, since a prefix either cuts the header
// or contradicts the length field. The whole packet must parse.
void checkAllPrefixes(const Bytes& packet) {
  for (size_t len = 0; len < packet.size(); ++len) {
    Bytes prefix(packet.begin(), packet.begin() + static_cast<ptrdiff_t>(len));
    PacketInfo info;
    ParseError e = parse(prefix, &info);
    CAPTURE(len);
    CHECK(e != ParseError::kOk);
    CHECK((len == 0) == (e == ParseError::kEmpty));
  }
  PacketInfo info;
  CHECK(parse(packet, &info) == ParseError::kOk);
}

// Same, but the IP length field is rewritten to match each prefix, so the parser has to notice
// the cut in the transport or extension headers themselves, not just the length mismatch.
void checkAllPrefixesWithConsistentLength(const Bytes& packet) {
  const bool is_v6 = (packet[0] >> 4) == 6;
  const size_t header = is_v6 ? 40 : size_t{packet[0] & 0x0fu} * 4;
  for (size_t len = header; len <= packet.size(); ++len) {
    Bytes prefix(packet.begin(), packet.begin() + static_cast<ptrdiff_t>(len));
    if (is_v6) {
      putBe16(prefix, 4, static_cast<uint16_t>(len - 40));
    } else {
      putBe16(prefix, 2, static_cast<uint16_t>(len));
    }
    PacketInfo info;
    ParseError e = parse(prefix, &info);
    CAPTURE(len);
    CHECK((e == ParseError::kOk || e == ParseError::kTruncatedL4 ||
           e == ParseError::kTruncatedExtHeader));
    // Deterministic: parsing the same bytes twice gives the same answer.
    PacketInfo again;
    CHECK(parse(prefix, &again) == e);
    if (e == ParseError::kOk) CHECK(info.l4_offset <= len);
  }
}

// --- IPv4 ---

TEST_CASE("IPv4 TCP") {
  Bytes pkt = V4().build(tcp(40000, 443));
  PacketInfo info;
  REQUIRE(parse(pkt, &info) == ParseError::kOk);
  CHECK(info.src.toString() == "192.168.7.20");
  CHECK(info.dst.toString() == "198.18.1.5");
  CHECK_FALSE(info.src.v6);
  CHECK(info.protocol == 6);
  CHECK(info.has_ports);
  CHECK(info.src_port == 40000);
  CHECK(info.dst_port == 443);
  CHECK(info.l4_offset == 20);
  CHECK_FALSE(info.fragment);
  CHECK_FALSE(info.later_fragment);
  checkAllPrefixes(pkt);
  checkAllPrefixesWithConsistentLength(pkt);
}

TEST_CASE("IPv4 UDP") {
  Bytes pkt = V4().protocol(17).build(udp(5353, 53, 12));
  PacketInfo info;
  REQUIRE(parse(pkt, &info) == ParseError::kOk);
  CHECK(info.protocol == 17);
  CHECK(info.has_ports);
  CHECK(info.src_port == 5353);
  CHECK(info.dst_port == 53);
  checkAllPrefixes(pkt);
  checkAllPrefixesWithConsistentLength(pkt);
}

TEST_CASE("IPv4 ICMP") {
  Bytes pkt = V4().protocol(1).build(icmp(8));
  PacketInfo info;
  REQUIRE(parse(pkt, &info) == ParseError::kOk);
  CHECK(info.protocol == 1);
  CHECK(info.icmp_type == 8);
  CHECK_FALSE(info.has_ports);
  CHECK(info.l4_offset == 20);
  checkAllPrefixes(pkt);
  checkAllPrefixesWithConsistentLength(pkt);

  // The 4-byte type/code/checksum is enough; less is truncated.
  Bytes four = V4().protocol(1).build({0, 0, 0, 0});
  CHECK(parse(four, &info) == ParseError::kOk);
  CHECK(info.icmp_type == 0);
  CHECK(parse(V4().protocol(1).build({3, 0, 0}), &info) == ParseError::kTruncatedL4);
  // ICMPv6's protocol number inside IPv4 is not ICMP: no type is read.
  CHECK(parse(V4().protocol(58).build(icmp(128)), &info) == ParseError::kOk);
  CHECK(info.icmp_type == 0);
}

TEST_CASE("IPv4 transport cut short") {
  PacketInfo info;
  CHECK(parse(V4().build(Bytes(19, 0)), &info) == ParseError::kTruncatedL4);
  CHECK(info.l4_offset == 20);
  CHECK(info.dst.toString() == "198.18.1.5");  // what was read before the failure survives
  CHECK(parse(V4().protocol(17).build(Bytes(7, 0)), &info) == ParseError::kTruncatedL4);
  CHECK(parse(V4().protocol(17).build(Bytes(8, 0)), &info) == ParseError::kOk);
}

TEST_CASE("empty and bad version") {
  PacketInfo info;
  CHECK(parse({}, &info) == ParseError::kEmpty);
  for (uint8_t version : {0, 1, 5, 7, 15}) {
    CAPTURE(int{version});
    CHECK(parse(V4().version(version).build(tcp(1, 2)), &info) == ParseError::kBadVersion);
  }
  CHECK(parse(Bytes{0x00}, &info) == ParseError::kBadVersion);
}

TEST_CASE("IPv4 IHL below 5") {
  PacketInfo info;
  for (uint8_t ihl = 0; ihl < 5; ++ihl) {
    CAPTURE(int{ihl});
    CHECK(parse(V4().ihl(ihl).build(tcp(1, 2)), &info) == ParseError::kBadHeaderLength);
  }
  // IHL 15 (60 bytes) on a 40-byte packet: the header itself runs past the buffer.
  CHECK(parse(V4().ihl(15).build(tcp(1, 2)), &info) == ParseError::kTruncatedL3);
}

TEST_CASE("IPv4 total length lies") {
  PacketInfo info;
  // Longer than the buffer: refused, whether by one byte or by a lot.
  CHECK(parse(V4().totalLen(41).build(tcp(1000, 80)), &info) == ParseError::kBadHeaderLength);
  CHECK(parse(V4().totalLen(0xffff).build(tcp(1000, 80)), &info) == ParseError::kBadHeaderLength);
  // Shorter than the header it claims.
  CHECK(parse(V4().totalLen(0).build(tcp(1000, 80)), &info) == ParseError::kBadHeaderLength);
  CHECK(parse(V4().totalLen(19).build(tcp(1000, 80)), &info) == ParseError::kBadHeaderLength);
  // Shorter than the buffer but covering the header: the transport is cut by the length.
  CHECK(parse(V4().totalLen(39).build(tcp(1000, 80)), &info) == ParseError::kTruncatedL4);
  // Exactly the header, no transport bytes.
  CHECK(parse(V4().totalLen(20).build(tcp(1000, 80)), &info) == ParseError::kTruncatedL4);

  // Trailing bytes past the total length (Ethernet padding) are ignored.
  Bytes padded = V4().protocol(1).build(icmp(0));
  padded.resize(padded.size() + 18, 0xee);
  CHECK(parse(padded, &info) == ParseError::kOk);
  Bytes padded_udp = V4().protocol(17).build(udp(1, 2));
  padded_udp.resize(64, 0);
  CHECK(parse(padded_udp, &info) == ParseError::kOk);
  CHECK(info.dst_port == 2);
  // But padding cannot stand in for a transport header the total length excludes.
  Bytes short_udp = V4().protocol(17).totalLen(24).build(udp(1, 2));
  CHECK(parse(short_udp, &info) == ParseError::kTruncatedL4);
}

TEST_CASE("IPv4 options (IHL 6)") {
  Bytes pkt = V4().protocol(17).options({0x94, 0x04, 0x00, 0x00}).build(udp(68, 67));
  CHECK((pkt[0] & 0x0f) == 6);
  PacketInfo info;
  REQUIRE(parse(pkt, &info) == ParseError::kOk);
  CHECK(info.l4_offset == 24);
  CHECK(info.src_port == 68);
  CHECK(info.dst_port == 67);
  checkAllPrefixes(pkt);
  checkAllPrefixesWithConsistentLength(pkt);
}

TEST_CASE("IPv4 fragments") {
  PacketInfo info;
  SUBCASE("first fragment parses the transport") {
    Bytes pkt = V4().protocol(17).moreFragments(true).build(udp(4000, 53, 32));
    REQUIRE(parse(pkt, &info) == ParseError::kOk);
    CHECK(info.fragment);
    CHECK_FALSE(info.later_fragment);
    CHECK(info.has_ports);
    CHECK(info.dst_port == 53);
    checkAllPrefixes(pkt);
  }
  SUBCASE("first fragment too small for the transport header") {
    Bytes pkt = V4().protocol(6).moreFragments(true).build(Bytes(8, 0));
    CHECK(parse(pkt, &info) == ParseError::kTruncatedL4);
  }
  SUBCASE("later fragment has no transport header") {
    Bytes pkt = V4().protocol(6).moreFragments(true).fragOffset(185).build(Bytes(16, 0));
    REQUIRE(parse(pkt, &info) == ParseError::kOk);
    CHECK(info.fragment);
    CHECK(info.later_fragment);
    CHECK_FALSE(info.has_ports);
    CHECK(info.src_port == 0);
    CHECK(info.protocol == 6);
    CHECK(info.l4_offset == 20);
    checkAllPrefixes(pkt);
  }
  SUBCASE("last fragment (MF clear, offset set), even with no payload") {
    Bytes pkt = V4().protocol(17).fragOffset(3).build({});
    REQUIRE(parse(pkt, &info) == ParseError::kOk);
    CHECK(info.fragment);
    CHECK(info.later_fragment);
    CHECK_FALSE(info.has_ports);
  }
  SUBCASE("DF alone is not a fragment") {
    Bytes pkt = V4().build(tcp(1, 2));
    pkt[6] = 0x40;
    REQUIRE(parse(pkt, &info) == ParseError::kOk);
    CHECK_FALSE(info.fragment);
    CHECK(info.has_ports);
  }
}

TEST_CASE("IPv4 unknown protocol") {
  Bytes pkt = V4().protocol(47).build(Bytes(4, 0));  // GRE
  PacketInfo info;
  REQUIRE(parse(pkt, &info) == ParseError::kOk);
  CHECK(info.protocol == 47);
  CHECK_FALSE(info.has_ports);
  CHECK(info.l4_offset == 20);
  // Opaque protocols need no payload at all.
  CHECK(parse(V4().protocol(132).build({}), &info) == ParseError::kOk);
  CHECK(info.protocol == 132);
}

// --- IPv6 ---

TEST_CASE("IPv6 TCP") {
  Bytes pkt = v6(6, tcp(50000, 8883));
  PacketInfo info;
  REQUIRE(parse(pkt, &info) == ParseError::kOk);
  CHECK(info.src.v6);
  CHECK(info.src.toString() == "fd00:7::20");
  CHECK(info.dst.toString() == "2001:db8::5");
  CHECK(info.protocol == 6);
  CHECK(info.has_ports);
  CHECK(info.src_port == 50000);
  CHECK(info.dst_port == 8883);
  CHECK(info.l4_offset == 40);
  CHECK_FALSE(info.fragment);
  checkAllPrefixes(pkt);
  checkAllPrefixesWithConsistentLength(pkt);
}

TEST_CASE("IPv6 UDP") {
  Bytes pkt = v6(17, udp(546, 547, 20));
  PacketInfo info;
  REQUIRE(parse(pkt, &info) == ParseError::kOk);
  CHECK(info.protocol == 17);
  CHECK(info.src_port == 546);
  CHECK(info.dst_port == 547);
  checkAllPrefixes(pkt);
  checkAllPrefixesWithConsistentLength(pkt);
}

TEST_CASE("IPv6 ICMPv6") {
  Bytes pkt = v6(58, icmp(135));
  PacketInfo info;
  REQUIRE(parse(pkt, &info) == ParseError::kOk);
  CHECK(info.protocol == 58);
  CHECK(info.icmp_type == 135);
  CHECK_FALSE(info.has_ports);
  checkAllPrefixes(pkt);
  checkAllPrefixesWithConsistentLength(pkt);
  // IPv4's ICMP number inside IPv6 is just another protocol.
  REQUIRE(parse(v6(1, icmp(8)), &info) == ParseError::kOk);
  CHECK(info.icmp_type == 0);
}

TEST_CASE("IPv6 header and payload length") {
  PacketInfo info;
  CHECK(parse(Bytes(39, 0x60), &info) == ParseError::kTruncatedL3);
  CHECK(parse(v6(6, tcp(1, 2), 21), &info) == ParseError::kBadHeaderLength);
  CHECK(parse(v6(6, tcp(1, 2), 19), &info) == ParseError::kTruncatedL4);
  CHECK(info.dst.toString() == "2001:db8::5");
  // Trailing bytes past the payload length are ignored.
  Bytes padded = v6(17, udp(1, 2));
  padded.resize(padded.size() + 10, 0xee);
  CHECK(parse(padded, &info) == ParseError::kOk);
}

TEST_CASE("IPv6 hop-by-hop, destination options and fragment headers") {
  Bytes pkt =
      v6(0, cat({extGeneric(60, 0), extGeneric(44, 1), extFragment(17, 0, true), udp(10000, 123)}));
  PacketInfo info;
  REQUIRE(parse(pkt, &info) == ParseError::kOk);
  CHECK(info.protocol == 17);
  CHECK(info.has_ports);
  CHECK(info.dst_port == 123);
  CHECK(info.fragment);
  CHECK_FALSE(info.later_fragment);
  CHECK(info.l4_offset == 40 + 8 + 16 + 8);
  checkAllPrefixes(pkt);
  checkAllPrefixesWithConsistentLength(pkt);

  SUBCASE("routing header") {
    Bytes routed = v6(43, cat({extGeneric(6, 2), tcp(1, 22)}));
    REQUIRE(parse(routed, &info) == ParseError::kOk);
    CHECK(info.dst_port == 22);
    CHECK(info.l4_offset == 40 + 24);
  }
  SUBCASE("later fragment") {
    Bytes later = v6(0, cat({extGeneric(44, 0), extFragment(17, 100, true), Bytes(24, 0)}));
    REQUIRE(parse(later, &info) == ParseError::kOk);
    CHECK(info.protocol == 17);
    CHECK(info.fragment);
    CHECK(info.later_fragment);
    CHECK_FALSE(info.has_ports);
    CHECK(info.l4_offset == 40 + 8 + 8);
    checkAllPrefixes(later);
  }
  SUBCASE("last fragment with no payload") {
    REQUIRE(parse(v6(44, extFragment(6, 3, false)), &info) == ParseError::kOk);
    CHECK(info.later_fragment);
    CHECK_FALSE(info.has_ports);
  }
  SUBCASE("atomic fragment is a whole packet") {
    REQUIRE(parse(v6(44, cat({extFragment(6, 0, false), tcp(1, 2)})), &info) == ParseError::kOk);
    CHECK_FALSE(info.fragment);
    CHECK(info.has_ports);
  }
}

TEST_CASE("IPv6 truncated extension header") {
  PacketInfo info;
  // The hop-by-hop header claims 16 bytes but the payload holds 8.
  Bytes hbh = extGeneric(6, 1);
  hbh.resize(8);
  CHECK(parse(v6(0, hbh), &info) == ParseError::kTruncatedExtHeader);
  // Not even the next-header/length pair.
  CHECK(parse(v6(60, {6}), &info) == ParseError::kTruncatedExtHeader);
  CHECK(parse(v6(60, {}), &info) == ParseError::kTruncatedExtHeader);
  // A fragment header is always 8 bytes.
  CHECK(parse(v6(44, Bytes{17, 0, 0, 0, 0, 0, 0}), &info) == ParseError::kTruncatedExtHeader);
  // AH claiming more than is there.
  Bytes ah = extAh(6, 4);
  ah.resize(20);
  CHECK(parse(v6(51, ah), &info) == ParseError::kTruncatedExtHeader);
  // Payload length cuts an extension header even though the buffer holds it.
  Bytes whole = v6(60, cat({extGeneric(6, 0), tcp(1, 2)}));
  putBe16(whole, 4, 6);
  CHECK(parse(whole, &info) == ParseError::kTruncatedExtHeader);
}

TEST_CASE("IPv6 extension header cap") {
  PacketInfo info;
  auto chain = [](int n) {
    Bytes payload;
    for (int i = 0; i < n; ++i) payload = cat({payload, extGeneric(i + 1 < n ? 60 : 6, 0)});
    return v6(60, cat({payload, tcp(1, 2)}));
  };
  REQUIRE(parse(chain(8), &info) == ParseError::kOk);
  CHECK(info.dst_port == 2);
  CHECK(info.l4_offset == 40 + 64);
  CHECK(parse(chain(9), &info) == ParseError::kTooManyExtHeaders);
  CHECK(parse(chain(40), &info) == ParseError::kTooManyExtHeaders);
  checkAllPrefixes(chain(8));
  checkAllPrefixesWithConsistentLength(chain(8));
}

TEST_CASE("IPv6 AH") {
  // AH length counts 4-byte units minus 2: len 4 => 24 bytes (12 fixed + 12 ICV for HMAC-96).
  Bytes pkt = v6(51, cat({extAh(6, 4), tcp(1, 443)}));
  PacketInfo info;
  REQUIRE(parse(pkt, &info) == ParseError::kOk);
  CHECK(info.protocol == 6);
  CHECK(info.dst_port == 443);
  CHECK(info.l4_offset == 40 + 24);
  checkAllPrefixes(pkt);
  checkAllPrefixesWithConsistentLength(pkt);
}

TEST_CASE("IPv6 ESP, No Next Header and unknown protocols") {
  PacketInfo info;
  REQUIRE(parse(v6(0, cat({extGeneric(50, 0), Bytes(32, 0x5a)})), &info) == ParseError::kOk);
  CHECK(info.protocol == 50);
  CHECK_FALSE(info.has_ports);
  CHECK(info.l4_offset == 48);

  REQUIRE(parse(v6(60, cat({extGeneric(59, 0), Bytes(5, 0)})), &info) == ParseError::kOk);
  CHECK(info.protocol == 59);
  CHECK_FALSE(info.has_ports);

  REQUIRE(parse(v6(132, Bytes(12, 0)), &info) == ParseError::kOk);  // SCTP
  CHECK(info.protocol == 132);
  CHECK_FALSE(info.has_ports);
  CHECK(info.l4_offset == 40);
}

// The flow queues copy only a header prefix of each packet (fw/nfq); the kernel says how long
// the packet really was.
ParseError parsePrefix(const Bytes& whole, size_t copied, PacketInfo* info) {
  return parsePacket(std::span<const uint8_t>(whole.data(), copied), whole.size(), info);
}

TEST_CASE("a copied header prefix parses against the packet's wire length") {
  PacketInfo info;
  const Bytes v4_tcp = V4().build(cat({tcp(40000, 443), Bytes(1400, 0x5a)}));
  REQUIRE(parsePrefix(v4_tcp, 512, &info) == ParseError::kOk);
  CHECK(info.has_ports);
  CHECK(info.dst_port == 443);
  // Without the wire length the same prefix contradicts its total length: refused.
  CHECK(parsePacket(std::span<const uint8_t>(v4_tcp.data(), 512), &info) == ParseError::kBadHeaderLength);
  // A total length beyond the wire length still lies.
  Bytes lying = v4_tcp;
  putBe16(lying, 2, static_cast<uint16_t>(lying.size() + 1));
  CHECK(parsePrefix(lying, 512, &info) == ParseError::kBadHeaderLength);
  // A prefix that stops inside the transport header cannot be judged.
  CHECK(parsePrefix(v4_tcp, 30, &info) == ParseError::kTruncatedL4);

  const Bytes v6_udp = v6(0, cat({extGeneric(60, 0), extGeneric(17, 0), udp(5353, 53, 1200)}));
  REQUIRE(parsePrefix(v6_udp, 512, &info) == ParseError::kOk);
  CHECK(info.dst_port == 53);
  CHECK(info.l4_offset == 40 + 8 + 8);
  // Extension headers longer than the copied prefix: refused as truncated, never read past it.
  const Bytes long_chain = v6(0, cat({extGeneric(60, 40), extGeneric(6, 40), tcp(1, 22), Bytes(200, 0)}));
  REQUIRE(parse(long_chain, &info) == ParseError::kOk);
  CHECK(parsePrefix(long_chain, 512, &info) == ParseError::kTruncatedExtHeader);
  // Every prefix of every length fails cleanly or parses (run under ASan: no read past it).
  for (size_t len = 1; len <= v6_udp.size(); ++len) {
    CAPTURE(len);
    const ParseError e = parsePrefix(v6_udp, len, &info);
    CHECK((e == ParseError::kOk) == (len >= 40 + 16 + 8));
  }
}

TEST_CASE("every single-byte mutation of valid packets is handled") {
  // A cheap stand-in for fuzzing: flip each byte of several packets to a few values and make
  // sure nothing crashes or reads past the buffer (meaningful under ASan).
  const Bytes packets[] = {
      V4().build(tcp(1, 2)),
      V4().protocol(17).options({1, 1, 1, 0}).build(udp(3, 4)),
      v6(0, cat({extGeneric(60, 0), extGeneric(44, 0), extFragment(51, 0, true), extAh(58, 1),
                 icmp(1)})),
  };
  int ok = 0;
  for (const Bytes& original : packets) {
    for (size_t i = 0; i < original.size(); ++i) {
      for (uint8_t v : {0x00, 0x01, 0x0f, 0x3b, 0x45, 0x60, 0x80, 0xff}) {
        Bytes mutated = original;
        mutated[i] = v;
        PacketInfo info;
        if (parse(mutated, &info) == ParseError::kOk) {
          ++ok;
          CHECK(info.l4_offset <= mutated.size());
        }
      }
    }
  }
  CHECK(ok > 0);
}

TEST_CASE("names") {
  CHECK(parseErrorName(ParseError::kOk) == "ok");
  CHECK(parseErrorName(ParseError::kEmpty) == "empty");
  CHECK(parseErrorName(ParseError::kBadVersion) == "bad_version");
  CHECK(parseErrorName(ParseError::kTruncatedL3) == "truncated_l3");
  CHECK(parseErrorName(ParseError::kBadHeaderLength) == "bad_header_length");
  CHECK(parseErrorName(ParseError::kTruncatedExtHeader) == "truncated_ext_header");
  CHECK(parseErrorName(ParseError::kTooManyExtHeaders) == "too_many_ext_headers");
  CHECK(parseErrorName(ParseError::kTruncatedL4) == "truncated_l4");
  CHECK(std::string(protocolName(6)) == "tcp");
  CHECK(std::string(protocolName(17)) == "udp");
  CHECK(std::string(protocolName(1)) == "icmp");
  CHECK(std::string(protocolName(58)) == "icmpv6");
  CHECK(std::string(protocolName(47)) == "other");
  CHECK(std::string(protocolName(0)) == "other");
}

}  // namespace
}  // namespace muzzle
