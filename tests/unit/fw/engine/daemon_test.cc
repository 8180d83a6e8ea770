// Daemon lifecycle without the kernel: fake ruleset writer, host and queue opener, and a fake
// ServiceNotifier that records what systemd would be told and ends the run with SIGTERM.
#include "fw/engine/daemon.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fw/common/atomic_file.h"
#include "fw/common/confined_file.h"
#include "tests/unit/fw/engine/blocking_sink.h"
#include "tests/unit/fw/engine/test_support.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

class CountingRuleset : public RulesetWriter {
 public:
  Result<QueueMode> probeQueueMode() override {
    ++probes;
    return QueueMode::kNative;
  }
  Result<bool> probeConnectionLabels() override {
    ++label_probes;
    return labels;
  }
  bool labels = true;  // whether the "kernel" has conntrack labels
  int label_probes = 0;
  Status install(const RulesetSpec& spec) override {
    ++installs;
    last = spec;
    return Status();
  }
  RulesetSpec last;
  Status remove() override {
    ++removes;
    return Status();
  }
  Status startAccounting() override {
    ++accounting_starts;
    started_before_install = installs == 0;
    return Status();
  }
  // What the "kernel" counted since the last read: handed out once.
  Result<std::vector<FlowGroupCount>> readAccounting() override {
    if (!read_error.ok()) return read_error;
    return std::exchange(counts, {});
  }
  ConntrackCounter::Stats accountingStats() const override { return stats; }
  // The live connections of the last read, for the connection limit's recount: handed out once.
  LiveConnections takeLiveConnections() override { return std::exchange(live, {}); }
  LiveConnections live;
  // The segment guard's counts, the same every read; raises SIGTERM after the first read when
  // `stop_after_segment_read` (the daemon's own signal_set then ends run()).
  Result<std::vector<SegmentDropCount>> readSegmentDrops() override {
    ++segment_reads;
    if (stop_after_segment_read) raise(SIGTERM);
    return segment_drops;
  }
  std::vector<SegmentDropCount> segment_drops;
  bool stop_after_segment_read = false;
  int segment_reads = 0;
  bool udpTimeoutsOutlive(uint32_t interval_seconds) const override {
    asked_interval = interval_seconds;
    return udp_timeouts_outlive;
  }
  bool udp_timeouts_outlive = false;  // what udpTimeoutsOutlive answers
  mutable uint32_t asked_interval = 0;
  std::vector<FlowGroupCount> counts;
  ConntrackCounter::Stats stats;
  Status read_error;  // readAccounting() fails with it when set
  int probes = 0, installs = 0, removes = 0, accounting_starts = 0;
  bool started_before_install = false;
};

using NoHost = testing::FakeHost;

int g_queue_opens = 0;
Result<std::unique_ptr<PacketQueue>> countingOpener(const QueueOptions&) {
  ++g_queue_opens;
  return Status::error("no queue in this test");
}

// A queue that binds and never has a packet: enough for start().
class IdleQueue : public PacketQueue {
 public:
  IdleQueue() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~IdleQueue() override { close(fd_); }
  int fd() const override { return fd_; }
  Result<size_t> drain(PacketSink&) override { return size_t{0}; }
  QueueCounters counters() const override { return {}; }

 private:
  int fd_;
};
Result<std::unique_ptr<PacketQueue>> idleOpener(const QueueOptions&) {
  ++g_queue_opens;
  return std::unique_ptr<PacketQueue>(std::make_unique<IdleQueue>());
}
// The bindings of every socket the daemon opened, as "number:copy_range" per socket.
std::vector<std::string> g_sockets;
Result<std::unique_ptr<PacketQueue>> recordingOpener(const QueueOptions& options) {
  std::string bindings;
  for (const QueueBinding& q : options.queues)
    bindings += (bindings.empty() ? "" : " ") + std::to_string(q.number) + ":" +
                std::to_string(q.copy_range);
  g_sockets.push_back(bindings);
  return idleOpener(options);
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
  Fixture() : log(out.get(), clock) { g_queue_opens = 0; }
  ~Fixture() { log.stop(); }  // its last lines go to `out`, which outlives it
  std::string logText() {
    log.flush();
    return out.text();
  }
  testing::MemoryFile out;
  SystemClock clock;
  EventLog log;
  CountingRuleset ruleset;
  NoHost host;
};

TEST_CASE_FIXTURE(Fixture, "with no segment the daemon idles, touches nothing, and is ready") {
  DaemonConfig config;  // no segments, no policy: the packaged default
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &countingOpener, log, clock, /*oui=*/nullptr, generations);
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
  CHECK(notifier.messages[0] == "READY=1\nSTATUS=idle: no segment configured; run muzzlectl setup");
  CHECK(notifier.messages[1] == "STOPPING=1");
  CHECK(logText().find("event=idle") != std::string::npos);
}

TEST_CASE_FIXTURE(Fixture, "an idle daemon handed over ends run() without telling systemd it stops") {
  // `muzzlectl setup`: the idle phase ends and an enforcing Daemon of the same process follows;
  // a STOPPING=1 here would make systemd take the service for stopping.
  DaemonConfig config;
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &countingOpener, log, clock, /*oui=*/nullptr, generations);
  RecordingNotifier notifier(std::chrono::microseconds(0), /*stop_after=*/100);
  daemon.setServiceNotifier(&notifier);
  REQUIRE(daemon.start().ok());
  daemon.post([&] { daemon.handOver(); });
  CHECK(daemon.run() == Daemon::kHandedOver);
  REQUIRE(notifier.messages.size() == 1);
  CHECK(notifier.messages[0].rfind("READY=1", 0) == 0);
  CHECK(logText().find("event=stopped") == std::string::npos);
  CHECK(ruleset.installs == 0);
}

TEST_CASE_FIXTURE(Fixture, "the watchdog is pinged from the engine loop") {
  DaemonConfig config;
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &countingOpener, log, clock, /*oui=*/nullptr, generations);
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
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &countingOpener, log, clock, /*oui=*/nullptr, generations);
  RecordingNotifier notifier(std::chrono::microseconds(0), 1);
  daemon.setServiceNotifier(&notifier);
  Status s = daemon.start();
  CHECK_FALSE(s.ok());
  CHECK(ruleset.probes == 1);
  CHECK(g_queue_opens == 1);
  CHECK(ruleset.installs == 0);
  CHECK(notifier.messages.empty());  // never READY=1 before enforcing
}

