// The kernel's connection table (conntrack) as a whole: how full it is, and what a full table cost.
// Every flow muzzled allows takes an entry until it ends or times out, and the table is shared by
// every device of every segment: one device that opens connections fast enough (a hacked camera,
// a flood of DNS queries from random ports) fills it, and then the kernel evicts connections that
// never saw a reply to make room (early drops: their counts since the last accounting read are
// lost while UDP's destroy events are off) and, when none is left to evict, drops the new
// connection's packet (drops: a flow of any device refused by no rule). `muzzlectl status` and
// the metrics show both, so that an admin sees it happen and why.
//
// From this network namespace's /proc: net.netfilter.nf_conntrack_count and _max, and
// /proc/net/stat/nf_conntrack (a header naming the columns, then one row per CPU in hex: the
// counters are per CPU and summed here). parseConntrackStat is pure (tested without root).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fw/common/status.h"

namespace muzzle {

struct ConntrackTableStats {
  uint64_t entries = 0;      // connections in the table now
  uint64_t max = 0;          // the most it holds (net.netfilter.nf_conntrack_max)
  uint64_t early_drops = 0;  // connections without a reply evicted to make room
  uint64_t drops = 0;        // packets dropped: no entry could be made (the table full)
};

// Sums the `early_drop` and `drop` columns over the rows of the stat file's `text` (into a
// ConntrackTableStats whose entries and max are 0). The columns are found by the header's names,
// as their order changed between kernels. A missing column, a row of another width, a field that
// is not hex or more than 1,024 rows fail with kInvalidArgument, naming `label` and the line:
// the format is the kernel's, and a surprise there should be loud rather than read as zeros.
Result<ConntrackTableStats> parseConntrackStat(
    std::string_view text, std::string_view label = "/proc/net/stat/nf_conntrack");

// net.netfilter.`name` of the calling thread's network namespace (/proc/sys under `proc`), one
// number. Fails, naming the file, when it cannot be read or is not one number.
Result<uint64_t> readNetfilterSysctl(std::string_view name, const std::string& proc = "/proc");

// The table of the calling thread's network namespace, read under `proc` (a test's folder).
// Fails, naming the file, when one cannot be read (the conntrack module not loaded yet).
Result<ConntrackTableStats> readConntrackTable(const std::string& proc = "/proc");

}  // namespace muzzle
