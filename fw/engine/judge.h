// Judge: turns one queued packet into a verdict. It parses the packet, puts the flow in its
// original direction (the ruleset marks reply-direction packets), identifies the devices at
// either end, calls decide(), logs denials and new devices, and answers NF_REPEAT with the
// verdict mark (fw/nft/marks.h) so the kernel remembers the verdict in the conntrack entry.
//
// No I/O but the event log and, on an unknown device address, a rate-limited neighbour-table
// read through HostInfo. No exceptions. Engine thread only.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "fw/common/clock.h"
#include "fw/engine/device_table.h"
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
};

class Judge : public PacketSink {
 public:
  // "*log", "*clock" and "*host" must outlive the Judge.
  Judge(EventLog& log, const Clock& clock, HostInfo& host) : log_(log), clock_(clock), host_(host) {}

  // Swaps in a new policy. `generation` must already be installed in the kernel ruleset.
  void setPolicy(std::shared_ptr<const CompiledPolicy> policy, uint32_t generation) {
    policy_ = std::move(policy);
    generation_ = generation;
  }
  uint32_t generation() const { return generation_; }
  const std::shared_ptr<const CompiledPolicy>& policy() const { return policy_; }

  PacketVerdict onPacket(const QueuedPacket& packet) override;

  const JudgeCounters& counters() const { return counters_; }
  const DeviceTable& devices() const { return devices_; }

 private:
  std::optional<MacAddress> macOf(const IpAddress& ip);
  void logVerdict(const Verdict& v, const PacketInfo& flow, const FlowView& view);
  void logNewDevice(MacAddress mac, const IpAddress& ip, int segment);

  EventLog& log_;
  const Clock& clock_;
  HostInfo& host_;
  std::shared_ptr<const CompiledPolicy> policy_;
  uint32_t generation_ = 0;
  DeviceTable devices_;
  JudgeCounters counters_;
  std::chrono::steady_clock::time_point last_neighbour_read_{};
};

}  // namespace muzzle