// A managed box whose policy is a file in a temp folder; the state folder is the test's choice.
struct ManagedBox : Fixture {
  ManagedBox() {
    std::ofstream(dir + "/policy.yaml") << "version: 1\nprofiles:\n  quarantine: {egress: [{allow: "
                                           "[gateway], proto: udp, ports: [53]}]}\n";
    config.segments.push_back({"cameras", "br-cam"});
    config.policy_path = dir + "/policy.yaml";
    config.state_dir = dir + "/state";
  }
  testing::TempDir temp{"muzzle-daemon"};
  const std::string dir = temp.path;
  DaemonConfig config;
  StateReport state;
};

TEST_CASE_FIXTURE(ManagedBox,
                  "a state folder that cannot be written still gets the ruleset installed") {
  // /proc takes no new folder or file, like a read-only or full state folder on a fresh box.
  config.state_dir = "/proc/muzzle-state-cannot-exist";
  config.fail_mode = FailMode::kClosed;
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
  daemon.setStateReport(&state);
  REQUIRE(daemon.start().ok());
  // Fail closed with the configured policy: nothing installed would leave the segment open.
  CHECK(ruleset.installs == 1);
  CHECK_FALSE(ruleset.last.fail_open);
  CHECK(ruleset.last.generation != 0);
  CHECK(daemon.engineStatus().generation == ruleset.last.generation);
  CHECK(logText().find("event=state-unwritable file=/proc/muzzle-state-cannot-exist/generation") !=
        std::string::npos);
  CHECK(logText().find("event=ready") != std::string::npos);
  CHECK_FALSE(state.writable());
  REQUIRE(state.problems().size() == 1);
  CHECK(state.problems()[0].file == "/proc/muzzle-state-cannot-exist/generation");
}

TEST_CASE_FIXTURE(
    ManagedBox,
    "a socket and a thread per flow queue; the inspection queue shares the last one's") {
  // One socket per thread, so the thread waits in that socket's receive alone (QueueWorker).
  config.queue_first = 200;
  config.queue_count = 3;
  g_sockets.clear();
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &recordingOpener, log, clock, /*oui=*/nullptr, generations);
  REQUIRE(daemon.start().ok());
  const std::string header = std::to_string(kHeaderCopyRange),
                    whole = std::to_string(kWholePacketCopyRange);
  CHECK(g_sockets == std::vector<std::string>{"200:" + header, "201:" + header,
                                              "202:" + header + " 203:" + whole});
  CHECK(logText().find("queue_threads=3") != std::string::npos);
}

TEST_CASE_FIXTURE(
    ManagedBox, "a damaged generation file is kept aside, reported, and replaced by a fresh one") {
  std::filesystem::create_directories(config.state_dir);
  REQUIRE(writeFileAtomically(config.state_dir, "generation", "\x01\x02 torn").ok());
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
  daemon.setStateReport(&state);
  REQUIRE(daemon.start().ok());
  CHECK(ruleset.installs == 1);
  const uint32_t generation = daemon.engineStatus().generation;
  CHECK(generation != 0);
  CHECK(*readRegularFile(config.state_dir + "/generation") ==
        std::to_string(generation) + " " + generationKey(daemon.installedPolicy()->digest) + "\n");
  REQUIRE(state.problems().size() == 1);
  CHECK(state.problems()[0].kind == StateProblem::Kind::kDamaged);
  CHECK(*readRegularFile(state.problems()[0].kept_as) == "\x01\x02 torn");
  CHECK(logText().find("event=state-damaged file=" + config.state_dir + "/generation") !=
        std::string::npos);
  CHECK(state.writable());
}

TEST_CASE_FIXTURE(ManagedBox, "an initial policy compiled already is installed as it is") {
  // The management plane's boot compiled it: the box does not compile its first policy twice.
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
  const std::string text =
      "version: 1\nprofiles:\n  quarantine: {egress: [{allow: [gateway], proto: udp, ports: "
      "[123]}]}\n";
  auto context = daemon.policyContext();
  REQUIRE(context.ok());
  auto compiled = daemon.compilePolicy(text, "revision 1", *context);
  REQUIRE_MESSAGE(compiled.ok(), compiled.status().message());
  daemon.setInitialPolicy(text, "revision 1", *compiled, std::chrono::milliseconds(42));
  REQUIRE(daemon.start().ok());
  CHECK(daemon.installedPolicy() == *compiled);
  CHECK(logText().find("event=policy-loaded") != std::string::npos);
  CHECK(logText().find("compile_ms=42") != std::string::npos);
}

TEST_CASE_FIXTURE(ManagedBox, "a recompile reuses the set of a list file whose text did not change") {
  // A site's threat feed next to its policy: a reload that changed the policy around it must not
  // parse the feed again (ListCache), whichever way the compile comes (start, management plane).
  std::filesystem::create_directory(dir + "/lists");
  std::ofstream(dir + "/lists/threats.txt") << "198.19.128.4\n2001:db8:bad::/48\n";
  const std::string text =
      "version: 1\naddresses:\n  threats: {file: lists/threats.txt}\nprofiles:\n  quarantine: "
      "{egress: [{deny: [threats]}, {allow: [gateway], proto: udp, ports: [53]}]}\n";
  std::ofstream(config.policy_path) << text;
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
  REQUIRE(daemon.start().ok());
  const AddressSet* installed = daemon.installedPolicy()->profiles[0].egress[0].groups.at(0).get();
  auto context = daemon.policyContext();
  REQUIRE(context.ok());
  REQUIRE(context->lists != nullptr);
  auto again = daemon.compilePolicy(text + "# edited\n", "revision 2", *context);
  REQUIRE_MESSAGE(again.ok(), again.status().message());
  CHECK((*again)->profiles[0].egress[0].groups.at(0).get() == installed);
  CHECK(context->lists->hits() == 1);
  // The feed changed: parsed anew.
  std::ofstream(dir + "/lists/threats.txt") << "198.19.128.8\n";
  auto changed = daemon.compilePolicy(text, "revision 3", *context);
  REQUIRE_MESSAGE(changed.ok(), changed.status().message());
  const AddressSet* fresh = (*changed)->profiles[0].egress[0].groups.at(0).get();
  CHECK(fresh != installed);
  CHECK(fresh->contains(*IpAddress::parse("198.19.128.8")));
  CHECK_FALSE(fresh->contains(*IpAddress::parse("198.19.128.4")));
}

