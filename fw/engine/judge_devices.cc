// The Judge's device identification: who sent a packet (its Ethernet address) and whether its
// source address is that device's to use, who receives it (the address bindings, then the
// kernel neighbour table), what a device says about itself over DHCP, and the leases the box's
// own DHCP server hands out. The rules live in fw/device/address_bindings.h; this file applies
// them to packets and reports what happened.
#include <linux/netfilter.h>

#include "fw/engine/judge.h"
#include "fw/nft/marks.h"

namespace muzzle {
namespace {

// How often the kernel neighbour table may be read: a scan of unused addresses from the
// internet, or a spoofer knocking on lapsed bindings, must not turn into a netlink dump per
// packet.
constexpr auto kNeighbourReadInterval = std::chrono::seconds(1);

PacketVerdict accept() { return PacketVerdict{NF_ACCEPT, std::nullopt}; }

}  // namespace

bool Judge::mayRecord(MacAddress mac, int segment, bool count_refusal) {
  // The common case first: a known device costs one lookup more than before, nothing else.
  if (!admission_.on() || inventory_.find(mac) != nullptr) return true;
  // Named in the policy (an operator's assignment is an entry there too): never held, so a
  // real camera keeps working while another device forges MACs.
  if (policy_->deviceByMac(mac) >= 0) return true;
  if (admission_.admit(segment)) return true;
  if (count_refusal) {
    admission_.refuse(segment);
    ++counters_.devices_refused;
  }
  return false;
}

std::vector<LogLine> Judge::deviceFloodLines(bool all) {
  std::vector<LogLine> lines;
  for (const DeviceAdmission::Report& r : admission_.takeReports(all)) {
    lines.push_back(LogLine("device-flood")
                        .add("segment", r.segment)
                        .add("refused", r.refused)
                        .add("new_devices_per_minute", admission_.limits().per_minute)
                        .add("burst", admission_.limits().burst)
                        .add("refused_total", r.total));
  }
  return lines;
}

Judge::Sender Judge::observe(MacAddress mac, const IpAddress& ip, int segment) {
  // A DHCP client has no address yet (0.0.0.0); its request teaches the MAC, not an IP.
  if (!AddressBindings::bindable(ip)) return Sender::kSeen;
  // Before the bindings are asked: a claim binds an unbound address to its claimant, which a
  // device not admitted must not get either.
  if (!mayRecord(mac, segment, /*count_refusal=*/true)) return Sender::kRefused;
  const std::string& segment_name = policy_->segments[segment].name;
  if (policy_->box_addresses.contains(ip)) {
    // The box's own address is no device's to use: refused like any other spoof.
    auto seen = inventory_.touch(mac, segment_name);
    if (seen.second) {
      classifiedProfile(mac);
      logNewDevice(*seen.first);
    }
    reportSpoof(mac, ip, "box", segment_name);
    return Sender::kSpoof;
  }
  AddressBindings& bindings = inventory_.bindings();
  Claim c = bindings.claim(mac, ip, segment);
  if (c.outcome == ClaimOutcome::kOwnerIdle) {
    // The owner has been quiet past the hold time, but a device whose only traffic is one
    // long-lived flow is never queued again: a fresh neighbour table may still show it.
    readNeighbours();
    c = bindings.takeOver(mac, ip, segment);
  }
  std::pair<DeviceRecord*, bool> seen;
  switch (c.outcome) {
    case ClaimOutcome::kSpoof:
      // The spoofer is seen (its own record), but nothing about the owner changes.
      seen = inventory_.touch(mac, segment_name);
      reportSpoof(mac, ip, c.owner.toString(), segment_name);
      break;
    case ClaimOutcome::kMoved:
      inventory_.forgetAddress(c.owner, ip);
      logMoved(ip, c.owner, mac, "owner-gone");
      seen = inventory_.observe(mac, ip, segment_name);
      break;
    case ClaimOutcome::kBound:
      seen = inventory_.observe(mac, ip, segment_name);
      break;
    default:
      // The owner again (the common case: no address text built), or a table full of live
      // bindings (the device is seen, the address not recorded).
      seen = inventory_.touch(mac, segment_name);
      if (seen.second && c.outcome == ClaimOutcome::kOwner)
        seen = inventory_.observe(mac, ip, segment_name);
      break;
  }
  if (seen.second) {
    classifiedProfile(mac);  // fills in the profile and why, for the event
    logNewDevice(*seen.first);
  }
  return c.outcome == ClaimOutcome::kSpoof ? Sender::kSpoof : Sender::kSeen;
}

void Judge::reportSpoof(MacAddress mac, const IpAddress& ip, std::string_view owner,
                        std::string_view segment) {
  if (!spoof_reports_.firstTime(mac, ip)) return;
  log_.writeLimited(LogLine("spoof")
                        .add("mac", mac.toString())
                        .add("claimed", ip.toString())
                        .add("owner", owner)
                        .add("segment", segment));
}

void Judge::logMoved(const IpAddress& ip, MacAddress from, MacAddress to, std::string_view why) {
  ++counters_.addresses_moved;
  log_.writeLimited(LogLine("address-moved")
                        .add("ip", ip.toString())
                        .add("from", from.toString())
                        .add("to", to.toString())
                        .add("why", why));
}

bool Judge::readNeighbours() {
  const auto now = clock_.now();
  if (now - last_neighbour_read_ < kNeighbourReadInterval) return false;
  last_neighbour_read_ = now;
  ++counters_.neighbour_reads;
  for (const NeighbourEntry& n : host_.neighbours()) {
    const int segment = policy_->segmentByIfindex(n.ifindex);
    if (segment < 0) continue;
    // An entry of a device not seen before binds an address and makes a record only if its
    // segment admits it: any device can put entries there (ARP requests to the box from forged
    // MACs). Refused silently: the entry comes back with the next read, and the device's own
    // packets are counted when they come.
    if (AddressBindings::bindable(n.ip) && !inventory_.bindings().ownerOf(n.ip, segment) &&
        !mayRecord(n.mac, segment, /*count_refusal=*/false)) {
      continue;
    }
    // Binds only addresses nobody has, and otherwise only confirms an owner: the box's ARP
    // cache takes gratuitous ARP from any device, so it never outranks a binding.
    const Claim c = inventory_.bindings().neighbour(n.mac, n.ip, segment, n.confirmed);
    if (c.outcome != ClaimOutcome::kBound) continue;
    auto [record, created] = inventory_.observe(n.mac, n.ip, policy_->segments[segment].name);
    if (created) {
      classifiedProfile(n.mac);
      logNewDevice(*record);
    }
  }
  return true;
}

std::optional<MacAddress> Judge::macOf(const IpAddress& ip, int segment) {
  const AddressBindings& bindings = inventory_.bindings();
  if (auto mac = bindings.ownerOf(ip, segment)) return mac;
  if (!AddressBindings::bindable(ip) || !readNeighbours()) return std::nullopt;
  return bindings.ownerOf(ip, segment);
}

Judge::Assignment Judge::assignmentOf(MacAddress mac, const DeviceRecord& record) const {
  const CompiledPolicy& policy = *policy_;
  if (int listed = policy.deviceByMac(mac); listed >= 0) {
    return {static_cast<int>(policy.devices[listed].profile), "listed",
            policy.devices[listed].name};
  }
  if (auto rule = classify(policy.classify, record)) {
    return {static_cast<int>(policy.classify[*rule].profile), "classified",
            policy.classify[*rule].label};
  }
  return {-1, "default", {}};
}

const std::string& Judge::profileName(const Assignment& a) const {
  return policy_->profiles[a.profile >= 0 ? a.profile : policy_->default_profile].name;
}

int Judge::classifiedProfile(MacAddress mac) {
  DeviceRecord* record = inventory_.find(mac);
  if (record == nullptr) return -1;
  const Assignment a = assignmentOf(mac, *record);
  const std::string& name = profileName(a);
  // Only writes on change: this runs for the first packet of every flow of unlisted devices.
  if (record->profile != name) record->profile = name;
  if (record->assignment != a.assignment) record->assignment = a.assignment;
  if (record->assigned_by != a.by) record->assigned_by = std::string(a.by);
  return std::string_view(a.assignment) == "classified" ? a.profile : -1;
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
    log_.writeLimited(
        LogLine("dhcp-malformed").add("error", dhcpErrorName(err)).add("bytes", q.payload.size()));
    return accept();  // the lease server judges its own input
  }
  const std::string& segment_name = policy_->segments[segment].name;
  const MacAddress mac = dhcp.client_mac;
  if (!q.hwaddr || *q.hwaddr != mac) {
    // A device speaking for another: it must not fingerprint (and so reclassify) anyone. The
    // message still reaches the server, which answers to chaddr; what the box learns is nothing.
    ++counters_.dhcp_mac_mismatch;
    log_.writeLimited(LogLine("dhcp-mac-mismatch")
                          .add("mac", q.hwaddr ? q.hwaddr->toString() : std::string("unknown"))
                          .add("chaddr", mac.toString())
                          .add("segment", segment_name));
    return accept();
  }
  const DeviceRecord* before = inventory_.find(mac);
  if (before == nullptr) {
    // Accepted either way (the lease server answers it), but a device its segment does not
    // admit now is not recorded: a flood of DHCP requests from forged MACs churns nothing.
    if (!mayRecord(mac, segment, /*count_refusal=*/true)) return accept();
    inventory_.observeDhcp(dhcp, segment_name);
    classifiedProfile(mac);
    logNewDevice(*inventory_.find(mac));
    noteMudUrl(mac, std::string());
    return accept();
  }
  const SharedText old_profile = before->profile;
  const SharedText old_mud_url = before->mud_url;
  DeviceRecord after = *before;
  if (DeviceInventory::applyDhcp(dhcp, &after) &&
      profileName(assignmentOf(mac, after)) != old_profile) {
    if (!inventory_.mayReassign(mac)) {
      // A device flipping its DHCP identity must not flip its profile (and re-judge every flow
      // on the box) at will: the message is not learned at all.
      ++counters_.reassign_limited;
      log_.writeLimited(
          LogLine("device-reassign-limited")
              .add("mac", mac.toString())
              .add("profile", old_profile)
              .add("wanted", profileName(assignmentOf(mac, after)))
              .add("min_interval_seconds", DeviceInventory::kMinReassignInterval.count()));
      return accept();
    }
    inventory_.noteReassigned(mac);
  }
  if (!inventory_.observeDhcp(dhcp, segment_name)) return accept();
  noteMudUrl(mac, old_mud_url.str());
  classifiedProfile(mac);
  const DeviceRecord& record = *inventory_.find(mac);
  if (record.profile != old_profile) {
    // The device already has flows judged by its old profile: have them judged again.
    ++counters_.reassigned;
    log_.write(LogLine("device-reassigned")
                   .add("mac", record.mac.toString())
                   .add("from", old_profile)
                   .add("profile", record.profile)
                   .add("assignment", record.assignment)
                   .add("by", record.assigned_by));
    if (on_reassigned_) on_reassigned_();
  }
  return accept();
}

