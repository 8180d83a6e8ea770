// Schedules in the Daemon, with a ManualClock for the calendar: at a window's edge a new
// generation is installed with the new schedule state, so a flow the closing window allowed is
// denied on its next packet and one the opening window allows passes; a clock step is handled
// the same way; a restart with a scheduled policy takes a fresh generation.
#include <doctest/doctest.h>
#include <linux/netfilter.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include "fw/engine/daemon.h"
#include "fw/nft/marks.h"
#include "tests/unit/fw/engine/test_support.h"
#include "tests/unit/support/local_zone.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using testing::LocalZone;
using testing::utcTime;

class RecordingRuleset : public RulesetWriter {
 public:
  Result<QueueMode> probeQueueMode() override { return QueueMode::kNative; }
  Status install(const RulesetSpec& spec) override {
    ++installs;
    last = spec;
    return Status();
  }
  Status remove() override { return Status(); }
  Status startAccounting() override { return Status(); }
  Result<std::vector<FlowGroupCount>> readAccounting() override {
    return std::vector<FlowGroupCount>{};
  }
  ConntrackCounter::Stats accountingStats() const override { return {}; }
  RulesetSpec last;
  int installs = 0;
};

// The vacuum may reach its cloud by day (07:00-19:00) and its update server by night.
constexpr const char* kPolicy = R"(version: 1
profiles:
  vacuum:
    egress:
      - {allow: [203.0.113.20], proto: udp, ports: [7], when: {hours: "07:00-19:00"}}
      - {allow: [203.0.113.30], proto: udp, ports: [7], when: {hours: "19:00-07:00"}}
  quarantine: {}
devices:
  - {name: robo, mac: "50:ec:50:00:00:21", profile: vacuum}
)";

constexpr const char* kVacuumMac = "50:ec:50:00:00:21";

// The queue the daemon's one flow queue reads: each injected packet is the vacuum's datagram to
// the cloud or to the update server (the test says which), and its verdict mark is recorded.
class VacuumQueue : public testing::InjectedQueue {
 public:
  // Queues one datagram to `dst` and waits (at most 5 s) for its verdict mark.
  std::optional<uint32_t> judge(const char* dst) {
    std::unique_lock<std::mutex> lock(mu_);
    packet_ = testing::udpPacket("198.18.10.21", dst, 40000, 7);
    const size_t before = marks_.size();
    lock.unlock();
    inject(1);
    lock.lock();
    if (!judged_.wait_for(lock, std::chrono::seconds(5), [&] { return marks_.size() > before; })) {
      return std::nullopt;
    }
    return marks_.back();
  }

 protected:
  void deliver(PacketSink& sink, uint64_t) override {
    std::lock_guard<std::mutex> lock(mu_);
    const PacketVerdict v = sink.onPacket(testing::queuedPacket(
        packet_, NF_INET_FORWARD, testing::kSegmentIf, testing::kUplinkIf, kVacuumMac));
    marks_.push_back(v.mark.value_or(0));
    judged_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable judged_;
  std::vector<uint8_t> packet_;
  std::vector<uint32_t> marks_;
};

// The one socket (flow queue 100, the inspection queue bound on it too) is the test's.
VacuumQueue* g_vacuum_queue = nullptr;
Result<std::unique_ptr<PacketQueue>> vacuumOpener(const QueueOptions& options) {
  REQUIRE(options.queues.size() == 2);
  CHECK(options.queues.at(0).number == 100);
  CHECK(options.queues.at(1).number == 101);
  auto queue = std::make_unique<VacuumQueue>();
  g_vacuum_queue = queue.get();
  return std::unique_ptr<PacketQueue>(std::move(queue));
}

// A box on the camera site with the scheduled policy, in UTC, its calendar at `wall`. The zone is
// set before anything that may read it runs and put back after.
struct ScheduledBox {
  explicit ScheduledBox(time_t wall) : log(out.get(), log_clock) {
    std::ofstream(temp.path + "/policy.yaml") << kPolicy;
    host.site = testing::cameraSite();
    config.segments.push_back({"cameras", "br-cam"});
    config.policy_path = temp.path + "/policy.yaml";
    config.state_dir = temp.path + "/state";
    config.accounting_interval_seconds = 0;
    clock.setWall(std::chrono::system_clock::from_time_t(wall));
  }
  ~ScheduledBox() { log.stop(); }
  std::string logText() {
    log.flush();
    return out.text();
  }
  // The host with the camera site's facts, so the policy's device sits on a segment.
  struct SiteHost : testing::FakeHost {
    Result<SiteFacts> siteFacts(const std::vector<DaemonSegment>&) override { return site; }
    SiteFacts site;
  };

