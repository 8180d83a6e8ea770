// EventLog: one structured line per event (logfmt: `ts=... event=deny device=lobby-cam ...`),
// written to a FILE* (stderr under systemd, so the journal keeps it). Denials and new devices
// are rate-limited so a chatty or hostile device cannot flood the log: past `max_per_second`
// lines in a second, lines are counted instead and one `event=log-suppressed count=N` line says
// how many were lost. Thread-safe: the Daemon's loop and every queue thread write to it; lines
// are written whole, one at a time.
//
// An EventSink (optional) sees every line that is written, after the rate limit: the management
// plane keeps them in a bounded ring for WatchEvents. The sink runs inside write(), under the
// log's lock, on the thread that wrote the line (the engine thread or a queue thread): it must be quick, must never block, and
// must not write to the log.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fw/common/clock.h"

namespace muzzle {

class LogLine {
 public:
  explicit LogLine(std::string_view event);
  LogLine& add(std::string_view key, std::string_view value);  // quotes values with spaces
  LogLine& add(std::string_view key, uint64_t value);
  const std::string& text() const { return text_; }
  const std::string& event() const { return event_; }
  // The key/value pairs in the order they were added, unquoted.
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::string text_;
  std::string event_;
  std::vector<std::pair<std::string, std::string>> fields_;
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  // The engine thread or a queue thread, one call at a time; must not block.
  virtual void onEvent(const LogLine& line) = 0;
};

class EventLog {
 public:
  // "*out" and "*clock" must outlive the EventLog.
  EventLog(FILE* out, const Clock& clock, unsigned max_per_second = 200)
      : out_(out), clock_(clock), max_per_second_(max_per_second) {}

  // Always written: start-up, reloads, errors, counters.
  void write(const LogLine& line);
  // Subject to the rate limit: per-flow and per-device events.
  void writeLimited(const LogLine& line);
  uint64_t suppressed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return suppressed_total_;
  }
  // "*sink" must outlive the EventLog, or be replaced by nullptr first.
  void setSink(EventSink* sink) {
    std::lock_guard<std::mutex> lock(mu_);
    sink_ = sink;
  }

 private:
  void emit(const LogLine& line);  // mu_ held

  mutable std::mutex mu_;
  FILE* out_;
  const Clock& clock_;
  unsigned max_per_second_;
  std::chrono::steady_clock::time_point window_start_{};
  unsigned in_window_ = 0;
  uint64_t suppressed_in_window_ = 0;
  uint64_t suppressed_total_ = 0;
  EventSink* sink_ = nullptr;
};

}  // namespace muzzle
