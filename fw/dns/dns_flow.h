// DnsFlowKey: which conversation a DNS message belongs to. Questions and TCP streams are keyed
// by it, so an answer can only answer a question asked on the same flow by the same device.
// Always written from the device's side: the device is the client that sent the query.
#pragma once

#include <cstdint>

#include "fw/common/keyed_hash.h"
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

// A hash for tables keyed by flow, keyed by the process's secret (fw/common/keyed_hash.h), so a
// device that picks its ports and addresses cannot aim many keys at one bucket.
inline uint64_t hashDnsFlow(const DnsFlowKey& k) {
  uint32_t w[12];
  __builtin_memcpy(w, k.client.bytes.data(), 16);
  __builtin_memcpy(w + 4, k.server.bytes.data(), 16);
  w[8] = static_cast<uint32_t>(k.device.value);
  w[9] = static_cast<uint32_t>(k.device.value >> 32) | (k.client.v6 ? 1u << 16 : 0u) | (k.server.v6 ? 1u << 17 : 0u) |
         uint32_t{k.protocol} << 24;
  w[10] = k.client_port;
  w[11] = k.server_port;
  return keyedHashWords(w, 12);
}

}  // namespace muzzle
