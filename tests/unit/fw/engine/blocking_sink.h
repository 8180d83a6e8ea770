// A stuck event consumer for the engine's unit tests: it stops inside its first onEvent() until
// the test releases it (a stalled watcher, a blocked pipe), and records every line it sees.
#pragma once

#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "fw/engine/event_log.h"

namespace muzzle::testing {

// Long enough for a loaded machine; a regression fails after it instead of hanging the run.
constexpr auto kWatchdog = std::chrono::seconds(20);

class BlockingSink : public EventSink {
 public:
  void onEvent(const LogLine& line) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      texts_.push_back(line.text());
      times_.push_back(line.time());
      if (texts_.size() > 1) return;
    }
    entered_.set_value();
    released_.wait();
  }
  // True once the first line arrived (the consumer is now stuck).
  bool waitEntered() { return entered_future_.wait_for(kWatchdog) == std::future_status::ready; }
  // Idempotent.
  void release() {
    std::call_once(release_once_, [this] { release_.set_value(); });
  }
  std::vector<std::string> texts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return texts_;
  }
  std::vector<std::chrono::system_clock::time_point> times() const {
    std::lock_guard<std::mutex> lock(mu_);
    return times_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> texts_;
  std::vector<std::chrono::system_clock::time_point> times_;
  std::promise<void> entered_;
  std::future<void> entered_future_ = entered_.get_future();
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
  std::once_flag release_once_;
};

// Releases the sink when the test leaves its scope, also on a failed REQUIRE, so the EventLog
// can stop. Declare it after the EventLog (it must be destroyed first).
struct ReleaseOnExit {
  BlockingSink& sink;
  ~ReleaseOnExit() { sink.release(); }
};

// True if `f` finished within the watchdog.
template <typename T>
bool finishes(std::future<T>& f) {
  return f.wait_for(kWatchdog) == std::future_status::ready;
}

}  // namespace muzzle::testing
