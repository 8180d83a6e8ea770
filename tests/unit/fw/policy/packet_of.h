// packet(src, dst, proto, dport): the PacketInfo a policy decides on, for the policy tests
// (source port 40000 when the protocol has ports).
#pragma once

#include <cstdint>

#include "fw/packet/packet.h"

namespace muzzle::testing {

inline PacketInfo packet(const char* src, const char* dst, L4 proto, uint16_t dport) {
  PacketInfo p;
  p.src = *IpAddress::parse(src);
  p.dst = *IpAddress::parse(dst);
  p.protocol = static_cast<uint8_t>(proto);
  p.has_ports = proto == L4::kTcp || proto == L4::kUdp;
  p.src_port = p.has_ports ? 40000 : 0;
  p.dst_port = dport;
  return p;
}

}  // namespace muzzle::testing
