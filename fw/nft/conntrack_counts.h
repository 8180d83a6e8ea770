// Per-device accounting, the kernel's half: conntrack counts every packet of every connection
// (net.netfilter.nf_conntrack_acct=1: two atomic adds a packet in code every packet passes
// anyway), so the table `inet muzzle` counts nothing itself and an established allowed packet
// meets one verdict map and nothing else (ruleset_layout.h).
//
// muzzled reads the counts two ways:
// - every accounting interval, a dump of the conntrack table (IPCTNL_MSG_CT_GET, NLM_F_DUMP) that
//   reads each allowed connection's cumulative counters, with the kernel's own mark filter:
//   CTA_MARK 0 under CTA_MARK_MASK 0x2, i.e. verdict code 0 or 1 (marks.h; a refused
//   connection's code is 2 or 3, and its packets are never counted);
// - connections that end: their DESTROY events (NFNLGRP_CONNTRACK_DESTROY) carry their final
//   counts. A thread (muzzle-ctevents) drains the event socket many at a time and then sleeps
//   10 ms, so that it wakes ~100 times a second however fast connections end, and the packet
//   path never waits on it; events the kernel could not queue because the socket's buffer was
//   full are lost, and counted (ENOBUFS), never silent.
// The dump does not zero the counters (IPCTNL_MSG_CT_GET_CTRZERO would): the kernel swaps each
// counter to 0 before it writes the entry into the dump's message, and an entry that does not
// fit (one every ~100 entries, at each message boundary) is written again into the next message
// with its counters already zeroed: what it counted was lost. So the counts are cumulative, and
// what a connection counted since the last read is worked out here (ConnectionGrowth), keyed by
// conntrack's id of the connection (CTA_ID, in dump entries and events alike): the growth of its
// counters since the dump before, or since it began when it was never seen; a DESTROY event
// counts final minus the last counts seen, and ends the tracking (a UDP connection may send none:
// udpTimeoutsOutlive says when the dumps alone count it). An event handled while a dump is in
// progress leaves a tombstone, so that the same connection in a part of the dump not yet parsed
// is not counted a second time. A connection no longer seen by two dumps in a row is forgotten
// (it sent no event, its event was lost, or its mark became a refusal, which the kernel's filter
// excludes): two, not one, because a connection that ended just before a dump may have its event
// still queued, and must stay tracked until it is read. At most kMaxTrackedConnections are
// tracked; a connection beyond that is not counted by the dumps but, whole, when it ends (by its
// event), and the dump entries so skipped are counted (Stats::untracked).
// Counters that went down under a known id mean the id was reused by a new connection: its
// counts are taken whole. The first dump, when the counter opens, is a baseline: the connections
// open then are tracked at their counts and none is counted, since what they counted before was
// the previous muzzled's to read (a restart must not count a long connection's past twice); what
// they count while no muzzled reads them is not counted.
//
// Every byte from the kernel is read as untrusted, with libmnl: each attribute's length checked
// against its parent's before it is read. A connection whose entry carries no counters (it began
// before accounting was turned on) is skipped and counted as uncounted.
//
// The pure parts (the request, the parse, ConnectionGrowth, FlowCountTotals) are tested without
// root on built messages (tests/unit/fw/nft/conntrack_counts_test.cc) and fuzzed
// (tests/fuzz/conntrack_fuzz.cc); the sockets in a real kernel by tests/scenario/accounting.sh.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "fw/common/net.h"
#include "fw/common/status.h"

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

// The dump request (one netlink message): every IPv4 and IPv6 connection whose verdict code is 0
// or 1, with its cumulative counters (read, never zeroed). Numbered `seq`.
std::vector<char> conntrackCountsRequest(uint32_t seq);

// What a parse found besides the counts.
struct ConntrackParseStats {
  uint64_t entries = 0;    // connection entries read
  uint64_t uncounted = 0;  // entries without counters (accounting was off when they began)
  bool done = false;       // the dump's NLMSG_DONE was read
};