TEST_CASE_FIXTURE(ManagedBox,
                  "a generation saved under another mark contract is not reused after a restart") {
  std::string digest;
  uint32_t first = 0;
  {
    GenerationStore generations(config.state_dir);
    Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
    REQUIRE(daemon.start().ok());
    digest = daemon.installedPolicy()->digest;
    first = daemon.engineStatus().generation;
  }
  {
    // The same policy, same contract: the marks given before the restart keep their meaning.
    GenerationStore generations(config.state_dir);
    Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
    REQUIRE(daemon.start().ok());
    CHECK(daemon.engineStatus().generation == first);
  }
  // As a muzzled before kMarkContractVersion 2 left it: the policy digest alone. Its marks for
  // DNS connections say "allowed" where this ruleset wants "allowed, inspected".
  REQUIRE(writeFileAtomically(config.state_dir, "generation",
                              std::to_string(first) + " " + digest + "\n")
              .ok());
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
  REQUIRE(daemon.start().ok());
  CHECK(daemon.engineStatus().generation != first);
  CHECK(*readRegularFile(config.state_dir + "/generation") ==
        std::to_string(daemon.engineStatus().generation) + " " + generationKey(digest) + "\n");
}

TEST_CASE_FIXTURE(ManagedBox,
                  "the daemon keeps its generation and vendors in the stores it is given") {
  std::filesystem::create_directories(config.state_dir);
  // An empty saved inventory, so the start logs what it loaded (and with which vendor table).
  REQUIRE(writeFileAtomically(config.state_dir, "inventory.pb", "").ok());
  GenerationStore generations(dir + "/elsewhere");
  OuiDatabase oui;
  oui.addCsv(
      "Registry,Assignment,Organization Name,Organization Address\n"
      "MA-L,4447CC,Example Cameras,Somewhere\n");
  Daemon daemon(config, ruleset, host, &idleOpener, log, clock, &oui, generations);
  REQUIRE(daemon.start().ok());
  const uint32_t generation = daemon.engineStatus().generation;
  CHECK(*readRegularFile(dir + "/elsewhere/generation") ==
        std::to_string(generation) + " " + generationKey(daemon.installedPolicy()->digest) + "\n");
  CHECK_FALSE(std::filesystem::exists(config.state_dir + "/generation"));
  CHECK(logText().find("event=inventory-loaded devices=0 aged_out=0 oui_blocks=1") !=
        std::string::npos);
}

TEST_CASE_FIXTURE(ManagedBox, "learning sessions are saved, survive a restart and end by themselves") {
  const MacAddress cam = *MacAddress::parse("44:47:cc:00:00:11");
  ManualClock manual;
  {
    GenerationStore generations(config.state_dir);
    Daemon daemon(config, ruleset, host, &idleOpener, log, manual, /*oui=*/nullptr, generations);
    REQUIRE(daemon.start().ok());
    const int installs = ruleset.installs;
    CHECK(daemon.startLearning(cam, std::chrono::seconds(0), false).code() ==
          StatusCode::kInvalidArgument);
    CHECK(daemon.stopLearning(cam).code() == StatusCode::kNotFound);
    CHECK(daemon.learnReport(cam).status().code() == StatusCode::kNotFound);
    REQUIRE(daemon.startLearning(cam, std::chrono::hours(1), true).ok());
    CHECK(ruleset.installs == installs + 1);  // every flow is judged (and recorded) again
    CHECK(logText().find("event=learn-start mac=44:47:cc:00:00:11") != std::string::npos);
    CHECK(logText().find("observe=yes") != std::string::npos);
    CHECK(readRegularFile(config.state_dir + "/learn.state")->find("session 44:47:cc:00:00:11") !=
          std::string::npos);
  }
  {
    // A restart within the hour: the session is back, still observing.
    GenerationStore generations(config.state_dir);
    Daemon daemon(config, ruleset, host, &idleOpener, log, manual, /*oui=*/nullptr, generations);
    REQUIRE(daemon.start().ok());
    auto report = daemon.learnReport(cam);
    REQUIRE(report.ok());
    CHECK(report->session.active);
    CHECK(report->session.observe);
    CHECK(logText().find("event=learn-loaded sessions=1 flows=0 left_out=0") != std::string::npos);
  }
  manual.advance(std::chrono::hours(1));
  {
    // Restarted after its end time: it ends at once, with its event; its record stays.
    GenerationStore generations(config.state_dir);
    Daemon daemon(config, ruleset, host, &idleOpener, log, manual, /*oui=*/nullptr, generations);
    REQUIRE(daemon.start().ok());
    CHECK(logText().find("event=learn-end mac=44:47:cc:00:00:11 observe=yes why=end-time") !=
          std::string::npos);
    auto report = daemon.learnReport(cam);
    REQUIRE(report.ok());
    CHECK_FALSE(report->session.active);
    CHECK(daemon.stopLearning(cam).code() == StatusCode::kNotFound);
  }
}

testing::WedgeableQueue* g_wedgeable = nullptr;
Result<std::unique_ptr<PacketQueue>> wedgeableOpener(const QueueOptions&) {
  auto queue = std::make_unique<testing::WedgeableQueue>();
  g_wedgeable = queue.get();
  return std::unique_ptr<PacketQueue>(std::move(queue));
}

