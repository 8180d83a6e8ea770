#include "fw/learn/proposal.h"

#include <libpsl.h>

#include <algorithm>
#include <map>
#include <set>

namespace muzzle {
namespace {

constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;
constexpr uint8_t kIcmp = 1;
constexpr uint8_t kIcmp6 = 58;

// The list built into libpsl (Debian's is built with it); else the system's copy, read once.
// Never freed: it lives as long as the process, and psl_builtin's is static anyway.
const psl_ctx_t* publicSuffixes() {
  static const psl_ctx_t* psl = [] {
    const psl_ctx_t* p = psl_builtin();
    return p != nullptr ? p : psl_latest(nullptr);
  }();
  return psl;
}

std::string_view parentOf(std::string_view name) {
  size_t dot = name.find('.');
  return dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
}

const char* protoText(uint8_t p) {
  switch (p) {
    case kTcp: return "tcp";
    case kUdp: return "udp";
    case kIcmp:
    case kIcmp6: return "icmp";
    default: return nullptr;  // not something a rule can say: left out
  }
}

bool isSsdp(const IpAddress& ip) {
  static const IpAddress v4 = *IpAddress::parse("239.255.255.250");
  static const IpAddress v6 = *IpAddress::parse("ff02::c");
  return ip == v4 || ip == v6;
}

bool contains(const AddressSet* set, const IpAddress& ip) {
  return set != nullptr && set->contains(ip);
}

std::string targetOf(const LearnedFlow& f) {
  return f.key.name.empty() ? f.key.address.toString() : f.key.name;
}

// The finding a flow is, if any.
std::optional<Finding> findingOf(const LearnedFlow& f, const ProposalContext& ctx) {
  Finding out;
  out.target = targetOf(f);
  const char* proto = protoText(f.key.protocol);
  out.proto = proto != nullptr ? proto : std::to_string(f.key.protocol);
  out.port = f.key.port;
  out.count = f.count;
  const bool tcp_udp = f.key.protocol == kTcp || f.key.protocol == kUdp;
  const bool to_box = contains(ctx.box_addresses, f.last_address);
  if (tcp_udp && f.key.port == 853) {
    out.kind = FindingKind::kDnsBypass;
    out.why = "DNS over TLS: lookups the box cannot see, so names cannot be enforced";
    return out;
  }
  if (tcp_udp && f.key.port == 53 && !to_box && !contains(ctx.resolvers, f.last_address)) {
    out.kind = FindingKind::kDnsBypass;
    out.why = "DNS to a resolver other than the box: names it learns there cannot be enforced";
    return out;
  }
  if (f.key.protocol == kUdp && (f.key.port == 1900 || isSsdp(f.last_address))) {
    out.kind = FindingKind::kUpnp;
    out.why = "UPnP/SSDP: asks the network to open ports towards the device";
    return out;
  }
  if (tcp_udp && (f.key.port == 3478 || f.key.port == 5349 || f.key.port == 19302)) {
    out.kind = FindingKind::kStun;
    out.why = "STUN: finds a way through the firewall for peer-to-peer relays";
    return out;
  }
  if (f.to_device) {
    out.kind = FindingKind::kLateral;
    out.why = "a connection to another device on a managed segment";
    return out;
  }
  const bool to_resolver = tcp_udp && f.key.port == 53 && contains(ctx.resolvers, f.last_address);
  if (f.key.name.empty() && !to_box && !to_resolver) {
    out.kind = FindingKind::kHardCodedIp;
    out.why = "an address the device never looked up: a name rule cannot cover it";
    return out;
  }
  return std::nullopt;
}

// Destinations that share a protocol and ports become one rule.
struct RuleKey {
  std::string proto;
  std::vector<uint16_t> ports;
  auto operator<=>(const RuleKey&) const = default;
};
struct Learned {
  std::set<uint16_t> ports;
  uint64_t count = 0;
};

void addRules(const std::map<std::pair<std::string, std::string>, Learned>& by_dest,
              google::protobuf::RepeatedPtrField<v1::Rule>* out,
              std::vector<std::string>* comments) {
  std::map<RuleKey, std::pair<std::vector<std::string>, uint64_t>> rules;
  for (const auto& [dest, learned] : by_dest) {
    RuleKey key{dest.second, {}};
    if (dest.second != "icmp") key.ports.assign(learned.ports.begin(), learned.ports.end());
    auto& rule = rules[key];
    rule.first.push_back(dest.first);
    rule.second += learned.count;
  }
  for (const auto& [key, dests] : rules) {
    v1::Rule rule;
    for (const std::string& d : dests.first) rule.add_allow(d);
    rule.set_proto(key.proto);
    for (uint16_t p : key.ports) rule.add_ports(std::to_string(p));
    // The site's rules come first; one it already has word for word is not added again.
    const bool present = std::any_of(out->begin(), out->end(), [&](const v1::Rule& r) {
      return r.SerializeAsString() == rule.SerializeAsString();
    });
    if (present) continue;
    *out->Add() = std::move(rule);
    comments->push_back("learned: " + std::to_string(dests.second) + " connection" +
                        (dests.second == 1 ? "" : "s"));
  }
}

}  // namespace

const char* findingKindName(FindingKind k) {
  switch (k) {
    case FindingKind::kHardCodedIp: return "hard-coded-ip";
    case FindingKind::kDnsBypass: return "dns-bypass";
    case FindingKind::kUpnp: return "upnp";
    case FindingKind::kStun: return "stun";
    case FindingKind::kLateral: return "lateral";
  }
  return "unknown";
}

std::string registrableDomain(std::string_view name) {
  const psl_ctx_t* psl = publicSuffixes();
  if (psl == nullptr || !isRecordableName(name)) return "";
  const std::string text(name);
  const char* r = psl_registrable_domain(psl, text.c_str());
  return r != nullptr ? std::string(r) : std::string();
}

std::string siblingPattern(std::span<const std::string> names) {
  if (names.size() < 2) return "";
  const std::string_view parent = parentOf(names.front());
  if (parent.empty()) return "";
  for (const std::string& n : names) {
    if (parentOf(n) != parent) return "";
  }
  // The parent must be the registrable domain or lie below it: `*.example.co.uk` may be said,
  // `*.co.uk` never (every name under it belongs to someone else).
  const std::string registrable = registrableDomain(names.front());
  if (registrable.empty() || parent.size() < registrable.size()) return "";
  return "*." + std::string(parent);
}

Proposal proposeProfile(std::span<const LearnedFlow> flows, const v1::Profile* current,
                        const ProposalContext& ctx) {
  Proposal out;
  if (current != nullptr) out.profile = *current;
  std::vector<const LearnedFlow*> egress;
  std::vector<const LearnedFlow*> inbound;
  for (const LearnedFlow& f : flows) {
    if (protoText(f.key.protocol) == nullptr) continue;
    // The site's rules already allow it: nothing to add, nothing to report.
    if (f.allowed_by_rule) {
      ++out.flows_covered;
      continue;
    }
    if (f.key.direction == Direction::kInbound) {
      inbound.push_back(&f);
      continue;
    }
    if (auto finding = findingOf(f, ctx)) {
      out.findings.push_back(std::move(*finding));
      continue;
    }
    egress.push_back(&f);
  }

  // Sibling names, by parent, to their `*.parent` pattern.
  std::map<std::string, std::set<std::string>> by_parent;
  for (const LearnedFlow* f : egress) {
    if (!f->key.name.empty()) by_parent[std::string(parentOf(f->key.name))].insert(f->key.name);
  }
  std::map<std::string, std::string> pattern_of;
  for (const auto& [parent, names] : by_parent) {
    const std::vector<std::string> list(names.begin(), names.end());
    const std::string pattern = siblingPattern(list);
    if (pattern.empty()) continue;
    for (const std::string& n : list) pattern_of[n] = pattern;
  }

  std::map<std::pair<std::string, std::string>, Learned> egress_dests;  // (target, proto)
  for (const LearnedFlow* f : egress) {
    // findingOf left names, the box's addresses and DNS to the policy's resolvers.
    std::string dest = contains(ctx.box_addresses, f->last_address) ? std::string("gateway")
                                                                      : f->key.address.toString();
    if (!f->key.name.empty()) {
      auto p = pattern_of.find(f->key.name);
      dest = p != pattern_of.end() ? p->second : f->key.name;
    }
    Learned& l = egress_dests[{dest, protoText(f->key.protocol)}];
    l.ports.insert(f->key.port);
    l.count += f->count;
    ++out.flows_used;
  }
  std::map<std::pair<std::string, std::string>, Learned> inbound_dests;
  for (const LearnedFlow* f : inbound) {
    Learned& l = inbound_dests[{f->key.address.toString(), protoText(f->key.protocol)}];
    l.ports.insert(f->key.port);
    l.count += f->count;
    ++out.flows_used;
  }
  // Comments line up with the rules, egress then inbound; the site's own rules get none.
  std::vector<std::string> egress_comments(out.profile.egress_size());
  std::vector<std::string> inbound_comments(out.profile.inbound_size());
  addRules(egress_dests, out.profile.mutable_egress(), &egress_comments);
  addRules(inbound_dests, out.profile.mutable_inbound(), &inbound_comments);
  out.rule_comments = std::move(egress_comments);
  out.rule_comments.insert(out.rule_comments.end(), inbound_comments.begin(),
                           inbound_comments.end());
  std::sort(out.findings.begin(), out.findings.end(), [](const Finding& a, const Finding& b) {
    return std::tie(a.kind, a.target, a.proto, a.port) < std::tie(b.kind, b.target, b.proto, b.port);
  });
  return out;
}

}  // namespace muzzle