// Parses the messages in `bytes` (what one recv returned: part of a dump answer, or events), at
// a 4-byte aligned address. Appends the FlowCount of each connection entry (IPCTNL_MSG_CT_NEW or
// IPCTNL_MSG_CT_DELETE) that counted something to `out`; entries of other families than IPv4 and
// IPv6 are skipped. Refused, with an error naming what was wrong: a message or attribute that is
// malformed or short, an entry without its original tuple or its id, an NLMSG_ERROR (its errno
// named), a dump the kernel interrupted (NLM_F_DUMP_INTR). On failure `out` may hold some entries.
Status parseConntrackMessages(std::span<const char> bytes, std::vector<FlowCount>* out,
                              ConntrackParseStats* stats);

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
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  // The group of `key`, made when there is room for one more of its kind; null when not.
  FlowGroupCount* groupFor(const Key& key);
  size_t max_ends_;
  size_t max_pairs_;
  std::unordered_map<Key, FlowGroupCount, KeyHash> groups_;
  size_t pairs_ = 0;  // groups_ of Ends::kBoth; the rest are ends
  uint64_t lost_bytes_ = 0;
};

// The most connections ConnectionGrowth tracks by default: 65,536 (~6 MiB at most).
inline constexpr size_t kMaxTrackedConnections = 65536;

// Whether both of this network namespace's UDP timeouts (nf_conntrack_udp_timeout, for a
// connection that saw no reply, and nf_conntrack_udp_timeout_stream) are at least twice
// `interval_seconds`: a UDP connection then always meets a dump after its last packet and
// before the kernel destroys it, and the dumps alone count it exactly (RulesetSpec::udp_ends).
// False when either cannot be read.
bool udpTimeoutsOutlive(uint32_t interval_seconds);

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
  struct Last {
    uint64_t orig_bytes = 0;
    uint64_t orig_packets = 0;
    uint64_t reply_bytes = 0;
    uint64_t reply_packets = 0;
    uint64_t seen_dump = 0;
  };
  size_t max_tracked_;
  std::unordered_map<uint32_t, Last> tracked_;
  std::unordered_set<uint32_t> ended_;  // tombstones: ids whose event came during this dump
  uint64_t dump_number_ = 0;            // of the dump in progress or the last one
  uint64_t last_complete_ = 0;          // the number of the last dump that ended with its DONE
  bool dumping_ = false;
  uint64_t untracked_ = 0;
  uint64_t swept_ = 0;
};

// The live counter in the calling thread's network namespace: the dump socket, the event socket
// and the thread that drains it. Reads are made by one thread at a time.
class ConntrackCounter {
 public:
  virtual ~ConntrackCounter() = default;
  // What every allowed connection counted since the last read: the growth of the cumulative
  // counts of a dump plus the events of the connections that ended since. An error when the dump
  // failed (nothing is returned then: the growth it read before failing is kept and returned by
  // the next read, the entries it did not reach are read by the next dump; nothing is lost).
  virtual Result<std::vector<FlowGroupCount>> read() = 0;

  struct Stats {
    uint64_t events = 0;          // DESTROY events read
    uint64_t event_overruns = 0;  // times the kernel dropped events (ENOBUFS)
    uint64_t event_errors = 0;    // event messages refused by the parse
    uint64_t uncounted = 0;       // entries without counters, dumps and events
    uint64_t lost_bytes = 0;      // bytes of groups beyond the bound (FlowCountTotals)
    size_t last_groups = 0;       // groups the last read returned
    uint64_t untracked = 0;       // dump entries skipped: the tracked map was full (counted
                                  // whole by their event)
    uint64_t swept = 0;           // connections forgotten: not seen by two dumps, no event
    size_t tracked = 0;           // connections tracked now
  };
  virtual Stats stats() const = 0;
};

// The most groups kept between two reads (a device and a peer each, with its class): 65,536.
inline constexpr size_t kMaxFlowGroups = 65536;

// Turns conntrack's counters on in this network namespace when it can (writes 1 to
// /proc/sys/net/netfilter/nf_conntrack_acct, and to nf_conntrack_events when that is 0; a
// sandboxed muzzled cannot, and muzzled.service's ExecStartPre does it instead), opens both
// sockets (the event socket's buffer raised with SO_RCVBUFFORCE, CAP_NET_ADMIN) and starts the
// event thread. An error names what failed (no socket, no permission).
Result<std::unique_ptr<ConntrackCounter>> openConntrackCounter(size_t max_groups = kMaxFlowGroups);

}  // namespace muzzle
