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
// The dump does not zero the counters (conntrack_wire.h says why): what each connection counted
// since the last read is worked out from its cumulative counts by ConnectionGrowth and summed by
// FlowCountTotals (flow_counts.h, pure and bounded); the messages are built and parsed by
// conntrack_wire.h (every byte from the kernel read as untrusted). This file holds the live
// part: the two sockets, the event thread, and the sysctls they depend on. Its sockets are tested
// in a real kernel by tests/scenario/accounting.sh.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "fw/common/status.h"
#include "fw/nft/flow_counts.h"

namespace muzzle {

// Whether both of this network namespace's UDP timeouts (nf_conntrack_udp_timeout, for a
// connection that saw no reply, and nf_conntrack_udp_timeout_stream) are at least twice
// `interval_seconds`: a UDP connection then always meets a dump after its last packet and
// before the kernel destroys it, and the dumps alone count it exactly (RulesetSpec::udp_ends).
// False when either cannot be read.
bool udpTimeoutsOutlive(uint32_t interval_seconds);

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
  // The live connections of the last read that succeeded (its dump's), by device, for the
  // connection limit's recount; taken once (a second take, or one after a failed read, is not
  // complete). A read counts them only when they were taken since the read before (and the
  // first read, at the counter's opening): a box that does not count connections in muzzled
  // reads none after its first.
  virtual LiveConnections takeLive() = 0;

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
