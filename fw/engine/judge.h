// Judge: turns one queued packet into a verdict. It parses the packet, puts the flow in its
// original direction (the ruleset marks reply-direction packets), identifies the devices at
// either end, calls decide(), logs denials and new devices, and answers NF_REPEAT with the
// verdict mark (fw/nft/marks.h) so the kernel remembers the verdict in the conntrack entry.
//
// No I/O but, on an unknown device address, a rate-limited neighbour-table read through
// HostInfo: its log lines only go into the EventLog's bounded buffer (fw/engine/event_log.h),
// which another thread writes out, so judging never waits for a file or a client. No exceptions. Not thread-safe: the Daemon's queue threads and its
// engine thread take turns under one mutex (fw/engine/queue_worker.h, LockedSink).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>

#include "fw/common/clock.h"
#include "fw/dns/dns_message.h"
#include "fw/dns/name_cache.h"
#include "fw/device/inventory.h"
#include "fw/device/oui_database.h"
#include "fw/engine/event_log.h"
#include "fw/engine/site_probe.h"
#include "fw/nfq/packet_queue.h"
#include "fw/policy/compiled_policy.h"

namespace muzzle {

struct JudgeCounters {
  uint64_t packets = 0;
  uint64_t allowed = 0;
  uint64_t rejected = 0;
  uint64_t dropped = 0;
  uint64_t malformed = 0;  // packets that failed to parse: dropped and counted
  std::array<uint64_t, 8> malformed_by_error{};  // indexed by ParseError
  uint64_t new_devices = 0;
  uint64_t neighbour_reads = 0;
  uint64_t dns_answers = 0;         // DNS answers to devices seen (every packet, not flows)
  uint64_t dns_learned = 0;         // (address, name) bindings recorded
  uint64_t dns_malformed = 0;       // answers that failed to parse: passed unlearned
  std::array<uint64_t, static_cast<size_t>(DnsError::kCount)> dns_malformed_by_error{};
  uint64_t dns_answers_dropped = 0; // answers on flows the policy does not allow
  uint64_t dns_bypass = 0;          // flows refused as dns-bypass
  uint64_t no_dns = 0;              // flows judged without a learned name where one could apply
  uint64_t dhcp_requests = 0;       // DHCP requests from devices read (and accepted)
  uint64_t dhcp_malformed = 0;      // DHCP requests that did not parse: accepted, not learned
  uint64_t reassigned = 0;          // devices whose classification changed their profile
};

class Judge : public PacketSink {
 public:
  static constexpr size_t kDefaultInventoryCapacity = 4096;

  // "*log", "*clock", "*host" and "*oui" (may be null: no vendor names) must outlive the Judge.
  Judge(EventLog& log, const Clock& clock, HostInfo& host, const OuiDatabase* oui = nullptr,
        size_t inventory_capacity = kDefaultInventoryCapacity)
      : log_(log),
        clock_(clock),
        host_(host),
        inventory_(inventory_capacity, oui, clock),
        names_(clock),
        dns_(std::make_unique<DnsMessage>()) {}

  // Called (inside onPacket) when what the engine learned moves a device that already has flows
  // to another profile, so the owner can have every flow judged again (a new generation).
  void onReassigned(std::function<void()> fn) { on_reassigned_ = std::move(fn); }

  // Swaps in a new policy. `generation` must already be installed in the kernel ruleset.
  // Learned names survive a policy change; the cache takes the policy's dns limits.
  void setPolicy(std::shared_ptr<const CompiledPolicy> policy, uint32_t generation);
  uint32_t generation() const { return generation_; }
  const std::shared_ptr<const CompiledPolicy>& policy() const { return policy_; }

  PacketVerdict onPacket(const QueuedPacket& packet) override;

  const JudgeCounters& counters() const { return counters_; }
  const DeviceInventory& devices() const { return inventory_; }
  DeviceInventory& devices() { return inventory_; }
  const NameCache& names() const { return names_; }

 private:
  std::optional<MacAddress> macOf(const IpAddress& ip);
  void logVerdict(const Verdict& v, const PacketInfo& flow, const FlowView& view);
  // A DNS answer on its way to a device (kHintDnsAnswer): learn its names if the flow is one
  // the device may use, then let it pass. Never NF_REPEAT: the answer rules come before the
  // verdict-mark rules, so a repeat would queue the packet again.
  PacketVerdict onDnsAnswer(const QueuedPacket& q, const PacketInfo& info, const PacketInfo& flow,
                            const FlowView& view, const Verdict& v);
  void learnFrom(std::span<const uint8_t> payload, bool tcp, MacAddress device);
  void logNewDevice(const v1::DeviceRecord& device);
  // Learns `ip` for `mac` on `segment`; logs the device if it is new.
  void observe(MacAddress mac, const IpAddress& ip, int segment);
  // The profile an unlisted device is classified into (-1: none), kept on its inventory record
  // with why, so the management plane shows the same answer the data plane uses.
  int classifiedProfile(MacAddress mac);
  // A DHCP request from a device (kHintDhcpRequest): learn the fingerprint, then accept it.
  PacketVerdict onDhcpRequest(const QueuedPacket& q, const PacketInfo& info, int segment);

  EventLog& log_;
  const Clock& clock_;
  HostInfo& host_;
  std::shared_ptr<const CompiledPolicy> policy_;
  uint32_t generation_ = 0;
  DeviceInventory inventory_;
  std::function<void()> on_reassigned_;
  NameCache names_;
  // Reused for every answer: a DnsMessage is ~36 KB, too big for the stack of a hot path and
  // not worth an allocation per packet.
  std::unique_ptr<DnsMessage> dns_;
  std::array<std::string_view, 8> dst_names_{};  // names of the current flow's destination
  JudgeCounters counters_;
  std::chrono::steady_clock::time_point last_neighbour_read_{};
};

}  // namespace muzzle
