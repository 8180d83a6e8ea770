// VolumeLimits: the `limits:` of profiles (CompiledLimit) applied to what the kernel counted.
// Each accounting interval the engine hands it every device's growth per traffic class; for each
// limit of the device's profile that the class falls under, a window of `per` opens at the first
// growth, sums upload and download, and the first time one passes its bound the limit is
// exceeded: an event, and with `block` the device's traffic in that class is refused (the Judge's
// volume blocks) until the window ends or an admin releases the device. A window ends `per` after
// it opened; the next growth opens a new one.
//
// A window is kept by device and by the limit's label and text, so a reload that leaves a limit
// as it was keeps its windows (and blocks); a limit that is gone or changed drops them. A limit
// with a `when` counts only while its schedule holds; when it closes, its windows end (and their
// blocks are lifted).
//
// Pure value code: no I/O, no locks; the engine thread owns it (fw/engine/daemon_accounting.cc).
// Time is the monotonic clock: a wall-clock jump neither ends nor stretches a window.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "fw/common/keyed_hash.h"
#include "fw/common/net.h"
#include "fw/policy/compiled_policy.h"

namespace muzzle {

class VolumeLimits {
 public:
  using Time = std::chrono::steady_clock::time_point;

  // What one device's traffic in one class grew by since the last interval.
  struct Growth {
    MacAddress device;
    int profile = -1;  // index into the policy's profiles
    uint8_t traffic_class = 0;
    uint64_t upload_bytes = 0;
    uint64_t download_bytes = 0;
  };

  // Something to tell: a limit passed, or a block lifted.
  struct Event {
    enum Kind { kExceeded, kReleased } kind = kExceeded;
    MacAddress device;
    std::string limit;   // "profiles.camera.limits[0]"
    std::string source;  // "internet upload 200MB per 1h block"
    bool upload = true;  // kExceeded: which direction passed
    uint64_t observed = 0;  // kExceeded: bytes in the window so far
    bool block = false;     // kExceeded: the traffic is now refused
    // kReleased: "window-ended", "admin", "limit-removed" or "schedule-closed"
    const char* why = "";
  };

  // Adds one interval's growth under `policy`, with `active` the schedules that hold now
  // (fw/policy/schedule.h), ends windows that are over, and returns what happened.
  // blocksChanged() says whether the Judge's blocks must be replaced.
  std::vector<Event> update(const CompiledPolicy& policy, const std::vector<Growth>& growth,
                            Time now, ScheduleMask active = ~ScheduleMask{0});
  // Lifts every block of `device` (its windows keep counting, and do not block again before
  // they end). Returns the events, empty when nothing was blocked.
  std::vector<Event> release(MacAddress device);

  // For Judge::setVolumeBlocks: device -> blocked class bits (a limit without `to`: all).
  MacMap<uint64_t> blocks() const;
  bool blocksChanged() const { return blocks_changed_; }
  // Open windows, for the status.
  size_t windows() const;

 private:
  struct Window {
    std::string key;  // the limit's label and source: the same limit across reloads
    Time opened;
    std::chrono::seconds per{0};
    int16_t schedule = -1;
    uint64_t upload = 0;
    uint64_t download = 0;
    bool exceeded = false;
    bool blocked = false;
    uint64_t class_bits = 0;  // blocked classes, when blocked
    std::string limit;
    std::string source;
  };
  Window& window(std::vector<Window>& windows, const CompiledLimit& limit, Time now);
  void endWindows(const CompiledPolicy& policy, Time now, ScheduleMask active,
                  std::vector<Event>* events);

  MacMap<std::vector<Window>> windows_;  // by MacAddress::value
  bool blocks_changed_ = false;
};

}  // namespace muzzle
