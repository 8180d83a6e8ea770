// The kernel half of Muzzle: table `inet muzzle`, written as one atomic netlink batch, and what
// conntrack counts for accounting (conntrack_counts.h). RulesetWriter is the seam the engine
// uses; NftRulesetWriter (nft_ruleset_writer.cc) builds the table's layout (ruleset_layout.h)
// into libnftnl messages and hands them to a NetlinkTransport (netlink_transport.h): libmnl in
// muzzled, a recording fake in the unit tests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fw/common/net.h"
#include "fw/common/status.h"
#include "fw/nft/conntrack_counts.h"

namespace muzzle {

// How the ruleset hands packets to user space. Native is the nft `queue` expression
// (CONFIG_NFT_QUEUE); compat is the xtables NFQUEUE target through nft_compat, as iptables-nft
// builds it, for kernels without the native expression.
enum class QueueMode { kNative, kCompat };
const char* queueModeName(QueueMode mode);

struct RulesetSpec {
  uint32_t generation = 1;                   // see fw/nft/marks.h
  std::vector<std::string> segment_ifnames;  // managed segments (interface names): set @segments
  // Flow queues [queue_first, queue_first + queue_count): the first packet of each flow, fanned
  // out by CPU when there are several. The inspection queue, queue_first + queue_count, gets
  // the packets muzzled reads whole: DNS answers to devices and DHCP requests from them.
  uint16_t queue_first = 100;
  uint16_t queue_count = 1;
  uint16_t inspectionQueue() const { return static_cast<uint16_t>(queue_first + queue_count); }
  // Queue bypass: with no daemon listening, packets are accepted. Only then: a full queue drops,
  // whatever this says (fw/nfq/packet_queue.h, QueueOptions).
  bool fail_open = false;
  QueueMode queue_mode = QueueMode::kCompat;
  // How per-device accounting learns what an allowed UDP connection counted last:
  // - kUntouched: no rule about it (accounting is off);
  // - kEvents: from its destroy event, as every other connection's (a rule sets every event,
  //   so that a connection a table before had set otherwise gets its event back when judged
  //   again);
  // - kDumps: from the dumps alone (a rule sets every event but IPCT_DESTROY), which is exact
  //   while every UDP timeout outlives twice the accounting interval (udpTimeoutsOutlive in
  //   conntrack_counts.h), and spares the kernel the event and muzzled reading it, for most
  //   connections of a segment.
  enum class UdpEnds { kUntouched, kEvents, kDumps };
  UdpEnds udp_ends = UdpEnds::kUntouched;
  // The flood guard (ruleset_layout.cc, `judge`): a device (a source MAC address) that opens
  // more than `flood_rate` new flows a second, past a burst of `flood_burst`, has the excess
  // dropped in the kernel before muzzled is asked, counted per device in @flood-dropped
  // (readFloodDrops). 0: no guard (the rule and its sets are left out).
  uint32_t flood_rate = 0;
  uint32_t flood_burst = 0;
  // The segment guard (ruleset_layout.cc, behind the flood guard's rule at each of its places): an
  // input interface (a segment's, the uplink's) whose new flows pass `segment_rate` a second, past
  // a burst of `segment_burst`, has the excess dropped in the kernel, counted per interface in
  // @segment-dropped (readSegmentDrops). A device that forges a new source MAC address for each
  // flow gets a fresh bucket from the flood guard every time, but not a fresh interface: this
  // bounds the queue's load from any one segment, so such a device costs its own segment's new
  // flows alone. Independent of flood_rate. 0: no segment guard.
  uint32_t segment_rate = 0;
  uint32_t segment_burst = 0;
  // The connection limit counted by the kernel (ruleset_layout.cc, `save-allowed`): a device (a
  // source MAC address on a segment) that already holds more than `conn_limit` connections in
  // conntrack has its next allowed flow dropped as muzzled's verdict is saved, counted per device
  // in @conn-limit-dropped (readFloodDrops). One device cannot fill the box's conntrack table,
  // which every device's new flows need room in. 0: no such rule. muzzled counts the connections
  // itself when accounting reads conntrack (fw/device/connection_counts.h says why: the kernel's
  // count walks the device's whole list on every new flow); this rule is for a box without
  // accounting.
  uint32_t conn_limit = 0;
  // With muzzled's own count: the rules that queue a flow to be judged mark a connection's first
  // packet (kHintNewConnection, marks.h), so that a verdict counts a connection once, not again
  // when its flow is judged after a policy change; and they set the connection's label to the
  // sender's MAC address, by which the recount finds each connection's device in the dump.
  bool new_connection_hint = false;
};

// Which of the kernel's per-device drop counts to read (RulesetWriter::readFloodDrops).
enum class DeviceDropCause {
  kFloodGuard,       // @flood-dropped: new flows past the device's rate (flood_rate)
  kConnectionLimit,  // @conn-limit-dropped: allowed flows past its connections (conn_limit)
};

// What the flood guard or the connection limit dropped for one device (a source MAC address)
// since it first dropped one of its packets, or since its count was last left idle for
// kFloodDroppedTimeoutMs and the kernel forgot it.
struct FloodDropCount {
  MacAddress mac;
  uint64_t packets = 0;
};

// What the segment guard dropped for one input interface (RulesetSpec::segment_rate) since it
// first dropped one of its packets, or since the kernel last forgot its count
// (kFloodDroppedTimeoutMs after its last drop). `interface` is the kernel's name: 1-15 bytes.
struct SegmentDropCount {
  std::string interface;
  uint64_t packets = 0;
};

// Renders the spec as nft(8) text, from the same layout the writer installs (ruleset_layout.h).
// Used by `muzzled --print-ruleset` and in tests.
std::string describeRuleset(const RulesetSpec& spec);

class NetlinkTransport;

// Not thread-safe: one thread at a time (muzzled installs from its policy lifecycle).
class RulesetWriter {
 public:
  virtual ~RulesetWriter() = default;
  // Which queue action the running kernel supports. Probes without leaving anything behind.
  virtual Result<QueueMode> probeQueueMode() = 0;
  // Whether the running kernel lets a rule set a connection's conntrack label
  // (CONFIG_NF_CONNTRACK_LABELS), which muzzled's count of connections needs
  // (RulesetSpec::new_connection_hint): false when it refuses the expression. Probes without
  // leaving anything behind. The default, for writers that install into no kernel: true.
  virtual Result<bool> probeConnectionLabels() { return true; }
  // Replaces table `inet muzzle` with the ruleset for `spec` in one transaction: either the whole
  // new table is in place afterwards or the old one still is. Touches no other table. When this
  // writer installed the table before and the base chains stay the same (a policy change), only
  // the rules of the chains that name the generation (ChainLayout::per_policy: `judge` with its
  // verdict map, `dns-query`, the base chains' verdict maps) are rewritten, in one transaction,
  // and no set is touched: re-creating a base
  // chain would unregister its hook, and the kernel drops the packets waiting in the queues when
  // that happens.
  virtual Status install(const RulesetSpec& spec) = 0;
  // Deletes table `inet muzzle` if present.
  virtual Status remove() = 0;
  // Per-device accounting: turns conntrack's counters on (before the first install, so that every
  // connection the table judges is counted) and starts reading them (openConntrackCounter). An
  // error says what failed; accounting then reads nothing, and the table works as before.
  virtual Status startAccounting() = 0;
  // What allowed connections counted since the last read (ConntrackCounter::read), by source,
  // destination and class. Before startAccounting() worked, it is tried again: its error, or
  // nothing counted yet.
  virtual Result<std::vector<FlowGroupCount>> readAccounting() = 0;
  virtual ConntrackCounter::Stats accountingStats() const = 0;
  // The live connections of the last readAccounting() that worked (ConntrackCounter::takeLive):
  // the connection limit's recount. Not complete before accounting reads, and by default.
  virtual LiveConnections takeLiveConnections() { return {}; }
  // Whether the kernel lets the table turn UDP's destroy events off (RulesetSpec::UdpEnds::kDumps):
  // the counter reads, and udpTimeoutsOutlive(interval_seconds). The default: never. The Daemon
  // adds the counter's own condition (udpEndsByDumpNext).
  virtual bool udpTimeoutsOutlive(uint32_t /*interval_seconds*/) const { return false; }
  // The flood guard's counts (RulesetSpec::flood_rate) or the connection limit's (conn_limit),
  // one per device the kernel holds one for, at most kFloodSetSize. Empty when that one is off.
  // An error says what failed (no table yet, no permission); the kernel drops all the same.
  virtual Result<std::vector<FloodDropCount>> readFloodDrops(DeviceDropCause /*cause*/) {
    return std::vector<FloodDropCount>{};
  }
  // The segment guard's counts (RulesetSpec::segment_rate), one per input interface the kernel
  // holds one for, at most kSegmentSetSize. Empty when the guard is off; errors as above.
  virtual Result<std::vector<SegmentDropCount>> readSegmentDrops() {
    return std::vector<SegmentDropCount>{};
  }
};

// Writes to the kernel of the calling thread's network namespace. Needs CAP_NET_ADMIN.
std::unique_ptr<RulesetWriter> makeNftRulesetWriter();
// Hands every batch to `transport` (fw/nft/netlink_transport.h): tests read the batches back.
std::unique_ptr<RulesetWriter> makeNftRulesetWriter(std::unique_ptr<NetlinkTransport> transport);

}  // namespace muzzle
