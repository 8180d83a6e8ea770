// Per-device accounting, the kernel's half: conntrack counts every packet of every connection
// (net.netfilter.nf_conntrack_acct=1: two atomic adds a packet in code every packet passes
// anyway), so the table `inet muzzle` counts nothing itself and an established allowed packet
// meets one verdict map and nothing else (ruleset_layout.h).
//
// muzzled reads the counts two ways, and never keeps state per connection:
// - every accounting interval, a dump of the conntrack table that reads and zeroes the counters
//   of each allowed connection (IPCTNL_MSG_CT_GET_CTRZERO, each counter swapped atomically), with
//   the kernel's own mark filter: CTA_MARK 0 under CTA_MARK_MASK 0x2, i.e. verdict code 0 or 1
//   (marks.h; a refused connection's code is 2 or 3, and its packets are never counted). What a
//   dump returns is what each connection counted since the dump before;
// - connections that end between two dumps: their DESTROY events (NFNLGRP_CONNTRACK_DESTROY)
//   carry what they counted since the last zeroing. A thread drains the event socket as events
//   come (many at a time), so the packet path never waits on it; events the kernel could not
//   queue because the socket's buffer was full are lost, and counted (ENOBUFS), never silent.
// Between the two nothing is counted twice: the dump zeroes what it returns, and an event carries
// only what came after.
//
// Every byte from the kernel is read as untrusted, with libmnl: each attribute's length checked
// against its parent's before it is read. A connection whose entry carries no counters (it began
// before accounting was turned on) is skipped and counted as uncounted.
//
// The pure parts (the request, the parse, FlowCountTotals) are tested without root on built
// messages (tests/unit/fw/nft/conntrack_counts_test.cc) and fuzzed (tests/fuzz/conntrack_fuzz.cc);
// the sockets in a real kernel by tests/scenario/accounting.sh.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "fw/common/net.h"
#include "fw/common/status.h"

namespace muzzle {

// What one connection counted since its counters were last read (or since it began). Addresses
// as conntrack's original direction has them: `source` opened the connection.
struct FlowCount {
  IpAddress source;
  IpAddress destination;
  uint32_t mark = 0;  // the conntrack mark (marks.h)
  uint64_t orig_bytes = 0;
  uint64_t orig_packets = 0;
  uint64_t reply_bytes = 0;
  uint64_t reply_packets = 0;
};

// The counts of every connection between the same two addresses with the same traffic class,
// summed: what accounting needs, and bounded by the number of such pairs, not of connections.
struct FlowGroupCount {
  IpAddress source;
  IpAddress destination;
  uint8_t traffic_class = 0;  // the class bits of the mark (marks.h)
  bool judged = false;        // the mark carries a generation: muzzled judged the connection
  uint64_t orig_bytes = 0;
  uint64_t orig_packets = 0;
  uint64_t reply_bytes = 0;
  uint64_t reply_packets = 0;
};

// The dump request (one netlink message): every IPv4 and IPv6 connection whose verdict code is 0
// or 1, its counters read and zeroed. Numbered `seq`.
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
// malformed or short, an entry without its original tuple, an NLMSG_ERROR (its errno named), a
// dump the kernel interrupted (NLM_F_DUMP_INTR). On failure `out` may hold some entries.
Status parseConntrackMessages(std::span<const char> bytes, std::vector<FlowCount>* out,
                              ConntrackParseStats* stats);

// Sums FlowCounts into FlowGroupCounts, at most `max_groups` different groups between two
// take()s; the counts of a group beyond that are dropped and counted (lostBytes()). Counts of
// zero are not kept, nor those of a refused connection (verdict code 2 or 3: events carry every
// connection's, the kernel's mark filter applies to dumps only). A mark without a generation
// (0: a connection muzzled never judged, such as the box's own) is grouped as class 0, not
// judged. Pure value code, not thread-safe.
class FlowCountTotals {
 public:
  explicit FlowCountTotals(size_t max_groups) : max_groups_(max_groups) {}
  void add(const FlowCount& count);
  std::vector<FlowGroupCount> take();
  size_t groups() const { return groups_.size(); }
  uint64_t lostBytes() const { return lost_bytes_; }  // since construction

 private:
  struct Key {
    IpAddress source;
    IpAddress destination;
    uint8_t traffic_class = 0;
    bool judged = false;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  size_t max_groups_;
  std::unordered_map<Key, FlowGroupCount, KeyHash> groups_;
  uint64_t lost_bytes_ = 0;
};

// The live counter in the calling thread's network namespace: the dump socket, the event socket
// and the thread that drains it. Reads are made by one thread at a time.
class ConntrackCounter {
 public:
  virtual ~ConntrackCounter() = default;
  // What every allowed connection counted since the last read: a zeroing dump plus the events
  // of the connections that ended since. An error when the dump failed (nothing is returned
  // then: what it zeroed before failing is kept and returned by the next read, the counts it did
  // not zero are read by the next dump; nothing is lost).
  virtual Result<std::vector<FlowGroupCount>> read() = 0;

  struct Stats {
    uint64_t events = 0;           // DESTROY events read
    uint64_t event_overruns = 0;   // times the kernel dropped events (ENOBUFS)
    uint64_t event_errors = 0;     // event messages refused by the parse
    uint64_t uncounted = 0;        // entries without counters, dumps and events
    uint64_t lost_bytes = 0;       // bytes of groups beyond the bound (FlowCountTotals)
    size_t last_groups = 0;        // groups the last read returned
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
