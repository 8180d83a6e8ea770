#include "fw/engine/event_log.h"

#include <pthread.h>

#include <algorithm>

namespace muzzle {
namespace {

// Formatted text gathered before one write to the file: a burst costs a few writes, not one per
// line (stderr is unbuffered).
constexpr size_t kWriteChunk = 64 * 1024;

}  // namespace

LogLine::LogLine(std::string_view event) : event_(event) {
  text_.reserve(256);
  text_ += "event=";
  text_ += event;
}

LogLine& LogLine::add(std::string_view key, std::string_view value) & {
  text_ += ' ';
  text_ += key;
  text_ += '=';
  fields_.emplace_back(key, value);
  bool quote = value.empty() || value.find_first_of(" \"=\n") != std::string_view::npos;
  if (!quote) {
    text_ += value;
    return *this;
  }
  text_ += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') text_ += '\\';
    text_ += c == '\n' ? ' ' : c;
  }
  text_ += '"';
  return *this;
}

LogLine& LogLine::add(std::string_view key, uint64_t value) & {
  return add(key, std::string_view(std::to_string(value)));
}

EventLog::EventLog(FILE* out, const Clock& clock, unsigned max_per_second, size_t buffer_lines)
    : out_(out),
      clock_(clock),
      max_per_second_(max_per_second),
      capacity_(std::max<size_t>(buffer_lines, 1)) {
  pending_.reserve(capacity_ + kReservedLines);
  thread_ = std::thread([this] { deliveryLoop(); });
  pthread_setname_np(thread_.native_handle(), "muzzle-events");
}

EventLog::~EventLog() { stop(); }

void EventLog::write(LogLine line) { enqueue(std::move(line), /*limited=*/false); }

void EventLog::writeLimited(LogLine line) { enqueue(std::move(line), /*limited=*/true); }

void EventLog::enqueue(LogLine&& line, bool limited) {
  // Read before the lock: it is held for the buffer only.
  line.setTime(clock_.wallNow());
  const auto now = limited ? clock_.now() : std::chrono::steady_clock::time_point{};
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!limited) {
      wake = pushLocked(std::move(line), /*limited=*/false);
    } else {
      if (now - window_start_ >= std::chrono::seconds(1)) {
        if (suppressed_in_window_ > 0) {
          // At most once a second: the only line built under the lock.
          LogLine report("log-suppressed");
          report.add("count", suppressed_in_window_).setTime(line.time());
          wake = pushLocked(std::move(report), /*limited=*/false);
        }
        window_start_ = now;
        in_window_ = 0;
        suppressed_in_window_ = 0;
      }
      if (in_window_ >= max_per_second_) {
        ++suppressed_in_window_;
        ++suppressed_total_;
      } else {
        ++in_window_;
        wake = pushLocked(std::move(line), /*limited=*/true) || wake;
      }
    }
  }
  if (wake) work_.notify_one();
}

bool EventLog::pushLocked(LogLine&& line, bool limited) {
  if (stopped_) {
    std::string text;
    Stamp stamp;
    appendLine(line, stamp, text);
    std::fwrite(text.data(), 1, text.size(), out_);
    std::fflush(out_);
    return false;
  }
  if (pending_.size() >= capacity_ + (limited ? 0 : kReservedLines)) {
    ++dropped_unreported_;
    ++dropped_total_;
    last_drop_ = line.time();
    return false;
  }
  pending_.push_back(std::move(line));  // within the reserved capacity: no allocation
  ++accepted_;
  if (!thread_idle_) return false;  // it looks at pending_ again before it waits
  thread_idle_ = false;
  return true;
}

void EventLog::deliveryLoop() {
  std::vector<LogLine> batch;
  batch.reserve(capacity_ + kReservedLines);
  std::vector<LogLine> report;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    while (pending_.empty() && !stopping_) {
      thread_idle_ = true;
      work_.wait(lock);
    }
    thread_idle_ = false;
    if (pending_.empty()) break;  // stopping, and everything is delivered
    // The producers get the (empty, reserved) storage of the last batch back.
    batch.swap(pending_);
    const uint64_t lost = std::exchange(dropped_unreported_, 0);
    const auto lost_at = last_drop_;
    const uint64_t upto = accepted_;
    lock.unlock();
    deliver(batch);
    batch.clear();
    if (lost > 0) {
      // The lines were lost while this batch filled the buffer: say so right after it.
      report.emplace_back("events-dropped");
      report.back().add("count", lost).add("buffer_lines", capacity_).setTime(lost_at);
      deliver(report);
      report.clear();
    }
    lock.lock();
    delivered_count_ = upto;
    delivered_.notify_all();
  }
  stopped_ = true;  // under the lock, so no line slips between the last swap and this
  delivered_.notify_all();
}

void EventLog::deliver(const std::vector<LogLine>& lines) {
  text_.clear();
  for (const LogLine& line : lines) {
    appendLine(line, stamp_, text_);
    if (text_.size() >= kWriteChunk) {
      std::fwrite(text_.data(), 1, text_.size(), out_);
      text_.clear();
    }
  }
  if (!text_.empty()) std::fwrite(text_.data(), 1, text_.size(), out_);
  std::fflush(out_);
  std::lock_guard<std::mutex> lock(consumers_mu_);
  for (const LogLine& line : lines) {
    for (EventSink* sink : consumers_) sink->onEvent(line);
  }
}

void EventLog::appendLine(const LogLine& line, Stamp& stamp, std::string& out) {
  const std::time_t second = std::chrono::system_clock::to_time_t(line.time());
  if (second != stamp.second) {
    std::tm tm;
    gmtime_r(&second, &tm);
    std::strftime(stamp.text, sizeof(stamp.text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    stamp.second = second;
  }
  out += "ts=";
  out += stamp.text;
  out += ' ';
  out += line.text();
  out += '\n';
}

void EventLog::addConsumer(EventSink& sink) {
  std::lock_guard<std::mutex> lock(consumers_mu_);
  consumers_.push_back(&sink);
}

void EventLog::removeConsumer(EventSink& sink) {
  std::lock_guard<std::mutex> lock(consumers_mu_);
  consumers_.erase(std::remove(consumers_.begin(), consumers_.end(), &sink), consumers_.end());
}

bool EventLog::flush(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = accepted_;
  return delivered_.wait_for(lock, timeout, [&] { return stopped_ || delivered_count_ >= target; });
}

void EventLog::stop() {
  std::lock_guard<std::mutex> serial(stop_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_.notify_one();
  if (thread_.joinable()) thread_.join();
}

uint64_t EventLog::suppressed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return suppressed_total_;
}

uint64_t EventLog::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_total_;
}

}  // namespace muzzle
