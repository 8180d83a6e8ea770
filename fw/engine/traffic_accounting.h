// TrafficAccounting: turns what the kernel counted per device address and traffic class (the
// accounting sets of table `inet muzzle`, read with RulesetWriter::readAccounting) into what
// each read added, and says which elements have been idle long enough to give their room back.
//
// The kernel's counts grow from the moment an element is added to its set until muzzled forgets
// it. This class keeps the last count of every element it saw, so each read yields the growth
// since the read before. An element whose count went down was forgotten and added again in
// between (e.g. the table was replaced at a restart): its whole count is new. An element missing
// from a read is gone, and forgotten here too.
//
// Pure value code (no I/O, no locks); the engine thread owns it (fw/engine/daemon_accounting.cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "fw/common/net.h"
#include "fw/nft/ruleset.h"

namespace muzzle {

class TrafficAccounting {
 public:
  using Time = std::chrono::steady_clock::time_point;

  // What one element's count grew by since the last read (only elements that grew).
  struct Growth {
    IpAddress address;
    bool upload = false;
    uint8_t traffic_class = 0;  // the element's class (marks.h)
    uint64_t bytes = 0;
    uint64_t packets = 0;
  };

  // The growth of every element since the previous read, `counts` being a whole read.
  std::vector<Growth> update(const std::vector<AccountingCount>& counts, Time now);

  // Elements that have not grown for `idle`, for the caller to forget in the kernel. Once the
  // kernel has, forget() drops them here too; an element that grows again later comes back as
  // new, from zero.
  std::vector<AccountingCount> idle(Time now, std::chrono::seconds idle) const;
  void forget(const std::vector<AccountingCount>& elements);

  size_t size() const { return last_.size(); }

 private:
  struct Key {
    IpAddress address;
    bool upload = false;
    uint8_t traffic_class = 0;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Last {
    uint64_t bytes = 0;
    uint64_t packets = 0;
    Time grew;
    uint64_t read = 0;  // the update() that saw it last
  };
  std::unordered_map<Key, Last, KeyHash> last_;
  uint64_t reads_ = 0;
};

}  // namespace muzzle
