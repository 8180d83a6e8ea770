// decide(): the verdict for one flow. Pure and allocation-free; called on a queue thread for
// the first packet of every flow (and the next packet of every flow after a policy change).
#include <algorithm>

#include "fw/policy/compiled_policy.h"

namespace muzzle {

const char* actionName(Action a) {
  switch (a) {
    case Action::kAllow: return "allow";
    case Action::kReject: return "reject";
    case Action::kDrop: return "drop";
  }
  return "?";
}

const char* directionName(Direction d) { return d == Direction::kEgress ? "egress" : "inbound"; }

const char* reasonName(Reason r) {
  switch (r) {
    case Reason::kNone: return "";
    case Reason::kNoDns: return "no-dns";
    case Reason::kDnsBypass: return "dns-bypass";
    case Reason::kVolumeLimit: return "volume-limit";
  }
  return "";
}

int CompiledPolicy::segmentByIfindex(uint32_t ifindex) const {
  for (size_t i = 0; i < segments.size(); ++i) {
    if (segments[i].ifindex == ifindex) return static_cast<int>(i);
  }
  return -1;
}

int CompiledPolicy::deviceByMac(MacAddress mac) const {
  auto it = device_by_mac.find(mac.value);
  return it == device_by_mac.end() ? -1 : static_cast<int>(it->second);
}

namespace {

bool protoMatches(ProtoMatch match, uint8_t protocol) {
  switch (match) {
    case ProtoMatch::kAny: return true;
    case ProtoMatch::kTcp: return protocol == static_cast<uint8_t>(L4::kTcp);
    case ProtoMatch::kUdp: return protocol == static_cast<uint8_t>(L4::kUdp);
    case ProtoMatch::kIcmp:
      return protocol == static_cast<uint8_t>(L4::kIcmp) || protocol == static_cast<uint8_t>(L4::kIcmpv6);
  }
  return false;
}

bool portMatches(const std::vector<PortRange>& ports, const PacketInfo& p, uint16_t port) {
  if (ports.empty()) return true;
  // A port rule needs a port: a later fragment has none (conntrack reassembles, so this is rare).
  if (!p.has_ports) return false;
  return std::any_of(ports.begin(), ports.end(),
                     [port](const PortRange& r) { return port >= r.lo && port <= r.hi; });
}

bool builtinsMatch(const CompiledPolicy& policy, uint8_t builtins, int segment, const IpAddress& peer) {
  if (builtins == 0) return false;
  const bool gateway = segment >= 0 && policy.segments[segment].gateway.contains(peer);
  const bool local = segment >= 0 && policy.segments[segment].local.contains(peer);
  if ((builtins & kTargetGateway) && gateway) return true;
  if ((builtins & kTargetLocal) && local && !gateway) return true;
  return (builtins & kTargetInternet) && !gateway && !local && !policy.box_addresses.contains(peer);
}

constexpr uint16_t kDnsPort = 53;
constexpr uint16_t kDnsOverTlsPort = 853;  // DoT (tcp) and DoQ (udp)
constexpr uint16_t kHttpsPort = 443;       // DoH over HTTP/2 (tcp) and HTTP/3 (udp)

// Does this egress flow dodge the resolvers the policy names? `flow.packet` is the flow as
// opened, so a reply-direction packet (the first one judged after a policy change) is asked
// about the same destination as the packet that opened it. The DoH list is a sorted AddressSet:
// a binary search, and only for a flow to port 443.
bool isDnsBypass(const CompiledPolicy& policy, const FlowView& flow, int segment) {
  const PacketInfo& p = *flow.packet;
  if (!policy.dns.enabled || !p.has_ports) return false;
  if (p.protocol != static_cast<uint8_t>(L4::kTcp) && p.protocol != static_cast<uint8_t>(L4::kUdp)) return false;
  if (p.dst_port == kDnsOverTlsPort) return true;
  if (p.dst_port == kHttpsPort) return policy.dns.doh.contains(p.dst);
  if (p.dst_port != kDnsPort) return false;
  return !policy.dns.resolvers.contains(p.dst) &&
         !builtinsMatch(policy, policy.dns.resolver_builtins, segment, p.dst);
}

// Does `peer` (the other end of the flow, seen from the device on `segment`) hit the rule's
// targets?
bool targetMatches(const CompiledPolicy& policy, const CompiledRule& rule, int segment,
                   const IpAddress& peer) {
  if (rule.addresses.contains(peer)) return true;
  for (const auto& group : rule.groups) {
    if (group->contains(peer)) return true;
  }
  return builtinsMatch(policy, rule.builtins, segment, peer);
}

// The first of `names` one of the rule's name patterns matches, or an empty view.
std::string_view matchingName(const CompiledRule& rule, std::span<const std::string_view> names) {
  for (const std::string_view name : names) {
    if (rule.names.matches(name)) return name;
  }
  return {};
}

// Judges one managed side of the flow with its profile's rules for `direction`.
Verdict judgeSide(const CompiledPolicy& policy, const FlowView& flow, const Endpoint& side,
                  Direction direction) {
  const PacketInfo& p = *flow.packet;
  Verdict v;
  v.direction = direction;
  v.device = side.mac ? policy.deviceByMac(*side.mac) : -1;
  if (v.device >= 0) {
    v.profile = static_cast<int>(policy.devices[v.device].profile);  // listed always wins
  } else if (side.classified_profile >= 0) {
    v.profile = side.classified_profile;
  } else {
    v.profile = static_cast<int>(policy.default_profile);
  }
  const CompiledProfile& profile = policy.profiles[v.profile];
  const auto& rules = direction == Direction::kEgress ? profile.egress : profile.inbound;
  // Egress rules name where the device goes (destination and its port); inbound rules name who
  // comes in (the source) and which of the device's ports.
  const IpAddress& peer = direction == Direction::kEgress ? p.dst : p.src;
  if (direction == Direction::kEgress && isDnsBypass(policy, flow, side.segment)) {
    v.action = profile.otherwise;
    v.reason = Reason::kDnsBypass;
    return v;
  }
  // Names only ever describe where a device goes: inbound rules carry none (the loader refuses).
  const std::span<const std::string_view> names =
      direction == Direction::kEgress ? flow.dst_names : std::span<const std::string_view>();
  bool name_rule_skipped = false;  // a name rule fit by proto/port, but the device knows no name
  for (const CompiledRule& rule : rules) {
    // Outside its window a rule is not there: the next rule, or `otherwise`, decides.
    if (rule.schedule >= 0 && ((flow.active_schedules >> rule.schedule) & 1) == 0) continue;
    if (!protoMatches(rule.proto, p.protocol)) continue;
    if (!portMatches(rule.ports, p, p.dst_port)) continue;
    if (!targetMatches(policy, rule, side.segment, peer)) {
      if (rule.names.empty()) continue;
      if (names.empty()) {
        // Only an internet destination can be a "hard-coded IP": the gateway and the local
        // network are reached by address as a matter of course.
        name_rule_skipped = name_rule_skipped ||
                            builtinsMatch(policy, kTargetInternet, side.segment, peer);
        continue;
      }
      v.name = matchingName(rule, names);
      if (v.name.empty()) continue;
    }
    v.action = rule.action;
    v.rule = &rule;
    v.log = rule.log;
    if (v.name.empty() && name_rule_skipped) v.reason = Reason::kNoDns;
    return v;
  }
  v.action = profile.otherwise;
  if (name_rule_skipped) v.reason = Reason::kNoDns;
  if (!names.empty()) v.name = names[0];  // what the destination was called, for the log
  return v;
}

bool classGroupHolds(const ClassGroup& group, const IpAddress& peer,
                     std::span<const std::string_view> peer_names) {
  if (group.addresses && group.addresses->contains(peer)) return true;
  if (!group.names) return false;
  for (const std::string_view name : peer_names) {
    if (group.names->matches(name)) return true;
  }
  return false;
}

}  // namespace

uint8_t trafficClassOf(const CompiledPolicy& policy, int profile, int segment,
                       const IpAddress& peer, std::span<const std::string_view> peer_names) {
  if (profile >= 0) {
    for (const ClassGroup& group : policy.profiles[profile].class_groups) {
      if (classGroupHolds(group, peer, peer_names)) return group.traffic_class;
    }
  }
  if (policy.box_addresses.contains(peer)) return kClassGateway;
  if (segment >= 0 && policy.segments[segment].gateway.contains(peer)) return kClassGateway;
  if (segment >= 0 && policy.segments[segment].local.contains(peer)) return kClassLocal;
  return kClassInternet;
}

Verdict decide(const CompiledPolicy& policy, const FlowView& flow) {
  // The box itself is trusted: what it opens towards a device (an admin's ping, say) is allowed.
  if (flow.src.is_box) return Verdict{};
  const bool src_managed = flow.src.segment >= 0;
  const bool dst_managed = flow.dst.segment >= 0 && !flow.dst.is_box;
  Verdict v;
  int class_profile = -1;
  if (src_managed) {
    v = judgeSide(policy, flow, flow.src, Direction::kEgress);
    class_profile = v.profile;
    if (v.action == Action::kAllow && dst_managed) {
      v = judgeSide(policy, flow, flow.dst, Direction::kInbound);
    }
  } else if (dst_managed) {
    v = judgeSide(policy, flow, flow.dst, Direction::kInbound);
    class_profile = v.profile;
  } else {
    return v;  // neither end is managed: not Muzzle's business
  }
  if (v.action == Action::kAllow) {
    // Seen from the source device: the destination and the names it knows it by. Seen from a
    // destination device: the source, whose names it never asked for.
    v.traffic_class =
        src_managed ? trafficClassOf(policy, class_profile, flow.src.segment, flow.packet->dst,
                                     flow.dst_names)
                    : trafficClassOf(policy, class_profile, flow.dst.segment, flow.packet->src, {});
  }
  return v;
}

}  // namespace muzzle
