#include "fw/engine/judge.h"

#include <linux/netfilter.h>

#include <utility>

#include "fw/engine/dns_packet.h"
#include "fw/nft/marks.h"

namespace muzzle {
namespace {

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
  // Off the packet path: the names are compared (and copied only when they changed).
  std::vector<std::string> segment_names;
  segment_names.reserve(policy->segments.size());
  for (const CompiledSegment& seg : policy->segments) segment_names.push_back(seg.name);
  admission_.setSegments(segment_names);
  policy_ = std::move(policy);
  generation_ = generation;
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
    // Source-address validation: a packet from an address bound to another device is dropped
    // (NF_DROP, not a drop mark: a conntrack entry marked "drop" for the spoofed tuple would
    // later hit the address's real owner).
    switch (observe(*q.hwaddr, info.src, sender.segment)) {
      case Sender::kSeen:
        break;
      case Sender::kSpoof:
        ++counters_.spoofed;
        ++counters_.dropped;
        return PacketVerdict{NF_DROP, std::nullopt};
      case Sender::kRefused:
        // A new device its segment does not admit now. A DHCP request still reaches the lease
        // server (a device must be able to get an address; it is just not recorded); any other
        // packet is dropped with NF_DROP, so no conntrack entry stays and its retry is judged
        // again.
        if ((q.mark & kHintDhcpRequest) != 0) {
          ++counters_.dhcp_requests;
          return PacketVerdict{NF_ACCEPT, std::nullopt};
        }
        ++counters_.dropped;
        return PacketVerdict{NF_DROP, std::nullopt};
    }
  }
  if ((q.mark & kHintDhcpRequest) != 0) return onDhcpRequest(q, info, sender.segment);
  if ((q.mark & kHintDhcpReply) != 0) return onDhcpReply(q, info, receiver.segment);
  if ((q.mark & (kHintDnsQuery | kHintFlowAllowed)) == (kHintDnsQuery | kHintFlowAllowed)) {
    // The kernel already allows this flow (its conntrack mark): only the question is news.
    if (sender.segment >= 0 && sender.mac) readDnsQuery(q, info, *sender.mac);
    return PacketVerdict{NF_ACCEPT, std::nullopt};
  }
  if ((q.mark & (kHintDnsAnswer | kHintFlowAllowed)) == (kHintDnsAnswer | kHintFlowAllowed)) {
    // The answer to a query on a flow the kernel allows under this generation: only the answer
    // is news (most answers a site sees; judging the flow again would repeat the query's).
    ++counters_.dns_answers;
    ++counters_.dns_answers_read_only;
    if (reply && info.src_port == 53 && receiver.segment >= 0) {
      if (const auto device = macOf(info.dst, receiver.segment)) readDnsAnswer(q, info, *device);
    }
    return PacketVerdict{NF_ACCEPT, std::nullopt};
  }
  if (receiver.segment >= 0) receiver.mac = macOf(info.dst, receiver.segment);
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
  view.active_schedules = active_schedules_;
  Verdict v = decide(policy, view);
  if ((q.mark & kHintDnsAnswer) != 0) return onDnsAnswer(q, info, flow, view, v);
  if (learning_.sessionCount() != 0) applyLearning(v, flow, view);
  if (v.action == Action::kAllow && !volume_blocks_.empty()) applyVolumeBlocks(v, view);
  // The connection limit: only a connection's first packet (not a flow judged again after a
  // policy change, which holds its connection already), only a device on a segment. NF_DROP,
  // not a drop mark: no conntrack entry stays, and once the device holds fewer its retry passes.
  if (v.action == Action::kAllow && (q.mark & kHintNewConnection) != 0 && !reply &&
      view.src.segment >= 0 && view.src.mac && !connections_.admit(*view.src.mac)) {
    ++counters_.connection_limited;
    ++counters_.dropped;
    if (on_recount_wanted_ && connections_.wantsRecount()) on_recount_wanted_();
    return PacketVerdict{NF_DROP, std::nullopt};
  }
  switch (v.action) {
    case Action::kAllow: ++counters_.allowed; break;
    case Action::kReject: ++counters_.rejected; break;
    case Action::kDrop: ++counters_.dropped; break;
  }
  if (v.reason == Reason::kDnsBypass) ++counters_.dns_bypass;
  if (v.reason == Reason::kNoDns) ++counters_.no_dns;
  // Per-device counts for the management plane's device view: the deciding side's device.
  if (const Endpoint& side = v.direction == Direction::kEgress ? view.src : view.dst; side.mac) {
    if (DeviceRecord* record = inventory_.find(*side.mac)) {
      if (v.action == Action::kAllow) {
        ++record->allowed_flows;
      } else {
        ++record->denied_flows;
      }
    }
  }
  if (v.action != Action::kAllow || v.log) logVerdict(v, flow, view);
  // A query that opens (or, after a policy change, re-opens) a flow the device may have.
  if ((q.mark & kHintDnsQuery) != 0 && v.action == Action::kAllow && !reply && view.src.segment >= 0 &&
      view.src.mac) {
    readDnsQuery(q, info, *view.src.mac);
  }
  if (v.reason == Reason::kVolumeLimit) ++counters_.volume_blocked;
  // An allowed flow's mark carries its traffic class, which the kernel's accounting counts by.
  return PacketVerdict{NF_REPEAT, verdictMark(generation_, codeOf(v.action),
                                              v.action == Action::kAllow ? v.traffic_class : 0)};
}

