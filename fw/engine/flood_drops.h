// FloodDrops: what the flood guard dropped (RulesetSpec::flood_rate), worked out from the
// kernel's per-device counts in @flood-dropped (RulesetWriter::readFloodDrops), which are
// cumulative and forgotten by the kernel two minutes after a device's last dropped packet.
// Each read is compared with the one before: a device's count that grew says how many of its new
// flows were dropped since; a device new to the read, or whose count went down (the kernel forgot
// it and began again), dropped its whole count. The engine logs the devices that grew
// (Daemon::readFloodGuard) and sums the drops for the status.
//
// Bounded by the kernel's set (kFloodSetSize): it keeps only the last read. Pure value code: no
// I/O, no locks; the engine thread owns it.
//
// SegmentDrops: the same for the segment guard (RulesetSpec::segment_rate), from the kernel's
// per-interface counts in @segment-dropped (RulesetWriter::readSegmentDrops); it also keeps each
// interface's drops since the first read, for the status and the metrics, whose counters must
// never go down when the kernel forgets an interface. Bounded by kSegmentSetSize interfaces in
// each; an interface past that many is still summed in dropped().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fw/common/net.h"
#include "fw/nft/ruleset.h"

namespace muzzle {

class FloodDrops {
 public:
  struct Growth {
    MacAddress device;
    uint64_t dropped = 0;  // since the last read
    uint64_t count = 0;    // the kernel's count now
  };

  // Takes a read (in any order; a device listed twice counts once, with its larger count) and
  // returns the devices that dropped flows since the last one, the most first.
  std::vector<Growth> update(std::vector<FloodDropCount> counts);
  // Every drop seen since the first read.
  uint64_t dropped() const { return dropped_; }
  // Devices the kernel holds a count for, at the last read: those that met the guard in the last
  // two minutes.
  size_t devices() const { return last_.size(); }

 private:
  std::vector<FloodDropCount> last_;  // sorted by device
  uint64_t dropped_ = 0;
};

class SegmentDrops {
 public:
  struct Growth {
    std::string interface;
    uint64_t dropped = 0;  // since the last read
    uint64_t count = 0;    // the kernel's count now
  };
  struct Total {
    std::string interface;
    uint64_t dropped = 0;  // since the first read
  };

  // As FloodDrops::update, by interface.
  std::vector<Growth> update(std::vector<SegmentDropCount> counts);
  uint64_t dropped() const { return dropped_; }
  // Interfaces the kernel holds a count for at the last read: drops in the last two minutes.
  size_t interfaces() const { return last_.size(); }
  // Every interface that dropped since the first read, sorted by name.
  const std::vector<Total>& totals() const { return totals_; }

 private:
  std::vector<SegmentDropCount> last_;  // sorted by interface
  std::vector<Total> totals_;           // sorted by interface, at most kSegmentSetSize
  uint64_t dropped_ = 0;
};

}  // namespace muzzle
