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
#pragma once

#include <cstddef>
#include <cstdint>
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

}  // namespace muzzle