void Judge::setVolumeBlocks(MacMap<uint64_t> blocks) {
  volume_blocks_ = std::move(blocks);
}

void Judge::applyVolumeBlocks(Verdict& v, const FlowView& view) {
  // The class is seen from the managed source, else the managed destination (decide()).
  const Endpoint& side = view.src.segment >= 0 ? view.src : view.dst;
  if (!side.mac) return;
  const auto it = volume_blocks_.find(side.mac->value);
  if (it == volume_blocks_.end() || (it->second & (uint64_t{1} << v.traffic_class)) == 0) return;
  v.action = Action::kReject;
  v.reason = Reason::kVolumeLimit;
  v.rule = nullptr;
  v.traffic_class = kClassGateway;
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
  // Learn only from replies to the device's own query to port 53 (the policy allowed it), and
  // only what answers a question it asked there (readDnsAnswer).
  const bool reply = (q.mark & kHintReplyDirection) != 0;
  if (reply && flow.dst_port == 53 && view.src.segment >= 0 && view.src.mac) {
    readDnsAnswer(q, info, *view.src.mac);
  }
  return PacketVerdict{NF_ACCEPT, std::nullopt};
}

void Judge::readDnsQuery(const QueuedPacket& q, const PacketInfo& info, MacAddress device) {
  DnsPacket dns;
  if (!dnsPacketOf(q.payload, info, &dns)) return;
  const DnsFlowKey flow{device, info.src, info.dst, info.src_port, info.dst_port, info.protocol};
  if (dns.tcp) {
    noteDnsTcp(dns_flows_.onTcpSegment(flow, /*from_device=*/true, dns.segment, *this), device);
  } else {
    dns_flows_.onUdpQuery(flow, dns.segment.payload);
  }
}

void Judge::readDnsAnswer(const QueuedPacket& q, const PacketInfo& info, MacAddress device) {
  DnsPacket dns;
  if (!dnsPacketOf(q.payload, info, &dns)) return;
  const DnsFlowKey flow{device, info.dst, info.src, info.dst_port, info.src_port, info.protocol};
  if (dns.tcp) {
    noteDnsTcp(dns_flows_.onTcpSegment(flow, /*from_device=*/false, dns.segment, *this), device);
  } else {
    dns_flows_.onUdpAnswer(flow, dns.segment.payload, *this);
  }
}

void Judge::noteDnsTcp(DnsTcpResult result, MacAddress device) {
  // A stream that cannot be read passes as it is; its answers are simply not learned.
  if (result != DnsTcpResult::kMessageSkipped && result != DnsTcpResult::kLost) return;
  log_.writeLimited(LogLine("dns-tcp-unread").add("reason", dnsTcpResultName(result)).add("mac", device.toString()));
}

