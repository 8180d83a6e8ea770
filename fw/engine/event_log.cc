#include "fw/engine/event_log.h"

#include <ctime>

namespace muzzle {

LogLine::LogLine(std::string_view event) : event_(event) {
  text_.reserve(256);
  text_ += "event=";
  text_ += event;
}

LogLine& LogLine::add(std::string_view key, std::string_view value) {
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

LogLine& LogLine::add(std::string_view key, uint64_t value) { return add(key, std::to_string(value)); }

void EventLog::emit(const LogLine& line) {
  char ts[32];
  std::time_t now = std::time(nullptr);
  std::tm tm;
  gmtime_r(&now, &tm);
  std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::fprintf(out_, "ts=%s %s\n", ts, line.text().c_str());
  std::fflush(out_);
  if (sink_ != nullptr) sink_->onEvent(line);
}

void EventLog::write(const LogLine& line) {
  std::lock_guard<std::mutex> lock(mu_);
  emit(line);
}

void EventLog::writeLimited(const LogLine& line) {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = clock_.now();
  if (now - window_start_ >= std::chrono::seconds(1)) {
    if (suppressed_in_window_ > 0) {
      emit(LogLine("log-suppressed").add("count", suppressed_in_window_));
    }
    window_start_ = now;
    in_window_ = 0;
    suppressed_in_window_ = 0;
  }
  if (in_window_ >= max_per_second_) {
    ++suppressed_in_window_;
    ++suppressed_total_;
    return;
  }
  ++in_window_;
  emit(line);
}

}  // namespace muzzle
