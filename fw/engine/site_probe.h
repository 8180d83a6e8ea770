// HostInfo: the seam for what the engine reads about the box itself — interface addresses (for
// the `gateway` and `local` targets) and the kernel's neighbour table (which Ethernet address
// answers for an IP on a segment, so a device can be recognised by a flow towards it) — and the
// kernel's counters for our netfilter queues (what it dropped before we could see it).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "fw/common/status.h"
#include "fw/config/daemon_config.h"
#include "fw/nfq/kernel_queue_stats.h"
#include "fw/nft/conntrack_table.h"
#include "fw/policy/compiled_policy.h"

namespace muzzle {

struct NeighbourEntry {
  uint32_t ifindex = 0;
  IpAddress ip;
  MacAddress mac;
  // REACHABLE, DELAY, PROBE or PERMANENT: the box exchanged frames with `mac` for `ip` moments
  // ago (or an admin set it). STALE entries can be days old and are not confirmed.
  bool confirmed = false;
};

class HostInfo {
 public:
  virtual ~HostInfo() = default;
  // Facts for the configured segments. Fails, naming the segment, if an interface is missing.
  virtual Result<SiteFacts> siteFacts(const std::vector<DaemonSegment>& segments) = 0;
  // The kernel neighbour table (ARP and NDP) entries that carry an Ethernet address.
  virtual std::vector<NeighbourEntry> neighbours() = 0;
  // The kernel's counters for the bound queues in [first, first + count) (a few syscalls: read
  // when asked, never per packet). Fails, naming the file, when they cannot be read.
  virtual Result<std::vector<KernelQueueStats>> kernelQueues(uint16_t first, uint16_t count) = 0;
  // The kernel's connection table: how full, and what being full cost (fw/nft/conntrack_table.h;
  // a few /proc reads, when asked). Fails, naming the file, when it cannot be read.
  virtual Result<ConntrackTableStats> conntrackTable() = 0;
};

// Reads the calling thread's network namespace (getifaddrs, rtnetlink). `queue_counters`, when
// given, is where kernelQueues() reads (opened while still root; see KernelQueueStatsFile);
// otherwise the file is opened on each call.
std::unique_ptr<HostInfo> makeSystemHostInfo(
    std::unique_ptr<KernelQueueStatsFile> queue_counters = nullptr);

}  // namespace muzzle
