// Per-device accounting, the pure half: what each conntrack connection counted since the last read
// (ConnectionGrowth), and the sums by source, destination and class (FlowCountTotals), both
// bounded. No socket and no thread: the live counter (conntrack_counts.h) feeds them under its
// mutex, the tests (tests/unit/fw/nft/conntrack_counts_test.cc) and the fuzzer
// (tests/fuzz/conntrack_fuzz.cc) without root.
//
// The dumps read cumulative counts (conntrack_wire.h says why they never zero them), so what a
// connection counted since the last read is worked out here (ConnectionGrowth), keyed by
// conntrack's id of the connection (CTA_ID, in dump entries and events alike): the growth of its
// counters since the dump before, or since it began when it was never seen; a DESTROY event
// counts final minus the last counts seen, and ends the tracking (a UDP connection may send none:
// udpTimeoutsOutlive, conntrack_counts.h, says when the dumps alone count it). An event handled
// while a dump is in progress leaves a tombstone, so that the same connection in a part of the dump
// not yet parsed is not counted a second time. A connection no longer seen by two dumps in a row is
// forgotten (it sent no event, its event was lost, or its mark became a refusal, which the kernel's
// filter excludes): two, not one, because a connection that ended just before a dump may have its
// event still queued, and must stay tracked until it is read. At most kMaxTrackedConnections are
// tracked; a connection beyond that is not counted by the dumps but, whole, when it ends (by its
// event), and the dump entries so skipped are counted (untracked(); ConntrackCounter::Stats).
// Counters that went down under a known id mean the id was reused by a new connection: its
// counts are taken whole. The first dump, when the counter opens, is a baseline: the connections
// open then are tracked at their counts and none is counted, since what they counted before was
// the previous muzzled's to read (a restart must not count a long connection's past twice); what
// they count while no muzzled reads them is not counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_set>
#include <vector>

#include "fw/common/flat_index.h"
#include "fw/common/net.h"

namespace muzzle {

// One connection's counts: as the kernel gives them (cumulative, since it began), or what it
// counted since the last read (ConnectionGrowth). Addresses as conntrack's original direction has
// them: `source` opened the connection.
struct FlowCount {
  IpAddress source;
  IpAddress destination;
  uint32_t mark = 0;  // the conntrack mark (marks.h)
  uint32_t id = 0;    // conntrack's id of the connection (CTA_ID)
  uint64_t orig_bytes = 0;
  uint64_t orig_packets = 0;
  uint64_t reply_bytes = 0;
  uint64_t reply_packets = 0;
  bool countsNothing() const {
    return orig_bytes == 0 && orig_packets == 0 && reply_bytes == 0 && reply_packets == 0;
  }
};

// The counts of every connection between the same two addresses with the same traffic class,
// summed: what accounting needs, and bounded by the number of such pairs, not of connections.
// Past the room for pairs, a connection's counts go to two groups of one end each (`ends`): its
// source's and its destination's, with the other address left zero.
struct FlowGroupCount {
  enum class Ends : uint8_t {
    kBoth,         // source and destination
    kSource,       // the connections `source` opened, to any destination
    kDestination,  // the connections opened to `destination`, from any source
  };
  IpAddress source;
  IpAddress destination;
  uint8_t traffic_class = 0;  // the class bits of the mark (marks.h)
  bool judged = false;        // the mark carries a generation: muzzled judged the connection
  uint64_t orig_bytes = 0;
  uint64_t orig_packets = 0;
  uint64_t reply_bytes = 0;
  uint64_t reply_packets = 0;
  Ends ends = Ends::kBoth;
};

// Sums FlowCounts into FlowGroupCounts between two take()s, `max_groups` at most: three quarters
// of them pairs of addresses, a quarter groups of one end. A connection whose pair finds no room
// is summed into its source's group and its destination's (Ends::kSource, kDestination): a
// device that opens connections to a new address each time (a scan, a P2P swarm) fills the room
// for pairs within an interval, and every other device must still get what its own connections
// counted. Only what finds no room at one of its ends either is dropped and counted
// (lostBytes()). Counts of zero are not kept, nor those of a refused connection (verdict code 2
// or 3: events carry every connection's, the kernel's mark filter applies to dumps only). A mark
// without a generation (0: a connection muzzled never judged, such as the box's own) is grouped
// as class 0, not judged. Pure value code, not thread-safe.
class FlowCountTotals {
 public:
  explicit FlowCountTotals(size_t max_groups)
      : max_ends_(max_groups / 4), max_pairs_(max_groups - max_ends_) {}
  void add(const FlowCount& count);
  std::vector<FlowGroupCount> take();
  size_t groups() const { return groups_.size(); }    // pairs and ends
  uint64_t lostBytes() const { return lost_bytes_; }  // since construction

