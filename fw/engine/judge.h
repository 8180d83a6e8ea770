// Judge: turns one queued packet into a verdict. It parses the packet, puts the flow in its
// original direction (the ruleset marks reply-direction packets), identifies the devices at
// either end, calls decide(), logs denials and new devices, and answers NF_REPEAT with the
// verdict mark (fw/nft/marks.h) so the kernel remembers the verdict in the conntrack entry.
//
// Identification (fw/engine/judge_devices.cc): the sender is the frame's Ethernet address, and a
// packet whose source address is bound to another device (fw/device/address_bindings.h) is
// dropped before anything else happens (NF_DROP, counted `spoofed`, event=spoof once per pair).
// A sender the inventory does not know and the policy does not name becomes a record only while
// its segment admits new devices (fw/device/device_admission.h); past that its packet is
// dropped (NF_DROP, counted `devices_refused`), nothing is recorded and no event is written
// per packet (the engine writes them per segment, every few seconds: deviceFloodLines()). A DHCP
// request from such a sender is still accepted, unread.
//
// The connection limit, when muzzled counts it (fw/device/connection_counts.h): an allowed
// verdict for a connection's first packet from a device on a segment that holds its most
// connections already becomes NF_DROP (counted for the device; its retry is judged again).
//
// No I/O but, on an unknown device address or a claim on a lapsed binding, a rate-limited
// neighbour-table read through HostInfo: its log lines only go into the EventLog's bounded
// buffer (fw/engine/event_log.h), which another thread writes out, so judging never waits for a
// file or a client. No exceptions. Not thread-safe: the Daemon's queue threads and its
// engine thread take turns under one mutex (fw/engine/queue_worker.h, LockedSink).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "fw/common/clock.h"
#include "fw/common/keyed_hash.h"
#include "fw/device/connection_counts.h"
#include "fw/device/device_admission.h"
#include "fw/device/inventory.h"
#include "fw/device/oui_database.h"
#include "fw/dns/dns_flow_tracker.h"
#include "fw/dns/dns_message.h"
#include "fw/dns/name_cache.h"
#include "fw/engine/event_log.h"
#include "fw/engine/judge_counters.h"
#include "fw/engine/site_probe.h"
#include "fw/learn/flow_recorder.h"
#include "fw/nfq/packet_queue.h"
#include "fw/policy/compiled_policy.h"

namespace muzzle {

// The sizes of the Judge's tables, all allocated at construction. The defaults are the box's;
// tests and fuzz targets pass small ones so eviction is reached in a few packets and a Judge is
// cheap to build for every input.
struct JudgeLimits {
  static constexpr size_t kDefaultInventoryCapacity = 4096;
  size_t devices = kDefaultInventoryCapacity;
  DnsQuestionLimits dns_questions;
  DnsTcpLimits dns_streams;
  // New devices per segment (muzzled.yaml `devices: {new_per_minute, new_burst}`).
  DeviceAdmission::Limits admission;
  // The connection limit, when muzzled counts (fw/device/connection_counts.h); 0: not counted
  // here (off, or the kernel's rule counts).
  uint32_t connections = 0;
};

class Judge : public PacketSink, private DnsAnswerSink {
 public:
  // "*log", "*clock", "*host" and "*oui" (may be null: no vendor names) must outlive the Judge.
  Judge(EventLog& log, const Clock& clock, HostInfo& host, const OuiDatabase* oui = nullptr,
        const JudgeLimits& limits = {})
      : log_(log),
        clock_(clock),
        host_(host),
        inventory_(limits.devices, oui, clock),
        admission_(clock, limits.admission),
        connections_(clock, limits.connections),
        names_(clock),
        dns_flows_(clock, limits.dns_questions, limits.dns_streams),
        learning_(clock) {}

  // Called (inside onPacket) when what the engine learned moves a device that already has flows
  // to another profile, so the owner can have every flow judged again (a new generation).
  void onReassigned(std::function<void()> fn) { on_reassigned_ = std::move(fn); }
  // Called (inside onPacket, under the owner's lock) when a device's DHCP request gives it a MUD
  // URL (option 161) it did not have, or a changed one, while the policy fetches MUD files
  // (`mud.fetch`). Must only hand the fact on (the Daemon posts it to the engine thread): the
  // URL is the device's choice and is checked where it is used.
  using MudUrlHook = std::function<void(MacAddress mac, const std::string& url)>;
  void onMudUrl(MudUrlHook fn) { on_mud_url_ = std::move(fn); }
  // Called (inside onPacket, under the owner's lock) when the connection limit refused a flow and
  // its counts want a recount now (ConnectionCounts::wantsRecount: at most once a second). Must
  // only hand the fact on: the recount reads the conntrack table.
  void onRecountWanted(std::function<void()> fn) { on_recount_wanted_ = std::move(fn); }