// What systemd would be told, read from the test's thread while the engine thread notifies.
class WatchedNotifier : public ServiceNotifier {
 public:
  explicit WatchedNotifier(std::chrono::microseconds watchdog) : watchdog_(watchdog) {}
  Status notify(std::string_view state) override {
    std::lock_guard<std::mutex> lock(mu_);
    messages_.emplace_back(state);
    if (state == "WATCHDOG=1") ++pings_;
    changed_.notify_all();
    return Status();
  }
  std::chrono::microseconds watchdogInterval() const override { return watchdog_; }
  size_t pings() const {
    std::lock_guard<std::mutex> lock(mu_);
    return pings_;
  }
  // True once `n` pings arrived in all (within the test's watchdog).
  bool waitPings(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, testing::kWatchdog, [&] { return pings_ >= n; });
  }
  std::vector<std::string> messages() const {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }

 private:
  std::chrono::microseconds watchdog_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::string> messages_;
  size_t pings_ = 0;
};

// run() on a thread of its own, ended as systemd ends it (SIGTERM) and joined when the test
// leaves, also on a failed REQUIRE.
struct RunningDaemon {
  explicit RunningDaemon(Daemon& d) : daemon(d), thread([this] { rc = daemon.run(); }) {}
  ~RunningDaemon() { stop(); }
  int stop() {
    if (thread.joinable()) {
      daemon.post([] { raise(SIGTERM); });
      thread.join();
    }
    return rc;
  }
  Daemon& daemon;
  int rc = -1;
  std::thread thread;
};

TEST_CASE_FIXTURE(ManagedBox,
                  "a queue thread that stops turning is reported, and the watchdog is not pinged "
                  "until it turns again") {
  // A judge stuck on a crafted packet, a lock never released: the engine loop still turns, but
  // the queue fills and every new flow is dropped. Only a restart ends that.
  ManualClock manual;  // moved on the engine thread only, as the daemon reads it there
  WatchedNotifier notifier(std::chrono::milliseconds(20));  // a ping every 10 ms
  std::atomic<int> ticks{0};
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &wedgeableOpener, log, manual, /*oui=*/nullptr, generations);
  daemon.setServiceNotifier(&notifier);
  // Turns as often as the watchdog's timer, on the same loop: how the test tells that the
  // timer has had its chances to ping, without a sleep.
  daemon.addTicker(std::chrono::milliseconds(10), [&] { ++ticks; });
  REQUIRE(daemon.start().ok());
  REQUIRE(g_wedgeable != nullptr);
  testing::WedgeableQueue& queue = *g_wedgeable;
  struct ReleaseOnExit {  // before the daemon stops its queue thread
    testing::WedgeableQueue& queue;
    ~ReleaseOnExit() { queue.release(); }
  };
  const auto engineStatus = [&] {
    std::promise<EngineStatus> st;
    daemon.post([&] { st.set_value(daemon.engineStatus()); });
    return st.get_future().get();
  };
  const auto waitLog = [&](const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + testing::kWatchdog;
    while (logText().find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  };

  RunningDaemon running(daemon);
  ReleaseOnExit release_on_exit{queue};
  REQUIRE(notifier.waitPings(2));  // the thread turns: pinged
  queue.wedge();
  REQUIRE(queue.waitStuck());
  // Two more pings: the check before the second ran after the thread's last turn.
  REQUIRE(notifier.waitPings(notifier.pings() + 2));
  daemon.post([&] { manual.advance(QueueLiveness::kStallAfter + std::chrono::seconds(1)); });
  REQUIRE(waitLog("event=queue-stalled queue=100,101 thread=muzzle-q100 seconds=6"));
  const size_t pings_when_stalled = notifier.pings();
  const int ticks_when_stalled = ticks.load();
  // Twenty turns of a timer as frequent as the watchdog's: no ping while the thread hangs.
  const auto deadline = std::chrono::steady_clock::now() + testing::kWatchdog;
  while (ticks.load() < ticks_when_stalled + 20 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(ticks.load() >= ticks_when_stalled + 20);
  CHECK(notifier.pings() == pings_when_stalled);
  const EngineStatus stalled = engineStatus();
  CHECK(stalled.queue_threads_stalled == 1);
  CHECK(stalled.queue_stalls == 1);

  queue.release();  // the thread turns again: said, and pinged again
  REQUIRE(notifier.waitPings(pings_when_stalled + 1));
  CHECK(waitLog("event=queue-resumed queue=100,101 thread=muzzle-q100 seconds=6"));
  const EngineStatus resumed = engineStatus();
  CHECK(resumed.queue_threads_stalled == 0);
  CHECK(resumed.queue_stalls == 1);

  CHECK(running.stop() == 0);
  const std::string text = logText();
  CHECK(text.find("event=stopped ") != std::string::npos);
  CHECK(text.find(" queue_stalls=1 ") != std::string::npos);
  // Said once each, whatever the number of checks.
  CHECK(text.find("event=queue-stalled") == text.rfind("event=queue-stalled"));
  CHECK(text.find("event=queue-resumed") == text.rfind("event=queue-resumed"));
  CHECK(notifier.messages().back() == "STOPPING=1");
}

TEST_CASE_FIXTURE(ManagedBox, "a damaged learn.state is set aside with its line; learning starts empty") {
  std::filesystem::create_directories(config.state_dir);
  REQUIRE(writeFileAtomically(config.state_dir, "learn.state",
                              "# muzzle learning state 1\nsession \x01\x02 torn\n")
              .ok());
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
  REQUIRE(daemon.start().ok());
  CHECK(logText().find("learn.state:2: a session line has 7 words") != std::string::npos);
  CHECK(logText().find("kept_as=" + config.state_dir + "/learn.state.damaged-") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(config.state_dir + "/learn.state"));
  CHECK(daemon.learnReport(*MacAddress::parse("44:47:cc:00:00:11")).status().code() ==
        StatusCode::kNotFound);
}

}  // namespace
}  // namespace muzzle