 private:
  struct Key {
    IpAddress source;
    IpAddress destination;
    uint8_t traffic_class = 0;
    bool judged = false;
    FlowGroupCount::Ends ends = FlowGroupCount::Ends::kBoth;
  };
  static uint32_t tagOf(const Key& key);
  // The group of `key`, made when there is room for one more of its kind; null when not.
  FlowGroupCount* groupFor(const Key& key);
  size_t max_ends_;
  size_t max_pairs_;
  // The groups in the order made, found by index_ (flat_index.h): on a churning segment every
  // ended connection looks up one to three groups, and a flat index costs each lookup about
  // one cache miss for the index and one for the group (tests/bench/HISTORY.md, "Accounting's
  // tables made flat").
  std::vector<FlowGroupCount> groups_;
  FlatIndex index_;
  size_t pairs_ = 0;  // groups_ of Ends::kBoth; the rest are ends
  uint64_t lost_bytes_ = 0;
};

// The connection limit's recount (fw/device/connection_counts.h), from one complete dump: how
// many live connections muzzled allowed each device to open, by the label its table set
// (parseConntrackMessages's `live`). The dump's time, not a moment: connections opened while it
// ran may or may not be in it.
struct DeviceConnections {
  MacAddress device;
  uint32_t connections = 0;
};
struct LiveConnections {
  std::vector<DeviceConnections> by_device;  // sorted by device, each once
  // False when there is nothing to recount from: no dump completed since the last take, or the
  // dump held more than kMaxLiveConnections live connections (the rest were not read).
  bool complete = false;
};
// The most live connections one dump's recount reads: 131,072 (8 bytes each while the dump runs,
// 1 MiB at most, freed after it), twice the connections of a 4 GB box's conntrack table.
inline constexpr size_t kMaxLiveConnections = 131072;
// `devices` (one per live connection, any order) counted by device.
LiveConnections countByDevice(std::vector<MacAddress> devices, bool complete);

// The most connections ConnectionGrowth tracks by default: 65,536 (~4 MiB at most).
inline constexpr size_t kMaxTrackedConnections = 65536;

// Whether the next table leaves UDP's ends to the dumps (RulesetSpec::UdpEnds::kDumps), given
// whether it does now (`by_dump_now`), udpTimeoutsOutlive's answer, whether the last read's dump
// skipped connections because the tracker was full (Stats::untracked grew) and how many are
// tracked now. A skipped connection is counted only by its destroy event, so a skip turns the
// events back on; they stay on until fewer than half of `max_tracked` are tracked, so that a
// segment near the bound does not flip the table (each flip re-judges every connection) at every
// read.
bool udpEndsByDumpNext(bool by_dump_now, bool timeouts_outlive, bool dump_skipped, size_t tracked,
                       size_t max_tracked = kMaxTrackedConnections);

// What each connection counted since the last read, from its cumulative counts: the dumps' and
// the DESTROY events', keyed by conntrack's id (see the top of this file). Pure value code, not
// thread-safe: the live counter uses it under its mutex. A growth of zero in every count is
// nullopt.
class ConnectionGrowth {
 public:
  explicit ConnectionGrowth(size_t max_tracked = kMaxTrackedConnections)
      : max_tracked_(max_tracked) {}

  // Before the dump request is sent.
  void beginDump();
  // A dump entry: the growth since the last counts seen of its id, or its counts whole when the
  // id is new (or was reused: a counter went down). nullopt when a DESTROY event of this id was
  // handled during this dump (counted there), or when the id is new and the tracked map is full
  // (counted whole when it ends; untracked() counts these).
  std::optional<FlowCount> dumped(const FlowCount& cumulative);
  // A DESTROY event: final minus the last counts seen, or the final counts whole when the id is
  // not tracked; the id is no longer tracked. nullopt for a second event of the id during a dump.
  std::optional<FlowCount> ended(const FlowCount& final_counts);
  // After the dump's NLMSG_DONE: the tombstones go, and the ids not seen by the last two
  // complete dumps are forgotten (swept()).
  void endDump();
  // After a failed dump: the tombstones go, nothing is forgotten (see the .cc).
  void abortDump();

  size_t tracked() const { return tracked_.size(); }
  uint64_t untracked() const { return untracked_; }  // dump entries skipped: the map was full
  uint64_t swept() const { return swept_; }          // ids forgotten, not seen by two dumps

 private:
  // The last counts seen of connection `id`.
  struct Last {
    uint64_t orig_bytes = 0;
    uint64_t orig_packets = 0;
    uint64_t reply_bytes = 0;
    uint64_t reply_packets = 0;
    uint64_t seen_dump = 0;
    uint32_t id = 0;
    uint32_t tag = 0;  // tagOf(id), kept so that moving a record never hashes again
  };
  static uint32_t tagOf(uint32_t id);
  // The place of `id` (whose tag is `tag`) in tracked_, FlatIndex::kNone when it is not tracked.
  uint32_t find(uint32_t id, uint32_t tag) const;
  // Forgets tracked_[i]: the last connection fills its place.
  void untrack(uint32_t i);
  size_t max_tracked_;
  // Every tracked connection, in no order, found by index_ (flat_index.h): each DESTROY event
  // looks its id up, and on a churning segment tens of thousands a second end.
  std::vector<Last> tracked_;
  FlatIndex index_;
  std::unordered_set<uint32_t> ended_;  // tombstones: ids whose event came during this dump
  uint64_t dump_number_ = 0;            // of the dump in progress or the last one
  uint64_t last_complete_ = 0;          // the number of the last dump that ended with its DONE
  bool dumping_ = false;
  uint64_t untracked_ = 0;
  uint64_t swept_ = 0;
};

}  // namespace muzzle
