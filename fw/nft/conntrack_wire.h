// Per-device accounting, conntrack's wire format: the dump request that reads every allowed
// connection's cumulative counters, and the parse of its answer and of DESTROY events into
// FlowCounts (flow_counts.h). Pure: no socket (the live counter, conntrack_counts.h, sends and
// receives); tested on built messages (tests/unit/fw/nft/conntrack_counts_test.cc) and fuzzed
// (tests/fuzz/conntrack_fuzz.cc).
//
// The dump never zeroes the counters (IPCTNL_MSG_CT_GET_CTRZERO would): the kernel swaps each
// counter to 0 before it writes the entry into the dump's message, and an entry that does not
// fit (one every ~100 entries, at each message boundary) is written again into the next message
// with its counters already zeroed: what it counted was lost. So the counts are cumulative
// (ConnectionGrowth, flow_counts.h, works out each read's growth).
//
// Every byte from the kernel is read as untrusted, with libmnl: each attribute's length checked
// against its parent's before it is read. A connection whose entry carries no counters (it began
// before accounting was turned on) is skipped and counted as uncounted.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fw/common/status.h"
#include "fw/nft/flow_counts.h"

namespace muzzle {

// The dump request (one netlink message): every IPv4 and IPv6 connection whose verdict code is 0
// or 1, with its cumulative counters (read, never zeroed). Numbered `seq`.
std::vector<char> conntrackCountsRequest(uint32_t seq);

// What a parse found besides the counts.
struct ConntrackParseStats {
  uint64_t entries = 0;    // connection entries read
  uint64_t uncounted = 0;  // entries without counters (accounting was off when they began)
  bool done = false;       // the dump's NLMSG_DONE was read
};

// Who must have sent the messages of a dump's answer: it carries its request's number and the
// dump socket's port id.
struct ConntrackDumpSender {
  uint32_t seq = 0;
  uint32_t portid = 0;
};

// Parses the messages in `bytes` (what one recv returned: part of a dump answer, or events), at
// a 4-byte aligned address. Appends the FlowCount of each connection entry (IPCTNL_MSG_CT_NEW or
// IPCTNL_MSG_CT_DELETE) that counted something to `out`; entries of other families than IPv4 and
// IPv6 are skipped. Refused, with an error naming what was wrong: a message or attribute that is
// malformed or short, an entry without its original tuple or its id, an NLMSG_ERROR (its errno
// named), a dump the kernel interrupted (NLM_F_DUMP_INTR), and with `sender`, a message that
// answers another request. On failure `out` may hold some entries.
// With `live` (a dump's answer), also appends the device of every connection that is alive for
// the connection limit (fw/device/connection_counts.h): its mark carries a generation and verdict
// code 0 or 1 (muzzled judged and allowed it), it is not a TCP connection in TIME_WAIT or CLOSE
// (as nf_conncount, which forgets those), and its label names the device that opened it (the
// source MAC address muzzled's table set on its first packet; a connection without such a label
// counts for none). Counters or none, idle or not. A garbled protocol state, or labels of another
// size than the kernel's 16 bytes, refuse the entry.
Status parseConntrackMessages(std::span<const char> bytes, std::vector<FlowCount>* out,
                              ConntrackParseStats* stats,
                              const ConntrackDumpSender* sender = nullptr,
                              std::vector<MacAddress>* live = nullptr);

// An error number from an answer (negative, as netlink carries it, or not) or from errno, as
// text; any value a garbled answer may hold, INT_MIN included.
std::string netlinkErrorText(int raw);

}  // namespace muzzle