  // Swaps in a new policy. `generation` must already be installed in the kernel ruleset.
  // Learned names survive a policy change; the cache takes the policy's dns limits.
  void setPolicy(std::shared_ptr<const CompiledPolicy> policy, uint32_t generation);
  uint32_t generation() const { return generation_; }
  const std::shared_ptr<const CompiledPolicy>& policy() const { return policy_; }
  // Which of the policy's schedules hold (fw/policy/schedule.h), handed to decide() with every
  // flow. The owner sets it with the policy and at each window's edge, together with a new
  // generation, so no flow keeps a verdict given under the other state.
  void setActiveSchedules(ScheduleMask active) { active_schedules_ = active; }
  ScheduleMask activeSchedules() const { return active_schedules_; }

  PacketVerdict onPacket(const QueuedPacket& packet) override;

  // Volume limits that block (fw/engine/volume_limits.h): for each device (MacAddress::value),
  // the traffic classes (bit N: class N) whose new flows are refused, reason volume-limit. The
  // caller makes a new generation afterwards, so open flows are judged again.
  void setVolumeBlocks(MacMap<uint64_t> blocks);

  const JudgeCounters& counters() const { return counters_; }
  const DeviceInventory& devices() const { return inventory_; }
  DeviceInventory& devices() { return inventory_; }
  // New-device admission per segment: its counts for the status, its reports for the engine's
  // event=device-flood lines (under the owner's lock).
  const DeviceAdmission& admission() const { return admission_; }
  DeviceAdmission& admission() { return admission_; }
  // The connection limit's counts (under the owner's lock): the engine recounts them from each
  // accounting read and reports the devices refused.
  const ConnectionCounts& connections() const { return connections_; }
  ConnectionCounts& connections() { return connections_; }
  // The event=device-flood lines of the segments whose refusals grew since their last line, at
  // most one per segment every DeviceAdmission::kReportInterval (every segment's with `all`).
  // For the engine thread, which writes them after it lets go of the lock.
  std::vector<LogLine> deviceFloodLines(bool all = false);
  const NameCache& names() const { return names_; }
  // Outstanding DNS questions and DNS-over-TCP streams (which answers may teach names).
  const DnsFlowTracker& dnsFlows() const { return dns_flows_; }
  // Learning mode (fw/learn/flow_recorder.h): every new flow of a device in a session is
  // recorded here; the engine thread starts, stops, expires and saves sessions under the lock.
  FlowRecorder& learning() { return learning_; }
  const FlowRecorder& learning() const { return learning_; }