namespace muzzle {
namespace MUZZLE_UNITY_ID {

// A saved inventory holding `mac`, which owns `ip` (and `second`, when given) on segment 0.
std::string inventoryWith(MacAddress mac, const IpAddress& ip,
                          std::optional<IpAddress> second = std::nullopt) {
  SystemClock clock;
  DeviceInventory inventory(16, nullptr, clock);
  inventory.observe(mac, ip, "cameras");
  inventory.bindings().claim(mac, ip, 0);
  if (second) {
    inventory.observe(mac, *second, "cameras");
    inventory.bindings().claim(mac, *second, 0);
  }
  return inventory.serialize();
}

// Runs a started daemon until it is ready, then stops it the way SIGTERM does (its stop path
// runs: the last accounting read, the inventory saved). Returns run()'s exit code.
int runUntilReady(Daemon& daemon) {
  RecordingNotifier notifier(std::chrono::microseconds(0), /*stop_after=*/1);
  daemon.setServiceNotifier(&notifier);
  const int rc = daemon.run();
  daemon.setServiceNotifier(nullptr);
  return rc;
}

// `mac`'s record as the daemon shows it now (a copy), or nothing.
std::optional<DeviceRecord> seenDevice(const Daemon& daemon, MacAddress mac) {
  for (DeviceRecord& d : daemon.devicesSeen()) {
    if (d.mac == mac) return std::move(d);
  }
  return std::nullopt;
}

// A group of connections from `source` to `destination`, as the conntrack counter sums them.
FlowGroupCount group(const char* source, const char* destination, uint64_t orig_bytes,
                     uint64_t orig_packets, uint64_t reply_bytes = 0, uint64_t reply_packets = 0,
                     bool judged = true) {
  return {*IpAddress::parse(source), *IpAddress::parse(destination), 0, judged, orig_bytes,
          orig_packets, reply_bytes, reply_packets};
}

TEST_CASE_FIXTURE(ManagedBox,
                  "what conntrack counted goes to the devices at either end, and is kept "
                  "across a restart") {
  const MacAddress cam = *MacAddress::parse("44:47:cc:00:00:11");
  const IpAddress cam_ip = *IpAddress::parse("198.18.10.5");
  std::filesystem::create_directories(config.state_dir);
  REQUIRE(writeFileAtomically(config.state_dir, "inventory.pb", inventoryWith(cam, cam_ip)).ok());
  {
    GenerationStore generations(config.state_dir);
    Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
    REQUIRE(daemon.start().ok());
    CHECK(ruleset.accounting_starts == 1);
    CHECK(ruleset.started_before_install);  // conntrack counts connections begun after
    ruleset.counts = {
        // The camera's own connections to the internet: it uploads the original direction.
        group("198.18.10.5", "203.0.113.7", 1000, 10, 5000, 5),
        // One opened to it from the internet: it uploads the replies.
        group("203.0.113.9", "198.18.10.5", 40, 1, 60, 1),
        // From an address no device owns (it left): counted as unattributed.
        group("198.18.10.99", "203.0.113.7", 77, 1),
        // The box's own connection (never judged) to the internet: no device's, not counted.
        group("198.18.10.1", "203.0.113.1", 500, 5, 500, 5, /*judged=*/false)};
    ruleset.stats.event_overruns = 2;
    // Stopped at READY: the read on the way out takes what was counted since the last one.
    CHECK(runUntilReady(daemon) == 0);
    const std::optional<DeviceRecord> d = seenDevice(daemon, cam);
    REQUIRE(d.has_value());
    CHECK(d->upload.bytes == 1060);
    CHECK(d->upload.packets == 11);
    CHECK(d->download.bytes == 5040);
    CHECK(d->download.packets == 6);
    const AccountingCounters a = daemon.engineStatus().accounting;
    CHECK(a.on);
    CHECK(a.reads == 1);
    CHECK(a.groups == 4);
    CHECK(a.unattributed_bytes == 77);
    CHECK(a.event_overruns == 2);
  }
  {
    // A restart: conntrack's counts since the last read are read by the new muzzled, and the
    // device's totals go on from what was saved.
    ruleset.counts = {group("198.18.10.5", "203.0.113.7", 300, 3)};
    GenerationStore generations(config.state_dir);
    Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
    REQUIRE(daemon.start().ok());
    const std::optional<DeviceRecord> before = seenDevice(daemon, cam);
    REQUIRE(before.has_value());
    CHECK(before->upload.bytes == 1060);
    CHECK(runUntilReady(daemon) == 0);
    const std::optional<DeviceRecord> d = seenDevice(daemon, cam);
    REQUIRE(d.has_value());
    CHECK(d->upload.bytes == 1360);
    CHECK(d->upload.packets == 14);
    CHECK(d->download.bytes == 5040);
  }
}

TEST_CASE_FIXTURE(ManagedBox,
                  "a device's rate is over the last read: 0 at a read where it moved nothing") {
  const MacAddress cam = *MacAddress::parse("44:47:cc:00:00:11");
  std::filesystem::create_directories(config.state_dir);
  REQUIRE(writeFileAtomically(config.state_dir, "inventory.pb",
                              inventoryWith(cam, *IpAddress::parse("198.18.10.5")))
              .ok());
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
  REQUIRE(daemon.start().ok());
  // A policy whose classes differ (an address group a profile names) has what was counted read
  // before it is installed: the first read.
  ruleset.counts = {group("198.18.10.5", "203.0.113.7", 1000, 10, 5000, 5)};
  std::ofstream(config.policy_path)
      << "version: 1\naddresses: {nvr: [198.18.1.10]}\nprofiles:\n  quarantine: {egress: "
         "[{allow: [nvr], proto: tcp, ports: [554]}, {allow: [gateway], proto: udp, ports: "
         "[53]}]}\n";
  REQUIRE(daemon.reload().ok());
  const std::optional<DeviceRecord> moved = seenDevice(daemon, cam);
  REQUIRE(moved.has_value());
  CHECK(moved->upload.bytes == 1000);
  CHECK(moved->upload.bytes_per_second > 0);
  CHECK(moved->download.bytes_per_second > 0);
  REQUIRE_FALSE(moved->by_class.empty());
  CHECK(moved->by_class[0].upload.bytes_per_second > 0);
  // The read on the way out: nothing more counted, so no rate, in total or in its class.
  CHECK(runUntilReady(daemon) == 0);
  const std::optional<DeviceRecord> still = seenDevice(daemon, cam);
  REQUIRE(still.has_value());
  CHECK(still->upload.bytes == 1000);
  CHECK(still->upload.bytes_per_second == 0);
  CHECK(still->download.bytes_per_second == 0);
  CHECK(still->by_class[0].upload.bytes_per_second == 0);
}

TEST_CASE_FIXTURE(ManagedBox,
                  "a read of thousands of addresses credits every group once, whichever of the "
                  "owner look-ups' rounds found its device") {
  // The owners are looked up 256 addresses under each hold of the judge's lock: 5,002
  // addresses here, so the camera's own addresses and its peers fall in different rounds.
  const MacAddress cam = *MacAddress::parse("44:47:cc:00:00:11");
  std::filesystem::create_directories(config.state_dir);
  REQUIRE(writeFileAtomically(config.state_dir, "inventory.pb",
                              inventoryWith(cam, *IpAddress::parse("198.18.10.5"),
                                            *IpAddress::parse("fd00:10::5")))
              .ok());
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
  REQUIRE(daemon.start().ok());
  ruleset.counts.clear();
  uint64_t expected_upload = 0;
  for (int i = 0; i < 2500; ++i) {
    // To 2,500 IPv4 and 2,500 IPv6 peers, each group 1..2,500 bytes up and twice that down.
    const std::string v4 = "203.0." + std::to_string(113 + i / 250) + "." + std::to_string(i % 250);
    const std::string v6 = "2001:db8::" + std::to_string(i);
    ruleset.counts.push_back(group("198.18.10.5", v4.c_str(), i + 1, 1, 2 * (i + 1), 1));
    ruleset.counts.push_back(group(v6.c_str(), "fd00:10::5", 2 * (i + 1), 1, i + 1, 1));
    expected_upload += 2 * static_cast<uint64_t>(i + 1);
  }
  // Between the camera's two addresses: one device, counted once, as the opener.
  ruleset.counts.push_back(group("198.18.10.5", "fd00:10::5", 7, 1, 3, 1));
  CHECK(runUntilReady(daemon) == 0);
  const std::optional<DeviceRecord> d = seenDevice(daemon, cam);
  REQUIRE(d.has_value());
  CHECK(d->upload.bytes == expected_upload + 7);
  CHECK(d->upload.packets == 5001);
  CHECK(d->download.bytes == 2 * expected_upload + 3);
  CHECK(d->download.packets == 5001);
  const AccountingCounters a = daemon.engineStatus().accounting;
  CHECK(a.groups == 5001);
  CHECK(a.unattributed_bytes == 0);
}

TEST_CASE_FIXTURE(ManagedBox,
                  "groups of one end (the counter's room for pairs was full) go to that end's "
                  "device alone") {
  const MacAddress cam = *MacAddress::parse("44:47:cc:00:00:11");
  std::filesystem::create_directories(config.state_dir);
  REQUIRE(writeFileAtomically(config.state_dir, "inventory.pb",
                              inventoryWith(cam, *IpAddress::parse("198.18.10.5")))
              .ok());
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
  REQUIRE(daemon.start().ok());
  auto end = [](FlowGroupCount g, FlowGroupCount::Ends ends) {
    g.ends = ends;
    (ends == FlowGroupCount::Ends::kSource ? g.destination : g.source) = IpAddress{};
    return g;
  };
  ruleset.counts = {
      // What the camera opened, to any destination: it uploads the original direction.
      end(group("198.18.10.5", "0.0.0.0", 1000, 10, 300, 3), FlowGroupCount::Ends::kSource),
      // What was opened to it, from any source: it uploads the replies.
      end(group("0.0.0.0", "198.18.10.5", 40, 1, 60, 1), FlowGroupCount::Ends::kDestination),
      // The same connections' other ends, owned by no device: not unattributed (a device may
      // own the end the group does not name).
      end(group("0.0.0.0", "203.0.113.7", 1000, 10, 300, 3), FlowGroupCount::Ends::kDestination),
      end(group("203.0.113.9", "0.0.0.0", 40, 1, 60, 1), FlowGroupCount::Ends::kSource)};
  CHECK(runUntilReady(daemon) == 0);
  const std::optional<DeviceRecord> d = seenDevice(daemon, cam);
  REQUIRE(d.has_value());
  CHECK(d->upload.bytes == 1060);
  CHECK(d->upload.packets == 11);
  CHECK(d->download.bytes == 340);
  CHECK(d->download.packets == 4);
  CHECK(daemon.engineStatus().accounting.unattributed_bytes == 0);
}

TEST_CASE_FIXTURE(ManagedBox,
                  "the connection limit: muzzled counts it with accounting, the kernel without") {
  config.conn_limit = 20;
  SUBCASE("accounting every 10 s: no rule in the table, first packets hinted") {
    GenerationStore generations(config.state_dir);
    Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
    REQUIRE(daemon.start().ok());
    CHECK(ruleset.last.conn_limit == 0);
    CHECK(ruleset.last.new_connection_hint);
    CHECK(daemon.engineStatus().flood_guard.connections == 20);
    CHECK(daemon.engineStatus().flood_guard.conn_counted_by_muzzled);
    CHECK(ruleset.label_probes == 1);
    CHECK(logText().find("event=connection-count by=muzzled") != std::string::npos);
  }
  SUBCASE("a kernel without conntrack labels: the kernel's rule, said why") {
    ruleset.labels = false;
    GenerationStore generations(config.state_dir);
    Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
    REQUIRE(daemon.start().ok());
    CHECK(ruleset.last.conn_limit == 20);
    CHECK_FALSE(ruleset.last.new_connection_hint);
    CHECK(daemon.engineStatus().flood_guard.connections == 20);
    // The status reads the Judge's own count: off.
    CHECK_FALSE(daemon.engineStatus().flood_guard.conn_counted_by_muzzled);
    CHECK(logText().find("event=connection-count by=kernel why=\"the kernel has no conntrack "
                         "labels (CONFIG_NF_CONNTRACK_LABELS)") != std::string::npos);
    // Nor does an accounting read count connections for the limit.
    const MacAddress cam = *MacAddress::parse("44:47:cc:00:00:11");
    ruleset.live.complete = true;
    ruleset.live.by_device = {{cam, 12}};
    CHECK(runUntilReady(daemon) == 0);
    CHECK(ruleset.live.complete);  // never taken
  }
  SUBCASE("a probe that fails outright: muzzled does not start") {
    struct FailingProbe : CountingRuleset {
      Result<bool> probeConnectionLabels() override {
        return Status::error("nftables: cannot open netlink socket: denied");
      }
    } failing;
    GenerationStore generations(config.state_dir);
    Daemon daemon(config, failing, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
    const Status s = daemon.start();
    CHECK(s.message() == "probing nftables: nftables: cannot open netlink socket: denied");
    CHECK(failing.installs == 0);
  }
  SUBCASE("no accounting, or reads too far apart to give room back in time: the kernel's rule") {
    for (const uint32_t every : {0u, 31u, 600u}) {
      CAPTURE(every);
      config.accounting_interval_seconds = every;
      GenerationStore generations(config.state_dir);
      Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
      REQUIRE(daemon.start().ok());
      CHECK(ruleset.last.conn_limit == 20);
      CHECK_FALSE(ruleset.last.new_connection_hint);
      CHECK_FALSE(daemon.engineStatus().flood_guard.conn_counted_by_muzzled);
      CHECK(ruleset.label_probes == 0);  // not asked: the kernel counts anyway
      CHECK(logText().find("event=connection-count by=kernel why=\"accounting is off") !=
            std::string::npos);
    }
  }
}

TEST_CASE_FIXTURE(ManagedBox,
                  "the connection limit's counts, anew at start and at each accounting read, by "
                  "the device each connection's label names") {
  config.conn_limit = 20;
  const MacAddress cam = *MacAddress::parse("44:47:cc:00:00:11");
  std::filesystem::create_directories(config.state_dir);
  REQUIRE(writeFileAtomically(
              config.state_dir, "inventory.pb",
              inventoryWith(cam, *IpAddress::parse("198.18.10.5"), *IpAddress::parse("fd00:10::5")))
              .ok());
  auto live = [&](bool complete) {
    LiveConnections l;
    l.complete = complete;
    // Sorted by device, as the counter hands them: the camera's, and the vacuum's, which the
    // inventory does not hold (yet): its count is kept for when it comes.
    l.by_device = {{cam, 12}, {*MacAddress::parse("50:ec:50:00:00:21"), 5}};
    return l;
  };
  SUBCASE("at start, from the counter's first dump; then at each read") {
    ruleset.live = live(true);
    GenerationStore generations(config.state_dir);
    Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
    REQUIRE(daemon.start().ok());
    // A restart: what the camera holds already counts.
    CHECK(seenDevice(daemon, cam)->connections == 12);
    ruleset.live = live(true);
    ruleset.live.by_device[0].connections = 4;  // 8 closed since
    CHECK(runUntilReady(daemon) == 0);          // the read on the way out
    CHECK(seenDevice(daemon, cam)->connections == 4);
  }
  SUBCASE("a dump that read too many: nothing is recounted") {
    ruleset.live = live(false);
    GenerationStore generations(config.state_dir);
    Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
    REQUIRE(daemon.start().ok());
    CHECK(seenDevice(daemon, cam)->connections == 0);
    ruleset.live = live(false);
    CHECK(runUntilReady(daemon) == 0);
    CHECK(seenDevice(daemon, cam)->connections == 0);
  }
  SUBCASE("the kernel counts (no accounting): muzzled neither asks nor counts") {
    config.accounting_interval_seconds = 0;
    ruleset.live = live(true);
    GenerationStore generations(config.state_dir);
    Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
    REQUIRE(daemon.start().ok());
    CHECK(runUntilReady(daemon) == 0);
    CHECK(seenDevice(daemon, cam)->connections == 0);
    CHECK(ruleset.live.complete);  // never taken
  }
}

TEST_CASE_FIXTURE(ManagedBox,
                  "UDP's destroy events are off while its timeouts outlive twice the interval; "
                  "a change of the timeouts writes the table again") {
  ruleset.udp_timeouts_outlive = true;
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
  REQUIRE(daemon.start().ok());
  CHECK(ruleset.asked_interval == config.accounting_interval_seconds);
  CHECK(ruleset.last.udp_ends == RulesetSpec::UdpEnds::kDumps);
  const int installs = ruleset.installs;
  // A timeout shortened: the read on the way out notices, and the table sends UDP's events again.
  ruleset.udp_timeouts_outlive = false;
  CHECK(runUntilReady(daemon) == 0);
  CHECK(ruleset.installs == installs + 1);
  CHECK(ruleset.last.udp_ends == RulesetSpec::UdpEnds::kEvents);
  CHECK(logText().find("event=accounting-udp-events destroy_events=on") != std::string::npos);
}

TEST_CASE_FIXTURE(ManagedBox,
                  "a dump that skipped connections (the tracker full) turns UDP's destroy events "
                  "back on") {
  ruleset.udp_timeouts_outlive = true;
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
  REQUIRE(daemon.start().ok());
  CHECK(ruleset.last.udp_ends == RulesetSpec::UdpEnds::kDumps);
  const int installs = ruleset.installs;
  ruleset.stats.tracked = kMaxTrackedConnections;
  ruleset.stats.untracked = 3;
  CHECK(runUntilReady(daemon) == 0);
  CHECK(ruleset.installs == installs + 1);
  CHECK(ruleset.last.udp_ends == RulesetSpec::UdpEnds::kEvents);
  CHECK(
      logText().find("event=accounting-udp-events destroy_events=on why=\"the tracker was full") !=
      std::string::npos);
}

TEST_CASE_FIXTURE(ManagedBox,
                  "while accounting reads fail UDP's destroy events are on; the next read that "
                  "works turns them off again") {
  ruleset.udp_timeouts_outlive = true;
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
  REQUIRE(daemon.start().ok());
  CHECK(ruleset.last.udp_ends == RulesetSpec::UdpEnds::kDumps);
  int installs = ruleset.installs;
  ruleset.read_error = Status::error("conntrack: the kernel did not answer the dump within 5 s");
  CHECK(runUntilReady(daemon) == 0);
  CHECK(ruleset.installs == installs + 1);
  CHECK(ruleset.last.udp_ends == RulesetSpec::UdpEnds::kEvents);
  CHECK(logText().find("event=accounting-udp-events destroy_events=on why=\"accounting reads "
                       "fail") != std::string::npos);
  installs = ruleset.installs;
  ruleset.read_error = Status();
  CHECK(runUntilReady(daemon) == 0);
  CHECK(ruleset.installs == installs + 1);
  CHECK(ruleset.last.udp_ends == RulesetSpec::UdpEnds::kDumps);
  CHECK(daemon.engineStatus().accounting.reads == 1);
}

TEST_CASE_FIXTURE(ManagedBox, "a tracker half full at start keeps UDP's destroy events on") {
  ruleset.udp_timeouts_outlive = true;
  ruleset.stats.tracked = kMaxTrackedConnections / 2;
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
  REQUIRE(daemon.start().ok());
  CHECK(ruleset.last.udp_ends == RulesetSpec::UdpEnds::kEvents);
}

TEST_CASE_FIXTURE(ManagedBox, "without accounting the table leaves UDP's events alone") {
  config.accounting_interval_seconds = 0;
  ruleset.udp_timeouts_outlive = true;
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
  REQUIRE(daemon.start().ok());
  CHECK(ruleset.last.udp_ends == RulesetSpec::UdpEnds::kUntouched);
}

TEST_CASE_FIXTURE(ManagedBox, "a failed read is counted and logged once; the totals stay") {
  ruleset.read_error =
      Status::error("conntrack: reading the connections' counts failed: Operation not permitted");
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
  REQUIRE(daemon.start().ok());
  CHECK(runUntilReady(daemon) == 0);
  const AccountingCounters a = daemon.engineStatus().accounting;
  CHECK(a.read_errors == 1);
  CHECK(a.reads == 0);
  CHECK(a.last_error.find("Operation not permitted") != std::string::npos);
  CHECK(logText().find("event=accounting-error") != std::string::npos);
}

TEST_CASE_FIXTURE(ManagedBox,
                  "the segment guard alone: read every 2 s, a line per segment named, the status") {
  // The per-device guard and the connection limit off: the reads run for the segment guard.
  config.flood_rate = 0;
  config.conn_limit = 0;
  config.segment_rate = 50;
  config.segment_burst = 100;
  config.uplinks = {"uplink0"};
  ruleset.segment_drops = {{"uplink0", 3}, {"br-cam", 900}, {"lan-nvr", 1}, {"br\x01", 2}};
  ruleset.stop_after_segment_read = true;
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
  REQUIRE(daemon.start().ok());
  CHECK(ruleset.last.segment_rate == 50);
  CHECK(ruleset.last.segment_burst == 100);
  CHECK(ruleset.last.flood_rate == 0);
  // Runs until the first read, kFloodReadPeriod (2 s) after the start.
  RecordingNotifier notifier(std::chrono::microseconds(0), /*stop_after=*/1000);
  daemon.setServiceNotifier(&notifier);
  CHECK(daemon.run() == 0);
  daemon.setServiceNotifier(nullptr);
  CHECK(ruleset.segment_reads == 1);
  const std::string text = logText();
  // The most first; the segment by its name, the uplink as such, any other interface as `other`,
  // and a name's odd bytes escaped.
  const size_t cameras = text.find(
      "event=segment-guard segment=cameras interface=br-cam dropped=900 rate=50 burst=100");
  const size_t uplink =
      text.find("event=segment-guard segment=uplink interface=uplink0 dropped=3 rate=50 burst=100");
  REQUIRE(cameras != std::string::npos);
  REQUIRE(uplink != std::string::npos);
  CHECK(cameras < uplink);
  CHECK(text.find("event=segment-guard segment=other interface=lan-nvr dropped=1") !=
        std::string::npos);
  CHECK(text.find("event=segment-guard segment=other interface=br\\x01 dropped=2") !=
        std::string::npos);
  const FloodGuardCounters f = daemon.engineStatus().flood_guard;
  CHECK(f.segment_rate == 50);
  CHECK(f.segment_burst == 100);
  CHECK(f.segment_dropped == 906);
  CHECK(f.segments == 4);
  CHECK(f.read_errors == 0);
  REQUIRE(f.segment_totals.size() == 4);  // by the kernel's name: "br\x01" < "br-cam"
  CHECK(f.segment_totals[0].interface == "br\\x01");
  CHECK(f.segment_totals[1].interface == "br-cam");
  CHECK(f.segment_totals[1].segment == "cameras");
  CHECK(f.segment_totals[1].dropped == 900);
  CHECK(f.segment_totals[2].segment == "other");
  CHECK(f.segment_totals[3].segment == "uplink");
}

TEST_CASE_FIXTURE(ManagedBox, "with accounting off conntrack's counters are not started nor read") {
  config.accounting_interval_seconds = 0;
  ruleset.counts = {group("198.18.10.5", "203.0.113.7", 1000, 10)};
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
  REQUIRE(daemon.start().ok());
  CHECK(ruleset.accounting_starts == 0);
  CHECK(runUntilReady(daemon) == 0);
  const AccountingCounters a = daemon.engineStatus().accounting;
  CHECK_FALSE(a.on);
  CHECK(a.reads == 0);
}

TEST_CASE_FIXTURE(ManagedBox,
                  "new-device admission: the config's rate in the status, its count "
                  "in the counters line; off shows none") {
  config.new_devices_per_minute = 6;
  config.new_device_burst = 5;
  {
    GenerationStore generations(config.state_dir);
    Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
    REQUIRE(daemon.start().ok());
    const AdmissionCounters a = daemon.engineStatus().admission;
    CHECK(a.per_minute == 6);
    CHECK(a.burst == 5);
    CHECK(a.refused == 0);
    CHECK(runUntilReady(daemon) == 0);
    CHECK(logText().find("event=stopped ") != std::string::npos);
    CHECK(logText().find(" devices_refused=0 ") != std::string::npos);
    CHECK(logText().find("event=device-flood") == std::string::npos);  // nothing refused
  }
  config.new_devices_per_minute = 0;
  GenerationStore generations(config.state_dir);
  Daemon daemon(config, ruleset, host, &idleOpener, log, clock, /*oui=*/nullptr, generations);
  REQUIRE(daemon.start().ok());
  const AdmissionCounters off = daemon.engineStatus().admission;
  CHECK(off.per_minute == 0);
  CHECK(off.segments.empty());
}

}  // namespace
}  // namespace muzzle
