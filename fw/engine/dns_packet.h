// The DNS part of a queued packet, for the Judge's DNS paths: the UDP payload, or the TCP
// segment's sequence number, flags and payload. The packet was already checked by
// parsePacket(); this only finds where the transport payload starts and ends.
#pragma once

#include <cstdint>
#include <span>

#include "fw/dns/dns_tcp_stream.h"
#include "fw/packet/packet.h"

namespace muzzle {

struct DnsPacket {
  bool tcp = false;
  DnsTcpSegment segment;  // for UDP only `payload` is set
};

// False when there is nothing whole to read: a fragment (conntrack reassembles before the queue,
// so one seen here is odd and read as nothing), a queue copy cut short of the
// packet's end (a partial segment would corrupt a TCP stream), or a TCP data offset that runs
// past the packet. Bytes past the IP length (link-layer padding) are never part of the payload.
inline bool dnsPacketOf(std::span<const uint8_t> ip, const PacketInfo& info, DnsPacket* out) {
  if (info.fragment || !info.has_ports || ip.empty()) return false;
  const bool v6 = (ip[0] >> 4) == 6;
  if (ip.size() < (v6 ? 40u : 20u)) return false;
  const size_t end = v6 ? 40 + (size_t{ip[4]} << 8 | ip[5]) : (size_t{ip[2]} << 8 | ip[3]);
  if (end > ip.size() || end < info.l4_offset) return false;
  const std::span<const uint8_t> l4 = ip.subspan(info.l4_offset, end - info.l4_offset);
  out->tcp = info.protocol == 6;
  if (!out->tcp) {
    if (l4.size() < 8) return false;
    out->segment = DnsTcpSegment{};
    out->segment.payload = l4.subspan(8);
    return true;
  }
  if (l4.size() < 20) return false;
  const size_t header = static_cast<size_t>(l4[12] >> 4) * 4;
  if (header < 20 || header > l4.size()) return false;
  out->segment.seq = uint32_t{l4[4]} << 24 | uint32_t{l4[5]} << 16 | uint32_t{l4[6]} << 8 | l4[7];
  const uint8_t flags = l4[13];
  out->segment.fin = (flags & 0x01) != 0;
  out->segment.syn = (flags & 0x02) != 0;
  out->segment.rst = (flags & 0x04) != 0;
  out->segment.payload = l4.subspan(header);
  return true;
}

}  // namespace muzzle