 private:
  // The device that owns `ip` on `segment` (fw/device/address_bindings.h); for an address with
  // no binding, the kernel neighbour table is read (rate-limited) and may bind it.
  std::optional<MacAddress> macOf(const IpAddress& ip, int segment);
  // Reads the kernel neighbour table into the address bindings, at most once per
  // kNeighbourReadInterval; false when it was read too recently.
  bool readNeighbours();
  void logVerdict(const Verdict& v, const PacketInfo& flow, const FlowView& view);
  // Learning mode: a device in an --observe session gets what its profile does not explicitly
  // deny (`v` becomes an allow, counted `learn_observed`); then the flow is recorded for each
  // end that is learning.
  void applyLearning(Verdict& v, const PacketInfo& flow, const FlowView& view);
  // An allowed flow whose device and traffic class a volume limit blocks becomes a rejection.
  void applyVolumeBlocks(Verdict& v, const FlowView& view);
  // A DNS answer on its way to a device (kHintDnsAnswer): learn its names if the flow is one
  // the device may use, then let it pass. Never NF_REPEAT: the ruleset acts on a repeat's
  // verdict mark ahead of the answer rules (fw/nft/marks.h), so a repeat would pass unread.
  PacketVerdict onDnsAnswer(const QueuedPacket& q, const PacketInfo& info, const PacketInfo& flow,
                            const FlowView& view, const Verdict& v);
  // A DNS query from `device` on a flow its policy allows (kHintDnsQuery): remember its
  // question. `info` is in the packet's (the flow's original) direction.
  void readDnsQuery(const QueuedPacket& q, const PacketInfo& info, MacAddress device);
  // An answer to `device` (`info` in the packet's direction, resolver to device): learn it if it
  // answers an outstanding question (DnsFlowTracker), through onDnsAnswerRead.
  void readDnsAnswer(const QueuedPacket& q, const PacketInfo& info, MacAddress device);
  void onDnsAnswerRead(const DnsFlowKey& flow, DnsAnswerKind kind, DnsError error,
                       const DnsMessage& m) override;
  void noteDnsTcp(DnsTcpResult result, MacAddress device);
  void logNewDevice(const DeviceRecord& device);
  // What observe() made of a packet's sender.
  enum class Sender {
    kSeen,     // recorded (or its address is none to bind); judge on
    kSpoof,    // `ip` is bound to another device: drop
    kRefused,  // a new device its segment does not admit now: drop, nothing recorded
  };
  // Learns that `mac` on `segment` sent from `ip`; logs the device if it is new. On kSpoof
  // nothing about any device changed but the sender's last-seen time; on kRefused nothing at
  // all but the refusal's count.
  Sender observe(MacAddress mac, const IpAddress& ip, int segment);
  // Whether `mac`, about to become a record on `segment`, may: a device the inventory knows or
  // the policy names always may; another spends its segment's admission. A refusal is counted
  // when `count_refusal` (a packet's), not when it is a neighbour-table entry's, which comes
  // back with every read.
  bool mayRecord(MacAddress mac, int segment, bool count_refusal);
  void logMoved(const IpAddress& ip, MacAddress from, MacAddress to, std::string_view why);
  // event=spoof, once per (sender, address) pair while remembered, and rate-limited.
  void reportSpoof(MacAddress mac, const IpAddress& ip, std::string_view owner,
                   std::string_view segment);
  // The profile an unlisted device is classified into (-1: none), kept on its inventory record
  // with why, so the management plane shows the same answer the data plane uses.
  int classifiedProfile(MacAddress mac);
  struct Assignment {
    int profile;             // -1: the policy's default profile
    const char* assignment;  // "listed", "classified" or "default"
    std::string_view by;
  };
  // Which profile `record` (the device `mac`) gets under the current policy, and why.
  Assignment assignmentOf(MacAddress mac, const DeviceRecord& record) const;
  const std::string& profileName(const Assignment& a) const;
  // A DHCP request from a device (kHintDhcpRequest): learn the fingerprint, then accept it.
  // The message's chaddr must be the frame's sender, and a profile change it causes is
  // rate-limited per device (DeviceInventory::kMinReassignInterval).
  PacketVerdict onDhcpRequest(const QueuedPacket& q, const PacketInfo& info, int segment);
  // on_mud_url_, when `mac`'s record now has a MUD URL other than `before` and the policy
  // fetches MUD files.
  void noteMudUrl(MacAddress mac, const std::string& before);
  // A DHCP reply from the box's own server (kHintDhcpReply): an ACK binds the leased address to
  // the client. Always accepted.
  PacketVerdict onDhcpReply(const QueuedPacket& q, const PacketInfo& info, int segment);

  EventLog& log_;
  const Clock& clock_;
  HostInfo& host_;
  std::shared_ptr<const CompiledPolicy> policy_;
  uint32_t generation_ = 0;
  ScheduleMask active_schedules_ = 0;
  DeviceInventory inventory_;
  DeviceAdmission admission_;
  ConnectionCounts connections_;
  std::function<void()> on_reassigned_;
  MudUrlHook on_mud_url_;
  std::function<void()> on_recount_wanted_;
  NameCache names_;
  DnsFlowTracker dns_flows_;
  FlowRecorder learning_;
  std::array<std::string_view, 8> dst_names_{};  // names of the current flow's destination
  MacMap<uint64_t> volume_blocks_;  // device -> blocked class bits
  JudgeCounters counters_;
  std::chrono::steady_clock::time_point last_neighbour_read_{};
  ReportedPairs spoof_reports_;  // (spoofer, address) pairs already logged
};

}  // namespace muzzle