void Judge::onDnsAnswerRead(const DnsFlowKey& flow, DnsAnswerKind kind, DnsError err, const DnsMessage& m) {
  switch (kind) {
    case DnsAnswerKind::kMalformed:
      // Passed unlearned (see README, "Names"): a connection to its addresses is then judged by
      // address rules only (no-dns). Dropping would break devices on answers we merely fail to
      // read, and would gain nothing: an unlearned address is never allowed by name.
      ++counters_.dns_malformed;
      ++counters_.dns_malformed_by_error[static_cast<size_t>(err)];
      log_.writeLimited(LogLine("dns-malformed").add("error", dnsErrorName(err)).add("mac", flow.device.toString()));
      return;
    case DnsAnswerKind::kUnsolicited:
      // Passed unlearned, for the same reasons: the device gets what was sent to it, but an
      // answer to nothing it asked never names an address.
      ++counters_.dns_unsolicited;
      log_.writeLimited(LogLine("dns-unsolicited")
                            .add("mac", flow.device.toString())
                            .add("id", m.id)
                            .add("name", m.question.view())
                            .add("src", endpointText(flow.server, flow.server_port, true)));
      return;
    case DnsAnswerKind::kMatched:
      forEachBinding(m, [&](const DnsBinding& b) {
        names_.learn(flow.device, b.address, b.name, b.ttl);
        ++counters_.dns_learned;
      });
      return;
  }
}

void Judge::applyLearning(Verdict& v, const PacketInfo& flow, const FlowView& view) {
  const Endpoint& side = v.direction == Direction::kEgress ? view.src : view.dst;
  // Only the profile's `otherwise` gives way: an explicit deny rule, and a DNS bypass (the
  // policy's own dns rule), still hold while observing.
  if (v.action != Action::kAllow && v.rule == nullptr && v.reason != Reason::kDnsBypass &&
      v.profile >= 0 && side.mac && learning_.observing(*side.mac)) {
    v.action = Action::kAllow;
    v.log = true;  // loud: every flow observe mode lets through is an event
    ++counters_.learn_observed;
  }
  const uint16_t port = flow.has_ports ? flow.dst_port : 0;
  // record() looks the device up itself and ignores one that is not learning: asking
  // learning() first would be a second lookup on every new flow.
  if (view.src.mac) {
    FlowAttempt a;
    a.direction = Direction::kEgress;
    // The name the deciding rule matched, else one the device resolved for the address.
    if (!v.name.empty()) {
      a.name = v.name;
    } else if (!view.dst_names.empty()) {
      a.name = view.dst_names.front();
    }
    a.address = flow.dst;
    a.protocol = flow.protocol;
    a.port = port;
    a.verdict = v.action;
    a.allowed_by_rule = v.action == Action::kAllow && v.rule != nullptr;
    a.to_device = view.dst.segment >= 0 && !view.dst.is_box;
    learning_.record(*view.src.mac, a);
  }
  if (view.dst.mac) {
    FlowAttempt a;
    a.direction = Direction::kInbound;
    a.address = flow.src;
    a.protocol = flow.protocol;
    a.port = port;
    a.verdict = v.action;
    a.allowed_by_rule = v.action == Action::kAllow && v.rule != nullptr;
    learning_.record(*view.dst.mac, a);
  }
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
  // Profiles end in reject or drop: an allow by `otherwise` is observe mode's (applyLearning).
  if (v.action == Action::kAllow && v.rule == nullptr && v.profile >= 0) line.add("learn", "observe");
  line.add("action", actionName(v.action));
  log_.writeLimited(std::move(line));
}

void Judge::logNewDevice(const DeviceRecord& d) {
  const CompiledPolicy& policy = *policy_;
  ++counters_.new_devices;
  const int device = d.assignment == "listed" ? policy.deviceByMac(d.mac) : -1;
  LogLine line("new-device");
  line.add("mac", d.mac.toString());
  line.add("ip", d.addresses.empty() ? std::string("none") : d.addresses.front().toString());
  line.add("segment", d.segment);
  line.add("device", device >= 0 ? std::string_view(policy.devices[device].name) : std::string_view("unlisted"));
  line.add("profile", d.profile);
  line.add("assignment", d.assignment);
  if (!d.assigned_by.empty()) line.add("by", d.assigned_by);
  line.add("vendor", d.vendor.empty() ? std::string_view("unknown") : std::string_view(d.vendor));
  line.add("randomised_mac", d.randomised_mac ? "yes" : "no");
  if (!d.dhcp_hostname.empty()) line.add("dhcp_hostname", d.dhcp_hostname);
  if (!d.dhcp_vendor_class.empty()) line.add("dhcp_vendor_class", d.dhcp_vendor_class);
  if (!d.dhcp_parameter_list.empty()) line.add("dhcp_parameters", d.dhcp_parameter_list);
  if (!d.mud_url.empty()) line.add("mud_url", d.mud_url);
  log_.writeLimited(std::move(line));
}

}  // namespace muzzle
