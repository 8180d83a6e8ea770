#include "fw/mud/mud_ace.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>

#include "fw/common/excerpt.h"
#include "fw/common/net.h"
#include "fw/mud/mud_json.h"
#include "fw/mud/mud_values.h"
#include "fw/policy/policy_syntax.h"

namespace muzzle::mud {
namespace {

using nlohmann::json;

// What an ACE's matches say, gathered from either dialect.
struct Matches {
  std::optional<int64_t> protocol;
  std::string protocol_path;
  std::optional<std::vector<std::string>> src_ports, dst_ports;
  std::string direction;  // "from-device", "to-device" or ""
  std::vector<std::pair<std::string, std::string>> src, dst;  // (target, path); names or CIDRs
};

}  // namespace

AceMapper::AceMapper(MudImport& out, std::string own_authority, std::string profile_name)
    : out_(out), own_authority_(std::move(own_authority)), profile_name_(std::move(profile_name)) {}

void AceMapper::report(MudReportKind kind, const std::string& path, std::string message) {
  out_.reports.push_back(MudReport{kind, path, std::move(message)});
}

const std::string& AceMapper::group(std::string name) {
  auto it = std::find(out_.site_groups.begin(), out_.site_groups.end(), name);
  if (it != out_.site_groups.end()) return *it;
  out_.site_groups.push_back(std::move(name));
  return out_.site_groups.back();
}

Status AceMapper::abstractions(const json& mud, const std::string& path, std::vector<Peer>* peers) {
  if (!mud.is_object()) return bad(path, "expected an object");
  for (const auto& [key, value] : mud.items()) {
    const std::string at = joinPath(path, key);
    const std::string_view k = withoutModule(key);
    if (k == "local-networks") {
      peers->push_back({"local"});
    } else if (k == "my-controller") {
      peers->push_back({group("mud-my-controller-" + groupSafe(profile_name_))});
    } else if (k == "same-manufacturer") {
      peers->push_back({group("mud-mfg-" + groupSafe(own_authority_))});
    } else if (k == "manufacturer" || k == "model" || k == "controller") {
      auto v = text(value, at);
      if (!v.ok()) return v.status();
      if (v->empty()) return bad(at, "empty");
      if (k == "manufacturer") {
        peers->push_back({group("mud-mfg-" + groupSafe(*v))});
      } else if (k == "model") {
        peers->push_back({group("mud-model-" + groupSafe(withoutScheme(*v)))});
      } else if (*v == "urn:ietf:params:mud:dns" || *v == "urn:ietf:params:mud:ntp") {
        // The site's DNS and NTP servers: on a Muzzle box the devices' resolver and time
        // source is the gateway (dns.resolvers, and the presets allow udp 53 and 123 there).
        peers->push_back({"gateway"});
      } else {
        peers->push_back({group("mud-controller-" + groupSafe(withoutScheme(*v)))});
      }
    } else {
      report(MudReportKind::kNotImported, at,
             "unknown MUD abstraction " + quotedExcerpt(key) + ": the entry is not imported");
      return Status::error(StatusCode::kNotFound, "reported");  // the caller skips the entry
    }
  }
  return Status();
}

void AceMapper::addRule(bool egress, v1::Rule rule, MudRuleSource source) {
  auto* rules = egress ? out_.profile.mutable_egress() : out_.profile.mutable_inbound();
  const std::string bytes = rule.SerializeAsString();
  for (const v1::Rule& r : *rules) {
    if (r.SerializeAsString() == bytes) return;  // e.g. the same name in a v4 and a v6 ACL
  }
  *rules->Add() = std::move(rule);
  (egress ? out_.egress_sources : out_.inbound_sources).push_back(std::move(source));
}

Status AceMapper::map(const json& ace, const std::string& path, bool from_device, int family) {
  if (!ace.is_object()) return bad(path, "expected an object (an access-control entry)");
  std::string name;
  for (const char* key : {"name", "rule-name"}) {
    if (ace.contains(key)) {
      auto v = text(ace[key], joinPath(path, key));
      if (!v.ok()) return v.status();
      name = *v;
    }
  }
  // Actions first: an entry without one is malformed whatever it matches.
  const std::string actions_path = joinPath(path, "actions");
  if (!ace.contains("actions")) return bad(path, "no actions");
  const json& actions = ace["actions"];
  if (!actions.is_object()) return bad(actions_path, "expected an object");
  if (!actions.contains("forwarding")) return bad(actions_path, "no forwarding action");
  auto forwarding = text(actions["forwarding"], joinPath(actions_path, "forwarding"));
  if (!forwarding.ok()) return forwarding.status();
  const std::string_view action = withoutModule(*forwarding);
  if (action != "accept" && action != "drop" && action != "reject") {
    return bad(joinPath(actions_path, "forwarding"),
               quotedExcerpt(*forwarding) + " is not a forwarding action (accept, drop, reject)");
  }
  const bool allow = action == "accept";
  for (const auto& [key, value] : actions.items()) {
    if (key != "forwarding")
      report(MudReportKind::kNotImported, joinPath(actions_path, key),
             "action " + quotedExcerpt(key) + " is not imported (Muzzle logs denials; `log: true` "
             "on a rule logs every flow it decides)");
  }

  Matches m;
  std::vector<Peer> peers;
  const std::string mpath = joinPath(path, "matches");
  const json empty = json::object();
  const json& matches = ace.contains("matches") ? ace["matches"] : empty;
  if (!matches.is_object()) return bad(mpath, "expected an object");
  auto widened = [&](const std::string& at, const std::string& what) {
    report(MudReportKind::kWidened, at,
           what + " is not a condition Muzzle rules state: the rule matches without it");
  };
  for (const auto& [key, value] : matches.items()) {
    const std::string at = joinPath(mpath, key);
    if (key == "ipv4" || key == "ipv6" || key == "ipv4-acl" || key == "ipv6-acl") {
      if (!value.is_object()) return bad(at, "expected an object");
      const bool v6 = key.rfind("ipv6", 0) == 0;
      for (const auto& [k, v] : value.items()) {
        const std::string kat = joinPath(at, k);
        if (k == "protocol") {
          auto p = integer(v, kat, 0, 255, "a protocol number (0-255)");
          if (!p.ok()) return p.status();
          m.protocol = *p;
          m.protocol_path = kat;
        } else if (k == "ietf-acldns:src-dnsname" || k == "ietf-acldns:dst-dnsname") {
          auto n = text(v, kat);
          if (!n.ok()) return n.status();
          if (!parseNamePattern(*n) || n->find('*') != std::string::npos)
            return bad(kat, quotedExcerpt(*n) + " is not a DNS name");
          (k == "ietf-acldns:src-dnsname" ? m.src : m.dst).emplace_back(*n, kat);
        } else if (k == (v6 ? "source-ipv6-network" : "source-ipv4-network") ||
                   k == (v6 ? "destination-ipv6-network" : "destination-ipv4-network")) {
          auto n = text(v, kat);
          if (!n.ok()) return n.status();
          auto cidr = Cidr::parse(*n);
          if (!cidr || cidr->base.v6 != v6)
            return bad(kat, quotedExcerpt(*n) + std::string(" is not an IPv") + (v6 ? "6" : "4") +
                                " network (address/prefix)");
          (k.rfind("source", 0) == 0 ? m.src : m.dst).emplace_back(cidr->toString(), kat);
        } else if (k == "source-port-range" || k == "source-port-range-or-operator" ||
                   k == "destination-port-range" || k == "destination-port-range-or-operator") {
          auto p = ports(v, kat);
          if (!p.ok()) return p.status();
          (k.rfind("source", 0) == 0 ? m.src_ports : m.dst_ports) = *p;
        } else {
          widened(kat, quotedExcerpt(k));
        }
      }
    } else if (key == "tcp" || key == "udp") {
      if (!value.is_object()) return bad(at, "expected an object");
      const int64_t proto = key == "tcp" ? 6 : 17;
      if (m.protocol && *m.protocol != proto)
        return bad(at, "protocol " + std::to_string(*m.protocol) + " is not " + key);
      m.protocol = proto;
      m.protocol_path = at;
      for (const auto& [k, v] : value.items()) {
        const std::string kat = joinPath(at, k);
        if (k == "source-port" || k == "destination-port") {
          auto p = ports(v, kat);
          if (!p.ok()) return p.status();
          (k == "source-port" ? m.src_ports : m.dst_ports) = *p;
        } else if (k == "ietf-mud:direction-initiated") {
          auto d = text(v, kat);
          if (!d.ok()) return d.status();
          if (*d != "from-device" && *d != "to-device")
            return bad(kat, quotedExcerpt(*d) + " is not from-device or to-device");
          m.direction = *d;
        } else {
          widened(kat, quotedExcerpt(k));
        }
      }
    } else if (key == "icmp") {
      if (!value.is_object()) return bad(at, "expected an object");
      if (!m.protocol) m.protocol = family == 6 ? 58 : 1;
      for (const auto& [k, v] : value.items()) widened(joinPath(at, k), "ICMP " + quotedExcerpt(k));
    } else if (key == "ietf-mud:mud" || key == "ietf-mud:mud-acl") {
      Status s = abstractions(value, at, &peers);
      if (s.code() == StatusCode::kNotFound) return Status();
      if (!s.ok()) return s;
    } else if (key.rfind("ietf-mud:", 0) == 0) {
      // The draft format (osMUD) puts an abstraction straight into the matches.
      json one = json::object();
      one[key] = value;
      Status s = abstractions(one, mpath, &peers);
      if (s.code() == StatusCode::kNotFound) return Status();
      if (!s.ok()) return s;
    } else {
      widened(at, "match " + quotedExcerpt(key));
    }
  }

  // The far end is the destination of what the device sends and the source of what it gets;
  // the other side of the match is the device itself, which the profile already means.
  for (const auto& [target, at] : from_device ? m.src : m.dst) {
    widened(at, "the device's own address or name " + quotedExcerpt(target));
  }
  for (const auto& [target, at] : from_device ? m.dst : m.src) {
    peers.push_back({target, !Cidr::parse(target).has_value()});
  }
  if (peers.size() > 1) {
    report(MudReportKind::kNotImported, mpath,
           "the entry names " + std::to_string(peers.size()) +
               " far ends that must all match at once; a Muzzle rule names one: not imported");
    return Status();
  }

  std::string proto;
  if (m.protocol) {
    switch (*m.protocol) {
      case 6: proto = "tcp"; break;
      case 17: proto = "udp"; break;
      case 1: case 58: proto = "icmp"; break;
      default:
        report(MudReportKind::kNotImported, m.protocol_path,
               "protocol " + std::to_string(*m.protocol) +
                   ": Muzzle rules name tcp, udp, icmp or any; the entry is not imported");
        return Status();
    }
  }
  if ((m.src_ports || m.dst_ports) && proto != "tcp" && proto != "udp") {
    report(MudReportKind::kNotImported, mpath,
           "ports without tcp or udp: the entry is not imported");
    return Status();
  }

  // Who opens the connection: `direction-initiated` when the file says; otherwise the side
  // whose port is named is the server (a device port alone: the far end connects to it), and
  // with both or neither named, the sender of the packets this ACL matches.
  const auto& device_ports = from_device ? m.src_ports : m.dst_ports;
  const auto& peer_ports = from_device ? m.dst_ports : m.src_ports;
  bool device_opens;
  if (!m.direction.empty()) {
    device_opens = m.direction == "from-device";
  } else if (peer_ports.has_value() != device_ports.has_value()) {
    device_opens = peer_ports.has_value();
  } else {
    device_opens = from_device;
  }
  const bool egress = device_opens;
  const std::string target = peers.empty() ? "" : peers[0].target;
  const std::string shown = target.empty() ? "anywhere" : target;

  if (device_opens != from_device) {
    // Replies: what the device sends back on a connection the far end opened, or gets back on
    // one it opened. Muzzle judges a connection at its first packet and lets its replies pass.
    if (!allow) {
      report(MudReportKind::kNotImported, path,
             "a drop of reply packets (" + shown + "): Muzzle cannot stop the replies of a "
             "connection it allowed; not imported");
      return Status();
    }
    report(MudReportKind::kImplied, path, "");
    replies_.push_back(Reply{out_.reports.size() - 1, egress, target, proto});
    return Status();
  }

  if (!egress && !peers.empty() && peers[0].is_name) {
    report(MudReportKind::kNotImported, path,
           "connections opened by " + quotedExcerpt(target) + " to the device: Muzzle's inbound "
           "rules name addresses, not DNS names (a name is known only from the device's own "
           "lookups); not imported");
    return Status();
  }
  if (device_ports && peer_ports) {
    widened(mpath, egress ? "the device's own (source) port" : "the far end's (source) port");
  }

  v1::Rule rule;
  auto* targets = allow ? rule.mutable_allow() : rule.mutable_deny();
  if (target.empty()) {
    for (const char* t : {"gateway", "local", "internet"}) targets->Add(t);
  } else {
    targets->Add(std::string(target));
  }
  if (!proto.empty()) rule.set_proto(proto);
  const auto& rule_ports = egress ? peer_ports : device_ports;
  if (rule_ports) {
    for (const std::string& p : *rule_ports) rule.add_ports(p);
  }
  addRule(egress, std::move(rule), MudRuleSource{name, path});
  return Status();
}

void AceMapper::finish() {
  for (const Reply& r : replies_) {
    const auto& rules = r.egress ? out_.profile.egress() : out_.profile.inbound();
    int found = -1;
    for (int i = 0; i < rules.size() && found < 0; ++i) {
      const v1::Rule& rule = rules[i];
      const bool same_target =
          r.target.empty() ? rule.allow_size() == 3
                           : std::find(rule.allow().begin(), rule.allow().end(), r.target) !=
                                 rule.allow().end();
      if (same_target && (rule.proto().empty() || rule.proto() == r.proto)) found = i;
    }
    const std::string shown = r.target.empty() ? "anywhere" : r.target;
    const std::string what = r.egress ? "connections the device opens to " + shown
                                      : "connections " + shown + " opens to the device";
    std::string& message = out_.reports[r.report].message;
    if (found >= 0) {
      message = "replies of " + what + " (" + (r.egress ? "egress" : "inbound") + "[" +
                std::to_string(found) + "]): Muzzle lets a connection's replies pass";
    } else {
      out_.reports[r.report].kind = MudReportKind::kNotImported;
      message = "replies of " + what + ", but no entry of the file allows opening those "
                "connections: nothing imported";
    }
  }
}

}  // namespace muzzle::mud
