// EventLog: writers never wait for delivery; a full buffer drops and counts; lines keep their
// order and the time they were written; stop() delivers everything first.
#include "fw/engine/event_log.h"

#include <doctest/doctest.h>

#include <future>
#include <string>
#include <vector>

#include "tests/unit/fw/engine/blocking_sink.h"
#include "tests/unit/fw/engine/test_support.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using testing::BlockingSink;
using testing::ReleaseOnExit;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// The file's lines without their `ts=... ` prefix.
std::vector<std::string> events(const std::string& text) {
  std::vector<std::string> out;
  for (const std::string& l : lines(text)) out.push_back(l.substr(l.find(' ') + 1));
  return out;
}

TEST_CASE("a stuck consumer never holds a writer back; the overflow is dropped and counted") {
  ManualClock clock;
  testing::MemoryFile out;
  BlockingSink sink;
  // A rate limit the test does not reach: only the buffer (8 lines) bounds it.
  EventLog log(out.get(), clock, /*max_per_second=*/1000, /*buffer_lines=*/8);
  ReleaseOnExit release{sink};
  log.addConsumer(sink);

  // Every write on another thread, watched: a writer that waits for the consumer fails the test
  // instead of hanging it.
  auto writer = std::async(std::launch::async, [&] {
    log.writeLimited(LogLine("deny").add("n", 0));  // the consumer takes it and gets stuck
    if (!sink.waitEntered()) return false;
    for (uint64_t n = 1; n <= 13; ++n) log.writeLimited(LogLine("deny").add("n", n));
    // Errors and counters may use the reserve a flood of denials cannot fill.
    log.write(LogLine("counters").add("packets", 14));
    return true;
  });
  const bool returned = testing::finishes(writer);
  CHECK_MESSAGE(returned, "a writer waited for a stuck consumer");
  sink.release();  // first: a writer stuck in the consumer may hold the log's lock
  CHECK(writer.get());
  CHECK(log.dropped() == 5);  // 1..8 fill the buffer; 9..13 are lost
  CHECK(log.suppressed() == 0);
  REQUIRE(log.flush(testing::kWatchdog));

  const std::vector<std::string> expected = {"event=deny n=0",
                                             "event=deny n=1",
                                             "event=deny n=2",
                                             "event=deny n=3",
                                             "event=deny n=4",
                                             "event=deny n=5",
                                             "event=deny n=6",
                                             "event=deny n=7",
                                             "event=deny n=8",
                                             "event=counters packets=14",
                                             "event=events-dropped count=5 buffer_lines=8"};
  CHECK(sink.texts() == expected);
  CHECK(events(out.text()) == expected);
  CHECK(log.dropped() == 5);
}

TEST_CASE("a line carries the time it was written, not the time it was delivered") {
  ManualClock clock;
  testing::MemoryFile out;
  BlockingSink sink;
  EventLog log(out.get(), clock);
  ReleaseOnExit release{sink};
  log.addConsumer(sink);
  const auto written = clock.wallNow();
  auto writer = std::async(std::launch::async, [&] {
    log.write(LogLine("first"));
    if (!sink.waitEntered()) return;
    log.write(LogLine("second"));
    clock.advance(std::chrono::seconds(90));  // delivery runs late: the stamps do not move
    log.write(LogLine("third"));
  });
  CHECK_MESSAGE(testing::finishes(writer), "a writer waited for a stuck consumer");
  sink.release();
  writer.get();
  REQUIRE(log.flush(testing::kWatchdog));
  const auto times = sink.times();
  REQUIRE(times.size() == 3);
  CHECK(times[0] == written);
  CHECK(times[1] == written);
  CHECK(times[2] == written + std::chrono::seconds(90));
  // ManualClock's calendar starts at 1'790'000'000 s since the epoch.
  const auto file = lines(out.text());
  REQUIRE(file.size() == 3);
  CHECK(file[1] == "ts=2026-09-21T14:13:20Z event=second");
  CHECK(file[2] == "ts=2026-09-21T14:14:50Z event=third");
}

TEST_CASE(
    "stop() delivers every buffered line first; a line written after it goes to the file only") {
  ManualClock clock;
  testing::MemoryFile out;
  BlockingSink sink;
  EventLog log(out.get(), clock, EventLog::kDefaultMaxPerSecond, /*buffer_lines=*/256);
  ReleaseOnExit release{sink};
  log.addConsumer(sink);
  auto writer = std::async(std::launch::async, [&] {
    log.write(LogLine("first"));
    if (!sink.waitEntered()) return;
    for (uint64_t n = 0; n < 200; ++n) log.writeLimited(LogLine("deny").add("n", n));
    log.write(LogLine("stopped").add("packets", 200));
  });
  CHECK_MESSAGE(testing::finishes(writer), "a writer waited for a stuck consumer");
  // stop() waits for the consumer: release it once stop() is under way.
  auto stopper = std::async(std::launch::async, [&] { log.stop(); });
  sink.release();
  writer.get();
  REQUIRE(testing::finishes(stopper));
  stopper.get();
  const auto seen = sink.texts();
  REQUIRE(seen.size() == 202);
  CHECK(seen[1] == "event=deny n=0");
  CHECK(seen[200] == "event=deny n=199");
  CHECK(seen[201] == "event=stopped packets=200");
  CHECK(events(out.text()) == seen);

  log.write(LogLine("warning").add("problem", "late"));
  CHECK(sink.texts().size() == 202);
  CHECK(lines(out.text()).back().find("event=warning problem=late") != std::string::npos);
  CHECK(log.flush());
  log.stop();  // idempotent
  CHECK(log.dropped() == 0);
}

TEST_CASE("a removed consumer sees nothing more; the others keep receiving") {
  ManualClock clock;
  testing::MemoryFile out;
  struct Recorder : EventSink {
    void onEvent(const LogLine& line) override { texts.push_back(line.text()); }
    std::vector<std::string> texts;  // the delivery thread's; read after flush()
  } a, b;
  EventLog log(out.get(), clock);
  log.addConsumer(a);
  log.addConsumer(b);
  log.write(LogLine("one"));
  REQUIRE(log.flush(testing::kWatchdog));
  log.removeConsumer(a);
  log.write(LogLine("two"));
  REQUIRE(log.flush(testing::kWatchdog));
  CHECK(a.texts == std::vector<std::string>{"event=one"});
  CHECK(b.texts == std::vector<std::string>{"event=one", "event=two"});
}

TEST_CASE("the rate limit counts what it suppresses, and says so once the second is over") {
  ManualClock clock;
  testing::MemoryFile out;
  EventLog log(out.get(), clock, 3);
  for (uint64_t i = 0; i < 10; ++i) log.writeLimited(LogLine("deny").add("n", i));
  CHECK(log.suppressed() == 7);
  clock.advance(std::chrono::seconds(1));
  log.writeLimited(LogLine("deny").add("n", 99));
  REQUIRE(log.flush(testing::kWatchdog));
  const std::vector<std::string> expected = {"event=deny n=0", "event=deny n=1", "event=deny n=2",
                                             "event=log-suppressed count=7", "event=deny n=99"};
  const std::string text = out.text();
  CHECK(events(text) == expected);
  CHECK(text.find("event=log-suppressed count=7") != std::string::npos);
  CHECK(text.find("n=99") != std::string::npos);
  CHECK(text.find("n=3") == std::string::npos);
  CHECK(log.dropped() == 0);
}

}  // namespace
}  // namespace muzzle
