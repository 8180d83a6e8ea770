// EventLog: one structured line per event (logfmt: `ts=... event=deny device=lobby-cam ...`),
// written to a FILE* (stderr under systemd, so the journal keeps it) and handed to consumers
// (EventSink: the management plane's event ring today; syslog or metrics tomorrow).
//
// Two sides, so the packet path never waits on a client, a file or a log write:
// - Producers (the queue threads while they judge, under the judge's lock; the engine thread;
//   management threads) call write()/writeLimited(). That stamps the line with the clock's wall
//   time, applies the rate limit, and moves the line into a bounded buffer of `buffer_lines`
//   lines (kDefaultBufferLines). The log's mutex is held only for that move: no I/O, no consumer
//   call, no allocation (the buffer's storage is reserved up front; only the once-a-second
//   log-suppressed line is built under it). When the buffer is full the line is dropped and
//   counted (dropped()): a producer never waits for delivery.
// - The delivery thread ("muzzle-events") takes the buffered lines in one swap, writes them to
//   the file, then hands each to every consumer, in the order they were written. A slow file or
//   a slow consumer delays only delivery; past the buffer, lines are lost and counted. After
//   lines were dropped it adds one `event=events-dropped count=N buffer_lines=B` line (stamped
//   with the time of the last loss) once it has delivered the lines buffered before the loss.
//
// Denials and new devices are rate-limited (writeLimited) so a chatty or hostile device cannot
// flood the log: past `max_per_second` lines in a second, lines are counted instead and one
// `event=log-suppressed count=N` line says how many were lost. Lines written with write()
// (start-up, reloads, errors, counters) are not rate-limited, and may also use the last
// kReservedLines of the buffer, so a flood of denials cannot crowd out the line that says what
// happened.
//
// Stopping: stop() (or the destructor) delivers every buffered line, then ends the thread.
// Lines written after that go straight to the file on the writer's thread and no consumer sees
// them: only a process's last words come then (the queue threads are stopped first), and the
// consumers may already be gone.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "fw/common/clock.h"

namespace muzzle {

class LogLine {
 public:
  explicit LogLine(std::string_view event);
  // Quotes values with spaces. On a temporary, returns it as an rvalue, so a line built in one
  // expression moves into the EventLog instead of being copied.
  LogLine& add(std::string_view key, std::string_view value) &;
  LogLine& add(std::string_view key, uint64_t value) &;
  LogLine&& add(std::string_view key, std::string_view value) && {
    return std::move(add(key, value));
  }
  LogLine&& add(std::string_view key, uint64_t value) && { return std::move(add(key, value)); }

  const std::string& text() const { return text_; }
  const std::string& event() const { return event_; }
  // The key/value pairs in the order they were added, unquoted.
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }
  // When the event happened: set by the EventLog as the line is written (not when it is
  // delivered). The epoch for a line no EventLog has seen.
  std::chrono::system_clock::time_point time() const { return time_; }
  void setTime(std::chrono::system_clock::time_point t) { time_ = t; }

 private:
  std::string text_;
  std::string event_;
  std::vector<std::pair<std::string, std::string>> fields_;
  std::chrono::system_clock::time_point time_{};
};

// A consumer of the EventLog's lines.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // The EventLog's delivery thread, one line at a time, in the order the lines were written,
  // after the line reached the file. May be slow (later lines wait in the EventLog's bounded
  // buffer, and past it are dropped and counted; judging never waits), but must not wait without
  // bound: it holds up every other consumer and the log file. May write() to the EventLog (the
  // line comes in a later batch), but must not call its flush(), stop(), addConsumer() or
  // removeConsumer(): they wait for the delivery thread.
  virtual void onEvent(const LogLine& line) = 0;
};

class EventLog {
 public:
  static constexpr unsigned kDefaultMaxPerSecond = 200;
  // Lines waiting for delivery. At ~300 bytes a line, about 1.2 MB when full; the delivery
  // thread holds at most as many again while it delivers them.
  static constexpr size_t kDefaultBufferLines = 4096;
  // Room past the buffer for write()'s lines only (see above).
  static constexpr size_t kReservedLines = 64;

  // "*out" and "*clock" must outlive the EventLog; the clock is read on the writers' threads.
  // Starts the delivery thread.
  EventLog(FILE* out, const Clock& clock, unsigned max_per_second = kDefaultMaxPerSecond,
           size_t buffer_lines = kDefaultBufferLines);
  ~EventLog();  // stop()s
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Any thread; never blocks on delivery. Not rate-limited: start-up, reloads, errors,
  // counters. Lost (and counted) only when the buffer and its reserve are full.
  void write(LogLine line);
  // Subject to the rate limit: per-flow and per-device events.
  void writeLimited(LogLine line);

  // Any thread but the delivery thread. "*sink" sees every line delivered after this returns;
  // it must outlive the EventLog, or be removed first. Removing waits for a delivery in progress,
  // so once removeConsumer() returns the sink is never called again.
  void addConsumer(EventSink& sink);
  void removeConsumer(EventSink& sink);

  // Any thread but the delivery thread. Waits until every line written before the call has
  // reached the file and the consumers, or `timeout` passed; false on timeout.
  bool flush(std::chrono::milliseconds timeout = std::chrono::hours(24));
  // Delivers what is buffered, then ends the delivery thread (see above). Idempotent.
  void stop();

  // Any thread.
  uint64_t suppressed() const;  // by the rate limit, since start
  uint64_t dropped() const;     // because the buffer was full, since start
  size_t capacity() const { return capacity_; }

 private:
  void enqueue(LogLine&& line, bool limited);
  // mu_ held. Returns whether the delivery thread must be woken.
  bool pushLocked(LogLine&& line, bool limited);
  void deliveryLoop();
  void deliver(const std::vector<LogLine>& lines);

  // The `ts=` text of the last second formatted: a flood formats the time once a second.
  struct Stamp {
    std::time_t second = -1;
    char text[32] = {};
  };
  // Appends `line`, with its timestamp, as one line of the file.
  static void appendLine(const LogLine& line, Stamp& stamp, std::string& out);

  FILE* out_;
  const Clock& clock_;
  const unsigned max_per_second_;
  const size_t capacity_;

  mutable std::mutex mu_;         // the producers' side: held for a rate-limit check and a move
  std::condition_variable work_;  // the delivery thread waits here
  std::condition_variable delivered_;  // flush() waits here
  std::vector<LogLine> pending_;       // capacity_ + kReservedLines reserved; swapped out whole
  bool thread_idle_ = false;           // waiting on work_: the next line must wake it
  bool stopping_ = false;
  bool stopped_ = false;          // the thread is gone: lines go straight to the file
  uint64_t accepted_ = 0;         // lines ever put into pending_
  uint64_t delivered_count_ = 0;  // of those, delivered to the file and every consumer
  std::chrono::steady_clock::time_point window_start_{};
  unsigned in_window_ = 0;
  uint64_t suppressed_in_window_ = 0;
  uint64_t suppressed_total_ = 0;
  uint64_t dropped_unreported_ = 0;
  uint64_t dropped_total_ = 0;
  std::chrono::system_clock::time_point last_drop_{};  // the time of the last line lost

  std::mutex consumers_mu_;  // held by the delivery thread while it delivers a batch
  std::vector<EventSink*> consumers_;

  // The delivery thread's own; reused so a busy log does not allocate per batch.
  std::string text_;
  Stamp stamp_;

  std::mutex stop_mu_;  // serialises stop()
  std::thread thread_;  // last: started by the constructor once everything above exists
};

}  // namespace muzzle
