#include "fw/engine/judge.h"

#include <linux/netfilter.h>

#include <utility>

#include "fw/nft/marks.h"

namespace muzzle {
namespace {

// How often an unknown address may trigger a read of the kernel neighbour table: a scan of
// unused addresses from the internet must not turn into a netlink dump per packet.
constexpr auto kNeighbourReadInterval = std::chrono::seconds(1);

std::string endpointText(const IpAddress& ip, uint16_t port, bool has_ports) {
  std::string s = ip.v6 ? "[" + ip.toString() + "]" : ip.toString();
  if (has_ports) s += ":" + std::to_string(port);
  return s;
}

VerdictCode codeOf(Action a) {
  switch (a) {
    case Action::kAllow: return VerdictCode::kAllow;
    case Action::kReject: return VerdictCode::kReject;
    case Action::kDrop: return VerdictCode::kDrop;
  }
  return VerdictCode::kDrop;
}

}  // namespace

void Judge::setPolicy(std::shared_ptr<const CompiledPolicy> policy, uint32_t generation) {
  NameCacheLimits limits = names_.limits();
  limits.per_device = policy->dns.cache_per_device;
  limits.grace = std::chrono::seconds(policy->dns.ttl_grace_seconds);
  names_.setLimits(limits);
  policy_ = std::move(policy);
  generation_ = generation;
}

void Judge::observe(MacAddress mac, const IpAddress& ip, int segment) {
  auto [record, created] = inventory_.observe(mac, ip, policy_->segments[segment].name);
  if (created) {
    classifiedProfile(mac);  // fills in the profile and why, for the event
    logNewDevice(*record);
  }
}

int Judge::classifiedProfile(MacAddress mac) {
  const CompiledPolicy& policy = *policy_;
  v1::DeviceRecord* record = inventory_.find(mac);
  if (record == nullptr) return -1;
  int profile = -1;
  const char* assignment = "default";
  std::string_view by;
  if (int listed = policy.deviceByMac(mac); listed >= 0) {
    profile = static_cast<int>(policy.devices[listed].profile);
    assignment = "listed";
    by = policy.devices[listed].name;
  } else if (auto rule = classify(policy.classify, *record)) {
    profile = static_cast<int>(policy.classify[*rule].profile);
    assignment = "classified";
    by = policy.classify[*rule].label;
  }
  const std::string& name = policy.profiles[profile >= 0 ? profile : policy.default_profile].name;
  // Only writes on change: this runs for the first packet of every flow of unlisted devices.
  if (record->profile() != name) record->set_profile(name);
  if (record->assignment() != assignment) record->set_assignment(assignment);
  if (record->assigned_by() != by) record->set_assigned_by(std::string(by));
  return std::string_view(assignment) == "classified" ? profile : -1;
}

PacketVerdict Judge::onDhcpRequest(const QueuedPacket& q, const PacketInfo& info, int segment) {
  ++counters_.dhcp_requests;
  DhcpInfo dhcp;
  const size_t at = info.l4_offset + 8u;  // past the UDP header
  DhcpError err = at <= q.payload.size() && info.has_ports && segment >= 0
                      ? parseDhcp(q.payload.subspan(at), &dhcp)
                      : DhcpError::kTruncated;
  if (err != DhcpError::kOk) {
    ++counters_.dhcp_malformed;
    log_.writeLimited(LogLine("dhcp-malformed").add("error", dhcpErrorName(err)).add("bytes", q.payload.size()));
    return PacketVerdict{NF_ACCEPT, std::nullopt};  // the lease server judges its own input
  }
  const v1::DeviceRecord* before = inventory_.find(dhcp.client_mac);
  const std::string old_profile = before != nullptr ? before->profile() : std::string();
  const bool changed = inventory_.observeDhcp(dhcp, policy_->segments[segment].name);
  if (!changed) return PacketVerdict{NF_ACCEPT, std::nullopt};
  classifiedProfile(dhcp.client_mac);
  const v1::DeviceRecord& record = *inventory_.find(dhcp.client_mac);
  if (old_profile.empty()) {
    logNewDevice(record);
  } else if (record.profile() != old_profile) {
    // The device already has flows judged by its old profile: have them judged again.
    ++counters_.reassigned;
    log_.write(LogLine("device-reassigned")
                   .add("mac", record.mac())
                   .add("from", old_profile)
                   .add("profile", record.profile())
                   .add("assignment", record.assignment())
                   .add("by", record.assigned_by()));
    if (on_reassigned_) on_reassigned_();
  }
  return PacketVerdict{NF_ACCEPT, std::nullopt};
}

std::optional<MacAddress> Judge::macOf(const IpAddress& ip) {
  if (auto mac = inventory_.macOf(ip)) return mac;
  auto now = clock_.now();
  if (now - last_neighbour_read_ < kNeighbourReadInterval) return std::nullopt;
  last_neighbour_read_ = now;
  ++counters_.neighbour_reads;
  for (const NeighbourEntry& n : host_.neighbours()) {
    int segment = policy_->segmentByIfindex(n.ifindex);
    if (segment < 0) continue;
    observe(n.mac, n.ip, segment);
  }
  return inventory_.macOf(ip);
}

PacketVerdict Judge::onPacket(const QueuedPacket& q) {
  ++counters_.packets;
  const CompiledPolicy& policy = *policy_;
  PacketInfo info;
  ParseError err = parsePacket(q.payload, q.wire_length, &info);
  if (err != ParseError::kOk) {
    // Nothing sane can be judged; the kernel normally stops such packets before the queue.
    ++counters_.malformed;
    ++counters_.malformed_by_error[static_cast<size_t>(err) % counters_.malformed_by_error.size()];
    log_.writeLimited(LogLine("malformed").add("error", parseErrorName(err)).add("bytes", q.payload.size()));
    ++counters_.dropped;
    return PacketVerdict{NF_DROP, std::nullopt};
  }

  const bool reply = (q.mark & kHintReplyDirection) != 0;
  // The sender of this packet, and where it goes.
  Endpoint sender;
  sender.segment = policy.segmentByIfindex(q.indev);
  sender.is_box = q.hook == NF_INET_LOCAL_OUT;  // an answer from a resolver on the box
  Endpoint receiver;
  receiver.is_box = q.hook == NF_INET_LOCAL_IN;
  receiver.segment = receiver.is_box ? -1 : policy.segmentByIfindex(q.outdev);

  if (sender.segment >= 0 && q.hwaddr) {
    sender.mac = q.hwaddr;
    // A DHCP client has no address yet (0.0.0.0); its request teaches the MAC, not an IP.
    if (!info.src.isUnspecified()) observe(*q.hwaddr, info.src, sender.segment);
  }
  if ((q.mark & kHintDhcpRequest) != 0) return onDhcpRequest(q, info, sender.segment);
  if (receiver.segment >= 0) receiver.mac = macOf(info.dst);
  if (sender.mac) sender.classified_profile = classifiedProfile(*sender.mac);
  if (receiver.mac) receiver.classified_profile = classifiedProfile(*receiver.mac);

  // decide() wants the flow as it was opened.
  PacketInfo flow = info;
  FlowView view;
  view.packet = &flow;
  view.src = sender;
  view.dst = receiver;
  if (reply) {
    std::swap(flow.src, flow.dst);
    std::swap(flow.src_port, flow.dst_port);
    std::swap(view.src, view.dst);
  }
  if (view.src.segment >= 0 && view.src.mac) {
    const size_t n = names_.lookup(*view.src.mac, flow.dst, dst_names_);
    view.dst_names = std::span<const std::string_view>(dst_names_.data(), n);
  }
  // The kernel hints DoH destinations in the packet's own direction only (original).
  view.dst_is_doh = !reply && (q.mark & kHintDohDestination) != 0;
  Verdict v = decide(policy, view);
  if ((q.mark & kHintDnsAnswer) != 0) return onDnsAnswer(q, info, flow, view, v);
  switch (v.action) {
    case Action::kAllow: ++counters_.allowed; break;
    case Action::kReject: ++counters_.rejected; break;
    case Action::kDrop: ++counters_.dropped; break;
  }
  if (v.reason == Reason::kDnsBypass) ++counters_.dns_bypass;
  if (v.reason == Reason::kNoDns) ++counters_.no_dns;
  // Per-device counts for the management plane's device view: the deciding side's device.
  if (const Endpoint& side = v.direction == Direction::kEgress ? view.src : view.dst; side.mac) {
    if (v1::DeviceRecord* record = inventory_.find(*side.mac)) {
      if (v.action == Action::kAllow) {
        record->set_allowed_flows(record->allowed_flows() + 1);
      } else {
        record->set_denied_flows(record->denied_flows() + 1);
      }
    }
  }
  if (v.action != Action::kAllow || v.log) logVerdict(v, flow, view);
  return PacketVerdict{NF_REPEAT, verdictMark(generation_, codeOf(v.action))};
}

PacketVerdict Judge::onDnsAnswer(const QueuedPacket& q, const PacketInfo& info,
                                 const PacketInfo& flow, const FlowView& view, const Verdict& v) {
  ++counters_.dns_answers;
  if (v.action != Action::kAllow) {
    // An "answer" on a flow the device may not have: a denied resolver's late reply, or a
    // packet from port 53 that opens a flow. It teaches nothing and does not pass.
    ++counters_.dns_answers_dropped;
    return PacketVerdict{NF_DROP, std::nullopt};
  }
  // Learn only from replies to the device's own query to port 53 (the policy allowed it).
  const bool reply = (q.mark & kHintReplyDirection) != 0;
  if (reply && flow.dst_port == 53 && view.src.segment >= 0 && view.src.mac && !info.later_fragment) {
    const bool tcp = info.protocol == static_cast<uint8_t>(L4::kTcp);
    const size_t header = tcp ? 20 : 8;
    size_t at = info.l4_offset + header;
    if (tcp && q.payload.size() >= info.l4_offset + 13u) {
      at = info.l4_offset + ((q.payload[info.l4_offset + 12] >> 4) * 4u);
    }
    // A bare TCP segment (handshake, ACK, FIN) carries no answer.
    if (at < q.payload.size()) learnFrom(q.payload.subspan(at), tcp, *view.src.mac);
  }
  return PacketVerdict{NF_ACCEPT, std::nullopt};
}

void Judge::learnFrom(std::span<const uint8_t> payload, bool tcp, MacAddress device) {
  DnsMessage& m = *dns_;
  const DnsError err = tcp ? parseDnsTcpPayload(payload, &m) : parseDnsMessage(payload, &m);
  if (err != DnsError::kOk) {
    // Passed unlearned (see README, "Names"): a connection to its addresses is then judged by
    // address rules only (no-dns). Dropping would break devices on answers we merely fail to
    // read, and would gain nothing: an unlearned address is never allowed by name.
    ++counters_.dns_malformed;
    ++counters_.dns_malformed_by_error[static_cast<size_t>(err)];
    log_.writeLimited(LogLine("dns-malformed").add("error", dnsErrorName(err)).add("mac", device.toString()));
    return;
  }
  forEachBinding(m, [&](const DnsBinding& b) {
    names_.learn(device, b.address, b.name, b.ttl);
    ++counters_.dns_learned;
  });
}

void Judge::logVerdict(const Verdict& v, const PacketInfo& flow, const FlowView& view) {
  const CompiledPolicy& policy = *policy_;
  const Endpoint& side = v.direction == Direction::kEgress ? view.src : view.dst;
  LogLine line(v.action == Action::kAllow ? "allow" : "deny");
  line.add("device", v.device >= 0 ? std::string_view(policy.devices[v.device].name) : std::string_view("unlisted"));
  line.add("mac", side.mac ? side.mac->toString() : std::string("unknown"));
  if (v.profile >= 0) line.add("profile", policy.profiles[v.profile].name);
  line.add("direction", directionName(v.direction));
  line.add("proto", protocolName(flow.protocol));
  line.add("src", endpointText(flow.src, flow.src_port, flow.has_ports));
  line.add("dst", endpointText(flow.dst, flow.dst_port, flow.has_ports));
  line.add("rule", v.rule != nullptr ? std::string_view(v.rule->label) : std::string_view("otherwise"));
  if (!v.name.empty()) line.add("name", v.name);
  if (v.reason != Reason::kNone) line.add("reason", reasonName(v.reason));
  line.add("action", actionName(v.action));
  log_.writeLimited(std::move(line));
}

void Judge::logNewDevice(const v1::DeviceRecord& d) {
  const CompiledPolicy& policy = *policy_;
  ++counters_.new_devices;
  const int device = d.assignment() == "listed" ? policy.deviceByMac(*MacAddress::parse(d.mac())) : -1;
  LogLine line("new-device");
  line.add("mac", d.mac());
  line.add("ip", d.addresses_size() > 0 ? std::string_view(d.addresses(0)) : std::string_view("none"));
  line.add("segment", d.segment());
  line.add("device", device >= 0 ? std::string_view(policy.devices[device].name) : std::string_view("unlisted"));
  line.add("profile", d.profile());
  line.add("assignment", d.assignment());
  if (!d.assigned_by().empty()) line.add("by", d.assigned_by());
  line.add("vendor", d.vendor().empty() ? std::string_view("unknown") : std::string_view(d.vendor()));
  line.add("randomised_mac", d.randomised_mac() ? "yes" : "no");
  if (!d.dhcp_hostname().empty()) line.add("dhcp_hostname", d.dhcp_hostname());
  if (!d.dhcp_vendor_class().empty()) line.add("dhcp_vendor_class", d.dhcp_vendor_class());
  if (!d.dhcp_parameter_list().empty()) line.add("dhcp_parameters", d.dhcp_parameter_list());
  if (!d.mud_url().empty()) line.add("mud_url", d.mud_url());
  log_.writeLimited(std::move(line));
}

}  // namespace muzzle
