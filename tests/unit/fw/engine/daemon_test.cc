// Daemon lifecycle without the kernel: fake ruleset writer, host and queue opener, and a fake
// ServiceNotifier that records what systemd would be told and ends the run with SIGTERM.
#include "fw/engine/daemon.h"
#include "tests/unit/fw/engine/test_support.h"

#include <doctest/doctest.h>
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

namespace muzzle {
namespace {

class CountingRuleset : public RulesetWriter {
 public:
  Result<QueueMode> probeQueueMode() override {
    ++probes;
    return QueueMode::kNative;
  }
  Status install(const RulesetSpec&) override {
    ++installs;
    return Status();
  }
  Status remove() override {
    ++removes;
    return Status();
  }
  int probes = 0, installs = 0, removes = 0;
};

using NoHost = testing::FakeHost;

int g_queue_opens = 0;
Result<std::unique_ptr<PacketQueue>> countingOpener(const QueueOptions&) {
  ++g_queue_opens;
  return Status::error("no queue in this test");
}

// Records every message; raises SIGTERM (caught by the daemon's own signal_set) once it has seen
// `stop_after` messages, so run() returns.
class RecordingNotifier : public ServiceNotifier {
 public:
  RecordingNotifier(std::chrono::microseconds watchdog, size_t stop_after)
      : watchdog_(watchdog), stop_after_(stop_after) {}
  Status notify(std::string_view state) override {
    messages.emplace_back(state);
    if (messages.size() == stop_after_) raise(SIGTERM);
    return Status();
  }
  std::chrono::microseconds watchdogInterval() const override { return watchdog_; }
  std::vector<std::string> messages;

 private:
  std::chrono::microseconds watchdog_;
  size_t stop_after_;
};

struct Fixture {
  Fixture() : out(open_memstream(&buf, &len)), log(out, clock) { g_queue_opens = 0; }
  ~Fixture() {
    log.stop();  // its last lines go to `out`
    fclose(out);
    free(buf);
  }
  std::string logText() {
    log.flush();
    fflush(out);
    return std::string(buf, len);
  }
  char* buf = nullptr;
  size_t len = 0;
  FILE* out;
  SystemClock clock;
  EventLog log;
  CountingRuleset ruleset;
  NoHost host;
};

TEST_CASE_FIXTURE(Fixture, "with no segment the daemon idles, touches nothing, and is ready") {
  DaemonConfig config;  // no segments, no policy: the packaged default
  Daemon daemon(config, ruleset, host, &countingOpener, log, clock);
  RecordingNotifier notifier(std::chrono::microseconds(0), /*stop_after=*/1);
  daemon.setServiceNotifier(&notifier);
  REQUIRE(daemon.idle());
  REQUIRE(daemon.start().ok());
  CHECK(daemon.reload().ok());  // SIGHUP while idle: nothing to load, not an error
  CHECK(daemon.run() == 0);

  CHECK(ruleset.probes == 0);
  CHECK(ruleset.installs == 0);
  CHECK(ruleset.removes == 0);
  CHECK(g_queue_opens == 0);
  REQUIRE(notifier.messages.size() == 2);
  CHECK(notifier.messages[0] == "READY=1\nSTATUS=idle: no segment configured");
  CHECK(notifier.messages[1] == "STOPPING=1");
  CHECK(logText().find("event=idle") != std::string::npos);
}

TEST_CASE_FIXTURE(Fixture, "the watchdog is pinged from the engine loop") {
  DaemonConfig config;
  Daemon daemon(config, ruleset, host, &countingOpener, log, clock);
  // 20 ms asked for, so a ping every 10 ms; stop after READY and three pings.
  RecordingNotifier notifier(std::chrono::milliseconds(20), /*stop_after=*/4);
  daemon.setServiceNotifier(&notifier);
  REQUIRE(daemon.start().ok());
  CHECK(daemon.run() == 0);
  REQUIRE(notifier.messages.size() == 5);
  CHECK(notifier.messages[0].starts_with("READY=1\n"));
  CHECK(notifier.messages[1] == "WATCHDOG=1");
  CHECK(notifier.messages[3] == "WATCHDOG=1");
  CHECK(notifier.messages[4] == "STOPPING=1");
}

TEST_CASE_FIXTURE(Fixture, "with segments, a queue that cannot be bound fails start, unnotified") {
  DaemonConfig config;
  config.segments.push_back({"cameras", "br-cam"});
  config.policy_path = "/nonexistent/policy.yaml";
  Daemon daemon(config, ruleset, host, &countingOpener, log, clock);
  RecordingNotifier notifier(std::chrono::microseconds(0), 1);
  daemon.setServiceNotifier(&notifier);
  Status s = daemon.start();
  CHECK_FALSE(s.ok());
  CHECK(ruleset.probes == 1);
  CHECK(g_queue_opens == 1);
  CHECK(ruleset.installs == 0);
  CHECK(notifier.messages.empty());  // never READY=1 before enforcing
}

}  // namespace
}  // namespace muzzle