void Judge::noteMudUrl(MacAddress mac, const std::string& before) {
  if (!on_mud_url_ || !policy_ || !policy_->mud.fetch) return;
  const DeviceRecord* record = inventory_.find(mac);
  if (record == nullptr || record->mud_url.empty() || record->mud_url == before) return;
  on_mud_url_(mac, record->mud_url.str());
}

PacketVerdict Judge::onDhcpReply(const QueuedPacket& q, const PacketInfo& info, int segment) {
  DhcpInfo dhcp;
  const size_t at = info.l4_offset + 8u;
  // Only the box's own server is believed (the ruleset queues replies from the output hook
  // only; this re-checks it).
  const bool trusted = q.hook == NF_INET_LOCAL_OUT && segment >= 0;
  const DhcpError err = trusted && at <= q.payload.size() && info.has_ports
                            ? parseDhcpReply(q.payload.subspan(at), &dhcp)
                            : DhcpError::kTruncated;
  if (err != DhcpError::kOk || dhcp.message_type != kDhcpAck || !dhcp.lease_seconds ||
      !AddressBindings::bindable(dhcp.your_ip)) {
    ++counters_.dhcp_replies_ignored;  // offers, NAKs, ACKs to INFORM (no lease)
    return accept();
  }
  ++counters_.dhcp_leases;
  const Claim c = inventory_.bindings().lease(dhcp.client_mac, dhcp.your_ip, segment,
                                              std::chrono::seconds(*dhcp.lease_seconds));
  if (c.outcome == ClaimOutcome::kMoved) {
    inventory_.forgetAddress(c.owner, dhcp.your_ip);
    logMoved(dhcp.your_ip, c.owner, dhcp.client_mac, "lease");
  }
  // A lease does not make a device: only a record the device's own packets made lists it.
  if (c.outcome != ClaimOutcome::kFull && inventory_.find(dhcp.client_mac) != nullptr) {
    inventory_.observe(dhcp.client_mac, dhcp.your_ip, policy_->segments[segment].name);
  }
  return accept();
}

}  // namespace muzzle