  LocalZone zone{"UTC"};
  testing::TempDir temp{"muzzle-schedule"};
  testing::MemoryFile out;
  // The log keeps its own clock: only the daemon's calendar is moved by the test.
  SystemClock log_clock;
  EventLog log;
  ManualClock clock;
  SiteHost host;
  RecordingRuleset ruleset;
  DaemonConfig config;
};

// An allowed flow to the internet: its mark carries that traffic class (fw/nft/marks.h).
uint32_t allowed(uint32_t generation) {
  return verdictMark(generation, VerdictCode::kAllow, kClassInternet);
}
uint32_t rejected(uint32_t generation) { return verdictMark(generation, VerdictCode::kReject); }

TEST_CASE(
    "at a window's edge, a new generation: the closing window's flow is cut, the opening "
    "one's passes") {
  // Thursday 18:59:40: the day window is open.
  ScheduledBox box(utcTime(2026, 12, 3, 18, 59, 40));
  GenerationStore generations(box.config.state_dir);
  Daemon daemon(box.config, box.ruleset, box.host, &vacuumOpener, box.log, box.clock,
                /*oui=*/nullptr, generations);
  REQUIRE(daemon.start().ok());
  REQUIRE(g_vacuum_queue != nullptr);
  VacuumQueue& queue = *g_vacuum_queue;
  const uint32_t day_generation = daemon.engineStatus().generation;
  int rc = -1;
  std::thread engine([&] { rc = daemon.run(); });
  // On the engine thread, as the daemon's timer calls it; the clock is moved before, with no
  // packet in flight.
  auto refresh = [&] {
    std::promise<std::chrono::milliseconds> delay;
    daemon.post([&] { delay.set_value(daemon.refreshSchedules()); });
    return delay.get_future().get();
  };

  CHECK(queue.judge("203.0.113.20") == allowed(day_generation));
  CHECK(queue.judge("203.0.113.30") == rejected(day_generation));
  // Nothing changes before the edge; the daemon asks again at 19:00:00.
  CHECK(refresh() == std::chrono::seconds(20));
  CHECK(daemon.engineStatus().generation == day_generation);

  box.clock.setWall(std::chrono::system_clock::from_time_t(utcTime(2026, 12, 3, 19, 0, 0)));
  const int installs = box.ruleset.installs;
  // 12 hours to the next edge: asked again after the recheck interval.
  CHECK(refresh() == Daemon::kScheduleRecheck);
  const uint32_t night_generation = daemon.engineStatus().generation;
  CHECK(night_generation != day_generation);
  CHECK(box.ruleset.installs == installs + 1);
  CHECK(box.ruleset.last.generation == night_generation);
  // The next packet of each flow comes back (its mark is of the old generation) and is judged
  // under the night's state.
  CHECK(queue.judge("203.0.113.20") == rejected(night_generation));
  CHECK(queue.judge("203.0.113.30") == allowed(night_generation));
  // Asked again at once: no change, no new generation.
  refresh();
  CHECK(daemon.engineStatus().generation == night_generation);
  CHECK(box.ruleset.installs == installs + 1);

  daemon.post([] { raise(SIGTERM); });
  engine.join();
  CHECK(rc == 0);
  const std::string log = box.logText();
  CHECK(log.find("event=schedule state=closed when=07:00-19:00 rules=1 "
                 "first_rule=profiles.vacuum.egress[0] generation=" +
                 std::to_string(night_generation)) != std::string::npos);
  CHECK(log.find("event=schedule state=open when=19:00-07:00 rules=1 "
                 "first_rule=profiles.vacuum.egress[1] generation=" +
                 std::to_string(night_generation)) != std::string::npos);
  CHECK(log.find("schedules=2 schedules_open=1") != std::string::npos);
  g_vacuum_queue = nullptr;
}

TEST_CASE(
    "a clock stepped back or forward is a change like any other; a restart takes a fresh "
    "generation") {
  ScheduledBox box(utcTime(2026, 12, 3, 12, 0));  // Thursday noon: day window open
  GenerationStore generations(box.config.state_dir);
  uint32_t generation = 0;
  {
    Daemon daemon(box.config, box.ruleset, box.host, &vacuumOpener, box.log, box.clock,
                  /*oui=*/nullptr, generations);
    REQUIRE(daemon.start().ok());
    generation = daemon.engineStatus().generation;
    // No run(): the test is the engine thread. Seven hours to 19:00, asked again in 30 s.
    CHECK(daemon.refreshSchedules() == Daemon::kScheduleRecheck);
    CHECK(daemon.engineStatus().generation == generation);

    // Stepped back to 05:00 (a wrong RTC until NTP answers): the night window holds again.
    box.clock.setWall(std::chrono::system_clock::from_time_t(utcTime(2026, 12, 3, 5, 0)));
    daemon.refreshSchedules();
    const uint32_t stepped_back = daemon.engineStatus().generation;
    CHECK(stepped_back != generation);
    CHECK(box.logText().find("event=schedule state=open when=19:00-07:00") != std::string::npos);

    // Fifteen seconds before 07:00: the daemon asks again right at the edge.
    box.clock.setWall(std::chrono::system_clock::from_time_t(utcTime(2026, 12, 3, 6, 59, 45)));
    CHECK(daemon.refreshSchedules() == std::chrono::seconds(15));
    CHECK(daemon.engineStatus().generation == stepped_back);

    // Stepped forward to Friday noon: the day window again.
    box.clock.setWall(std::chrono::system_clock::from_time_t(utcTime(2026, 12, 4, 12, 0)));
    daemon.refreshSchedules();
    CHECK(daemon.engineStatus().generation != stepped_back);
    generation = daemon.engineStatus().generation;
  }
  // The same policy after a restart: verdicts given before it may be of another window.
  Daemon daemon(box.config, box.ruleset, box.host, &vacuumOpener, box.log, box.clock,
                /*oui=*/nullptr, generations);
  REQUIRE(daemon.start().ok());
  CHECK(daemon.engineStatus().generation != generation);
  g_vacuum_queue = nullptr;
}

}  // namespace
}  // namespace muzzle
