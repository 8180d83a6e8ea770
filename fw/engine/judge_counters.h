// JudgeCounters: what the Judge counted since start (fw/engine/judge.h), copied out on the engine
// thread under the Judge's mutex. A plain value: the management plane reads it through
// EngineStatus (fw/engine/engine_control.h) without depending on the Judge itself.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "fw/dns/dns_message.h"

namespace muzzle {

struct JudgeCounters {
  uint64_t packets = 0;
  uint64_t allowed = 0;
  uint64_t rejected = 0;
  uint64_t dropped = 0;
  // Allowed new connections dropped by the connection limit (in `dropped` too).
  uint64_t connection_limited = 0;
  uint64_t malformed = 0;  // packets that failed to parse: dropped and counted
  std::array<uint64_t, 8> malformed_by_error{};  // indexed by ParseError
  uint64_t new_devices = 0;
  // First packets (and DHCP requests) of devices their segment's new-device admission refused
  // (fw/device/device_admission.h): dropped (DHCP: accepted), not recorded.
  uint64_t devices_refused = 0;
  uint64_t neighbour_reads = 0;
  uint64_t dns_answers = 0;    // DNS answers to devices seen (every packet, not flows)
  uint64_t dns_answers_read_only = 0;  // of them, on a flow the kernel allows: not judged again
  uint64_t dns_learned = 0;    // (address, name) bindings recorded
  uint64_t dns_malformed = 0;  // answers that failed to parse: passed unlearned
  std::array<uint64_t, static_cast<size_t>(DnsError::kCount)> dns_malformed_by_error{};
  uint64_t dns_unsolicited = 0;       // answers to no outstanding question: passed unlearned
  uint64_t dns_answers_dropped = 0;   // answers on flows the policy does not allow
  uint64_t dns_bypass = 0;            // flows refused as dns-bypass
  uint64_t no_dns = 0;                // flows judged without a learned name where one could apply
  uint64_t volume_blocked = 0;        // flows refused because a volume limit blocks them
  uint64_t dhcp_requests = 0;         // DHCP requests from devices read (and accepted)
  uint64_t dhcp_malformed = 0;        // DHCP requests that did not parse: accepted, not learned
  uint64_t reassigned = 0;            // devices whose classification changed their profile
  uint64_t spoofed = 0;               // packets from an address bound to another device: dropped
  uint64_t dhcp_mac_mismatch = 0;     // DHCP requests whose chaddr is not the frame's sender
  uint64_t reassign_limited = 0;      // DHCP-driven profile changes refused by the rate limit
  uint64_t dhcp_leases = 0;           // DHCPACKs from the box's server read (address bindings)
  uint64_t dhcp_replies_ignored = 0;  // other DHCP replies: offers, NAKs, malformed, not the box's
  uint64_t addresses_moved = 0;       // addresses that changed owner (lease, or owner gone)
  uint64_t learn_observed = 0;        // flows allowed only because their device is observed
};

}  // namespace muzzle
