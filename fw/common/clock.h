// The clock seam. Code that waits, expires or rate-limits takes a Clock& so tests can move time
// instead of sleeping.
#pragma once

#include <chrono>
#include <cstdint>

namespace muzzle {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time, for timeouts, TTLs and rate limits.
  virtual std::chrono::steady_clock::time_point now() const = 0;
  // Calendar time, for what people read and what survives a restart (first/last seen).
  virtual std::chrono::system_clock::time_point wallNow() const = 0;
};

class SystemClock : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override {
    return std::chrono::steady_clock::now();
  }
  std::chrono::system_clock::time_point wallNow() const override {
    return std::chrono::system_clock::now();
  }
};

// Whole seconds since 1970 of a calendar time: how saved records (inventory, bindings) hold it.
inline int64_t unixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// A clock that only moves when told to. For tests.
class ManualClock : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override { return now_; }
  std::chrono::system_clock::time_point wallNow() const override { return wall_; }
  void advance(std::chrono::steady_clock::duration d) {
    now_ += d;
    wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
  }
  // The calendar clock alone is set, as an NTP step or an admin's `date -s` does: monotonic
  // time goes on as it was.
  void setWall(std::chrono::system_clock::time_point t) { wall_ = t; }

 private:
  std::chrono::steady_clock::time_point now_{std::chrono::hours(1)};
  std::chrono::system_clock::time_point wall_{std::chrono::seconds(1'790'000'000)};
};

}  // namespace muzzle
