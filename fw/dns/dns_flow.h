// DnsFlowKey: which conversation a DNS message belongs to. Questions and TCP streams are keyed
// by it, so an answer can only answer a question asked on the same flow by the same device.
// Always written from the device's side: the device is the client that sent the query.
#pragma once

#include <cstdint>
#include <cstring>

#include "fw/common/net.h"

namespace muzzle {

struct DnsFlowKey {
  MacAddress device;
  IpAddress client;  // the device's address
  IpAddress server;  // the resolver's
  uint16_t client_port = 0;
  uint16_t server_port = 0;
  uint8_t protocol = 0;  // IPPROTO_UDP or IPPROTO_TCP
  bool operator==(const DnsFlowKey&) const = default;
};

// A hash for tables keyed by flow. `seed` is chosen at random by each table, so a device that
// picks its ports and addresses cannot aim many keys at one bucket.
inline uint64_t hashDnsFlow(const DnsFlowKey& k, uint64_t seed) {
  auto mix = [](uint64_t h, uint64_t v) {
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    h *= 0xFF51AFD7ED558CCDull;
    return h ^ (h >> 33);
  };
  uint64_t a, b, c, d;
  std::memcpy(&a, k.client.bytes.data(), 8);
  std::memcpy(&b, k.client.bytes.data() + 8, 8);
  std::memcpy(&c, k.server.bytes.data(), 8);
  std::memcpy(&d, k.server.bytes.data() + 8, 8);
  uint64_t h = mix(seed, k.device.value);
  h = mix(h, a);
  h = mix(h, b);
  h = mix(h, c);
  h = mix(h, d);
  return mix(h, uint64_t{k.client_port} << 24 | uint64_t{k.server_port} << 8 | k.protocol);
}

}  // namespace muzzle
