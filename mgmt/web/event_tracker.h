// EventTracker: what the console's pages show that the management API keeps no history of —
// denials per minute over the last hour, and what each device tried to reach — fed with every
// event of the console's own in-process event watch (console.h). Bounded, thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "mgmt/web/pages.h"
#include "muzzle/v1/management.pb.h"

namespace muzzle::web {

// What the pages show that the API does not keep: fed with every event the console sees.
class EventTracker {
 public:
  static constexpr size_t kMaxTrackedDevices = 4096;
  static constexpr size_t kMaxAttempts = 32;

  void add(const v1::Event& event);
  // Denials per minute over the 60 minutes before `now_unix`, oldest first.
  std::vector<uint32_t> denialsPerMinute(int64_t now_unix) const;
  // What `mac` tried, most recent first.
  std::vector<Attempt> attempts(const std::string& mac) const;

 private:
  struct Device {
    std::vector<Attempt> attempts;
    int64_t last_unix = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, Device> devices_;
  // Minute number (unix seconds / 60) -> denials in it; at most the last 60 minutes kept.
  std::map<int64_t, uint32_t> denials_;
};

}  // namespace muzzle::web
