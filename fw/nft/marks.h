// The contract between the kernel ruleset and the engine: what the 32-bit packet and conntrack
// marks mean inside table `inet muzzle`.
//
//   bits 31..8  policy generation (1..2^24-1)
//   bits 7..2   traffic class of an allowed flow (0..63: CompiledPolicy::traffic_classes)
//   bits 1..0   verdict code
//
// The traffic class says where an allowed flow goes, seen from its device (the box, the local
// network, the internet, an address group its profile names): accounting reads it back from the
// conntrack entry with the connection's counts (conntrack_counts.h), so the kernel splits each
// device's traffic by destination without a rule per class. Accounting's dump asks the kernel
// for marks whose bit 1 is clear (verdict codes 0 and 1: allowed, or not judged). Refused flows
// carry class 0. Rules that match an allowed flow therefore compare the mark under kAllowMask,
// which ignores the class.
//
// The engine answers a queued packet with NF_REPEAT and a packet mark carrying the generation
// and the verdict; the ruleset looks that mark up in a verdict map of its own (`judge`'s first
// rule), whose chains (`save-allowed`, `save-rejected`, `save-dropped`) copy it to the conntrack
// mark and act on it. Later packets of the flow meet the verdict map on the conntrack mark, the
// first rule of the forward and input base chains, and never reach user space (unless muzzled
// reads them, below). Only marks
// of the current generation are in the map, so a policy change re-judges every flow on its next
// packet.
//
// Verdict code 0 under a non-zero generation (kAllowInspected) is set by the ruleset alone,
// never by the engine: when it saves an allowed verdict for a connection with port 53 or 67 on
// either side (as opened), it clears the code, so that the map sends the flow's later packets to
// chain `inspected`, where the packets muzzled reads (DNS answers and queries, DHCP requests) are
// still queued and the rest accepted. The class bits stay, for accounting.
//
// Before queueing, the ruleset sets the packet mark to a hint (generation 0, bits below) that
// tells the engine whether the packet travels in the connection's reply direction, and whether
// it is a DNS answer on its way to a managed device (queued on every packet, whatever its flow's
// verdict: the engine answers those with NF_ACCEPT or NF_DROP, never NF_REPEAT, after learning
// the names in them: the packet mark's map stands ahead of the rules that queue them, so a repeat
// would pass unread).
//
// DNS queries from a device (chain `dns-query`, reached after the packet mark's map, or from
// `inspected`) are queued on every packet too, so the engine knows which questions an answer may
// answer:
//   kHintDnsQuery alone: the flow is undecided; judge it like any first packet (NF_REPEAT with a
//     verdict mark, which the packet mark's map acts on before `dns-query` is reached again)
//     and read the question if it is allowed;
//   kHintDnsQuery | kHintFlowAllowed: the conntrack mark already allows the flow under the
//     current generation; read the question and answer NF_ACCEPT.
// A query on a refused flow is refused in the kernel. A DNS answer on a flow the conntrack mark
// allows under the current generation carries kHintFlowAllowed too (with kHintReplyDirection):
// the engine reads it and answers NF_ACCEPT without judging the flow again; any other answer is
// judged (one on a flow refused since is dropped).
//
// DHCP requests from devices to the box (whatever their flow's verdict: `input`'s first rule) and
// DHCP replies the box's own server sends to a segment are queued on every packet too, and
// answered NF_ACCEPT.
#pragma once

#include <cstdint>

namespace muzzle {

// kAllowInspected is the ruleset's own (see above): the engine answers kAllow.
enum class VerdictCode : uint8_t { kAllowInspected = 0, kAllow = 1, kReject = 2, kDrop = 3 };

constexpr uint32_t kMaxGeneration = 0xFFFFFF;
// Bumped whenever what a saved conntrack mark means to the ruleset changes, so that a muzzled of
// the new meaning starts on a new generation (GenerationStore keys the generation by the policy
// digest and this) and honours no mark saved under the old one. 2: an allowed connection with
// port 53 or 67 is saved with verdict code 0; a mark of 1 for such a connection, saved before,
// would let its DNS answers pass unread.
constexpr uint32_t kMarkContractVersion = 2;
constexpr uint32_t kHintReplyDirection = 0x10;  // packet mark set by the ruleset before queueing
// A connection's first packet (ct state new), on a packet queued to be judged, when muzzled counts
// each device's connections (RulesetSpec::new_connection_hint): an allowed verdict for it adds one
// to the device's count (fw/device/connection_counts.h); the same rule sets the connection's
// label to the sender's MAC address, by which each accounting read counts them anew. A flow judged
// again (after a policy change) holds its connection already and carries no such hint. (0x20 was kHintDohDestination
// until decide() looked the DoH list up itself, 2026-12-07.)
constexpr uint32_t kHintNewConnection = 0x20;
constexpr uint32_t kHintDnsAnswer = 0x40;
constexpr uint32_t kHintDhcpRequest = 0x80;  // a DHCP request from a device: read it, accept it
constexpr uint32_t kHintDnsQuery = 0x08;     // a DNS query from a device (see above)
constexpr uint32_t kHintFlowAllowed = 0x04;  // with kHintDnsQuery or kHintDnsAnswer: its flow is allowed
// A DHCP reply from the box's own server (output hook) to a segment: read the lease, accept it.
// Every hint is a whole mark the ruleset sets before queueing (generation 0, so it never equals a
// verdict mark): no verdict code bits are ever left in it.
constexpr uint32_t kHintDhcpReply = 0x02;

constexpr uint32_t kMaxTrafficClass = 63;
constexpr uint32_t kTrafficClassShift = 2;
constexpr uint32_t kTrafficClassBits = kMaxTrafficClass << kTrafficClassShift;  // 0xfc
// The bits an allowed verdict mark is compared under: generation and verdict code. The verdict
// map looks every conntrack mark up under it (refused marks carry class 0).
constexpr uint32_t kAllowMask = ~kTrafficClassBits;
constexpr uint32_t kVerdictCodeBits = 0x3;

constexpr uint32_t verdictMark(uint32_t generation, VerdictCode code, uint32_t traffic_class = 0) {
  return (generation & kMaxGeneration) << 8 |
         (traffic_class & kMaxTrafficClass) << kTrafficClassShift | static_cast<uint8_t>(code);
}

// The traffic class bits of a (conntrack) mark, as accounting reads them.
constexpr uint32_t trafficClassOf(uint32_t mark) {
  return (mark & kTrafficClassBits) >> kTrafficClassShift;
}

}  // namespace muzzle
