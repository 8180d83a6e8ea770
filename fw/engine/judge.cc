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

std::optional<MacAddress> Judge::macOf(const IpAddress& ip) {
  if (auto mac = devices_.macOf(ip)) return mac;
  auto now = clock_.now();
  if (now - last_neighbour_read_ < kNeighbourReadInterval) return std::nullopt;
  last_neighbour_read_ = now;
  ++counters_.neighbour_reads;
  for (const NeighbourEntry& n : host_.neighbours()) {
    int segment = policy_->segmentByIfindex(n.ifindex);
    if (segment < 0) continue;
    if (devices_.learn(n.ip, n.mac, segment, now)) logNewDevice(n.mac, n.ip, segment);
  }
  return devices_.macOf(ip);
}

PacketVerdict Judge::onPacket(const QueuedPacket& q) {
  ++counters_.packets;
  const CompiledPolicy& policy = *policy_;
  PacketInfo info;
  ParseError err = parsePacket(q.payload, &info);
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
  Endpoint receiver;
  receiver.is_box = q.hook == NF_INET_LOCAL_IN;
  receiver.segment = receiver.is_box ? -1 : policy.segmentByIfindex(q.outdev);

  auto now = clock_.now();
  if (sender.segment >= 0 && q.hwaddr) {
    sender.mac = q.hwaddr;
    if (devices_.learn(info.src, *q.hwaddr, sender.segment, now)) logNewDevice(*q.hwaddr, info.src, sender.segment);
  }
  if (receiver.segment >= 0) receiver.mac = macOf(info.dst);

  // decide() wants the flow as it was opened.
  PacketInfo flow = info;
  FlowView view{&flow, sender, receiver};
  if (reply) {
    std::swap(flow.src, flow.dst);
    std::swap(flow.src_port, flow.dst_port);
    std::swap(view.src, view.dst);
  }
  Verdict v = decide(policy, view);
  switch (v.action) {
    case Action::kAllow: ++counters_.allowed; break;
    case Action::kReject: ++counters_.rejected; break;
    case Action::kDrop: ++counters_.dropped; break;
  }
  // Per-device counts for the management plane's device view: the deciding side's device.
  if (const Endpoint& side = v.direction == Direction::kEgress ? view.src : view.dst; side.mac) {
    devices_.countFlow(*side.mac, v.action == Action::kAllow);
  }
  if (v.action != Action::kAllow || v.log) logVerdict(v, flow, view);
  return PacketVerdict{NF_REPEAT, verdictMark(generation_, codeOf(v.action))};
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
  line.add("action", actionName(v.action));
  log_.writeLimited(line);
}

void Judge::logNewDevice(MacAddress mac, const IpAddress& ip, int segment) {
  const CompiledPolicy& policy = *policy_;
  ++counters_.new_devices;
  int device = policy.deviceByMac(mac);
  uint32_t profile = device >= 0 ? policy.devices[device].profile : policy.default_profile;
  LogLine line("new-device");
  line.add("mac", mac.toString()).add("ip", ip.toString());
  line.add("segment", policy.segments[segment].name);
  line.add("device", device >= 0 ? std::string_view(policy.devices[device].name) : std::string_view("unlisted"));
  line.add("profile", policy.profiles[profile].name);
  line.add("randomised_mac", mac.locallyAdministered() ? "yes" : "no");
  log_.writeLimited(line);
}

}  // namespace muzzle
