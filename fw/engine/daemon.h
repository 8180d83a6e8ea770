// Daemon: muzzled's engine. The engine thread runs the Boost.Asio loop (signals, timers, work
// the management plane posts); one queue thread per flow queue (fw/engine/queue_worker.h; the
// last also drains the inspection queue) drains packets into the Judge, which every thread reaches
// through one mutex. So a policy compile or a slow management call never holds a packet back. The
// management plane compiles on its own thread (compilePolicy() is safe there), so a compile does
// not hold the engine thread either. What the Judge logs under its mutex only goes into the
// EventLog's bounded buffer; the EventLog's own thread writes it out and feeds the watchers
// (fw/engine/event_log.h). The policy lifecycle:
//   start:   probe the queue action, bind the queues, compile the policy, pick the generation,
//            install the ruleset (in that order, so no packet is queued before someone listens);
//            run() starts the queue threads. A state folder that is damaged, read-only or full
//            never stops the install (generation_store.h): the segments are never left open;
//   SIGHUP:  recompile; an invalid file is logged and the running policy stays (or, with a
//            reload handler set, whatever the management plane decides);
//   SIGTERM: stop. The queue threads stop, the `stopped` counters line is logged and delivered
//            (run() waits for the EventLog, a few seconds at most), then run() returns. The
//            ruleset stays installed, so fail_mode keeps applying while muzzled is down;
//            `muzzled --remove-ruleset` takes it away.
// A config with no segment makes an idle daemon: start() touches neither nftables nor the queues,
// run() waits for signals only. It still reports ready, so the packaged default (which manages
// nothing) is a healthy service that cannot cut the box's traffic.
// With a ServiceNotifier, run() sends READY=1 before it waits (start() has then installed the
// ruleset and bound the queues), WATCHDOG=1 from a timer on the engine loop, and STOPPING=1 on
// the way out. The ping vouches for both kinds of thread: a stuck engine stops pinging, and so
// does an engine that sees a queue thread stalled (checkQueues(): fw/engine/queue_liveness.h),
// so systemd restarts muzzled either way.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "fw/common/clock.h"
#include "fw/common/status.h"
#include "fw/config/daemon_config.h"
#include "fw/engine/engine_control.h"
#include "fw/engine/event_log.h"
#include "fw/engine/flood_drops.h"
#include "fw/engine/generation_store.h"
#include "fw/engine/judge.h"
#include "fw/engine/queue_liveness.h"
#include "fw/engine/queue_worker.h"
#include "fw/engine/service_notifier.h"
#include "fw/engine/site_probe.h"
#include "fw/engine/state_report.h"
#include "fw/engine/volume_limits.h"
#include "fw/nfq/packet_queue.h"
#include "fw/nft/ruleset.h"

namespace muzzle {

// Opens the packet queue; a seam so the daemon can be driven without the kernel.
using QueueOpener = Result<std::unique_ptr<PacketQueue>> (*)(const QueueOptions&);

class Daemon : public EngineControl {
 public:
  // All references and "*oui" must outlive the Daemon. The owner opens the OUI database (null:
  // no vendor names) and the generation store (normally over `config.state_dir`), so tests
  // give their own; the Daemon uses `generations` on the engine thread only.
  Daemon(DaemonConfig config, RulesetWriter& ruleset, HostInfo& host, QueueOpener open_queue,
         EventLog& log, const Clock& clock, const OuiDatabase* oui, GenerationStore& generations);
  ~Daemon() override;

  // Before start(): start from this policy text instead of the config's policy file (the
  // management plane starts the box from its last good revision). `compiled`: that text
  // compiled already against this box (PolicyCommitter::boot did, taking `compile_time`),
  // installed as it is; null: start() compiles the text.
  void setInitialPolicy(std::string text, std::string label,
                        std::shared_ptr<const CompiledPolicy> compiled = nullptr,
                        std::chrono::steady_clock::duration compile_time = {});
  // Before run(): SIGHUP calls `handler` on the engine thread instead of reload().
  void setReloadHandler(std::function<void()> handler);
  // Before run(): calls `fn` on the engine thread every `period` while run() runs.
  void addTicker(std::chrono::milliseconds period, std::function<void()> fn);

  Status start();
  // Runs until SIGTERM or SIGINT (or a queue socket breaks). The queue threads run while run()
  // does and are stopped before it returns; so is every line logged so far delivered (or 5 s
  // passed). Returns the process exit code.
  int run();
  // After run() returned: keeps the engine loop (posted work) running for `d` more, so work the
  // management plane posts while it shuts down still completes. Packets are no longer judged.
  void runFor(std::chrono::milliseconds d);
  // Re-reads the policy file and applies it if valid. Public for tests; SIGHUP calls it.
  Status reload();
  // Schedules (daemon_schedule.cc). Engine thread. Works out which of the installed policy's
  // schedules hold at the clock's wall time, in the box's local time zone; when that differs
  // from what the Judge has, installs a new generation with the new state (so every flow is
  // judged again on its next packet: flows a closing window allowed are cut, flows an opening
  // one allows pass) and logs `event=schedule` for each window that opened or closed. Returns
  // how long until it should be asked again: until the next change, at most kScheduleRecheck
  // (a clock step or a time-zone change is noticed within that). Never blocks the queue threads
  // longer than a policy change does. While run() runs, a timer calls it for a policy with
  // schedules; public for tests, which move a ManualClock instead.
  std::chrono::milliseconds refreshSchedules();
  static constexpr std::chrono::milliseconds kScheduleRecheck{30'000};
  // Optional; call before run(). "*notifier" must outlive the Daemon. Without one, nothing is
  // notified (muzzled run by hand or by tests).
  void setServiceNotifier(ServiceNotifier* notifier) { notifier_ = notifier; }
  // Optional; call before start(). Where a damaged or unwritable generation file is listed for
  // the status screen (it is logged either way). "*report" must outlive the Daemon; engine thread.
  void setStateReport(StateReport* report) { state_report_ = report; }
  // True when the config names no segment (see above).
  bool idle() const { return config_.segments.empty(); }
  // Engine thread, while run() runs: ends run() so that another Daemon of the same process takes
  // over (an idle box that `muzzlectl setup` gave segments). run() then returns kHandedOver
  // without telling systemd the service stops (no STOPPING=1) and without the `stopped` line;
  // the next Daemon's run() sends READY=1 and pings the watchdog again.
  void handOver();
  static constexpr int kHandedOver = -1;

  // EngineControl.
  void post(std::function<void()> fn) override;
  Result<PolicyContext> policyContext() override;
  PolicyCompileResult compilePolicy(
      std::string_view text, std::string_view label, const PolicyContext& context) const override;
  Result<uint32_t> applyPolicyText(std::string_view text, std::string_view label) override;
  Result<uint32_t> applyPolicy(std::shared_ptr<const CompiledPolicy> policy,
                               std::chrono::steady_clock::duration compile_time) override;
  std::shared_ptr<const CompiledPolicy> installedPolicy() const override {
    std::lock_guard<std::mutex> lock(judge_mu_);
    return judge_.policy();
  }
  EngineStatus engineStatus() const override;
  std::vector<DeviceRecord> devicesSeen() const override;
  Status startLearning(MacAddress mac, std::chrono::seconds duration, bool observe) override;
  Status stopLearning(MacAddress mac) override;
  Result<LearnReport> learnReport(MacAddress mac) const override;
  Status releaseVolumeLimits(MacAddress device) override;
  const DaemonConfig& config() const override { return config_; }
  // A DHCP request seen on a queue thread is posted to the engine thread, at most
  // kMaxMudUrlPosts at a time (a flood of changing URLs is refused with an event, counted
  // nowhere else), and handed to `observer` there. The devices that announced a URL before
  // fetching was on (the inventory keeps URLs across restarts) are handed to it when a policy
  // turns fetching on, and when it is set while the installed policy fetches.
  void setMudUrlObserver(MudUrlObserver observer) override;
  static constexpr int kMaxMudUrlPosts = 64;

 private:
  struct Loop;
  struct Ticker;
  Status loadPolicy(bool initial);
  void warnIfBridgesBypass();
  // `compile_time` is what reading and compiling took, for the log line.
  Status install(std::shared_ptr<const CompiledPolicy> compiled, bool initial,
                 std::chrono::steady_clock::duration compile_time);
  void logCounters(const char* event);
  // The table for `generation`: nothing in it comes from the policy itself (the DoH list, its
  // one part that did, is decide()'s since 2026-12-07), only from the config and the generation.
  RulesetSpec specFor(uint32_t generation) const;
  // A new generation for the running policy: every flow is judged again on its next packet.
  // With `schedules`, the Judge takes that schedule state with the generation. False when the
  // ruleset could not be installed (logged; the old generation and state stay).
  bool rejudgeAll(std::string_view why = "a device moved to another profile",
                  std::optional<ScheduleMask> schedules = std::nullopt);
  // Engine thread: (re)starts the schedule timer for the installed policy, or stops it when the
  // policy has no schedule or run() is not running.
  void armScheduleTimer();
  // Logs (and lists in the StateReport) a damaged or unwritable generation file.
  void reportGeneration(const GenerationChoice& choice);
  void loadInventory();
  void saveInventory();
  // Per-device accounting (daemon_accounting.cc). startAccounting(): at start, before the table,
  // turns conntrack's counters on (a failure is logged and shown in the status, not fatal).
  // accountTraffic(), every accounting interval, on the way out, and when the connection limit
  // refused a flow (at most once a second): reads what allowed connections counted since the
  // last read, adds it to the devices at either end, sets the devices' rates, and recounts each
  // device's connections (fw/device/connection_counts.h).
  void startAccounting();
  void accountTraffic();
  // countConnectionsAtStart(): the connection limit's counts from the counter's first dump.
  void countConnectionsAtStart();
  void noteAccountingError(const Status& s);
  bool reportVolumeLimits(const std::vector<VolumeLimits::Event>& events);
  void setUdpEndsByDump(bool by_dump, const char* why, size_t tracked);
  // The flood guard's, the connection limit's and the segment guard's drops (daemon_status.cc),
  // every kFloodReadPeriod: read from the kernel, an event line for each device whose flows one of
  // the first two dropped since the last read (`flood-guard` or `connection-limit`; the
  // kMaxFloodLines that dropped most, one more line sums the rest), one for each segment whose
  // flows the segment guard dropped (`segment-guard`, the same way), and the sums to the status.
  void readFloodGuard();
  // One of the first two: "" or what failed.
  std::string readDeviceDrops(DeviceDropCause cause, std::vector<LogLine>* lines);
  // The segment guard's: "" or what failed.
  std::string readSegmentDrops(std::vector<LogLine>* lines);
  // The name `interface` goes by in the segment guard's lines: its segment's name in the config,
  // "uplink" for an uplink, "other" for any other interface.
  std::string segmentOf(const std::string& interface) const;
  static constexpr std::chrono::seconds kFloodReadPeriod{2};
  static constexpr size_t kMaxFloodLines = 8;
  // New-device admission (daemon_status.cc), every kDeviceFloodReportPeriod while it is on: an
  // `event=device-flood` line for each segment whose refusals grew since its last one, at most
  // one per segment every DeviceAdmission::kReportInterval (so a flood writes one line per
  // segment every few seconds, whatever its rate, the first within a second; the refusals
  // themselves write nothing on the packet path). With `all`, on the way out, every segment's,
  // so the lines add up to the count.
  void reportDeviceFlood(bool all = false);
  static constexpr std::chrono::seconds kDeviceFloodReportPeriod{1};
  void installVolumeBlocks();
  // Learning mode (daemon_learn.cc): learn.state in state_dir, read at start (a damaged file is
  // set aside, loudly, and learning starts empty), written every minute, on every start and
  // stop of a session, and on the way out; sessions past their end stop by themselves (a
  // one-second ticker), each with an event.
  void loadLearning();
  void saveLearning();
  void expireLearning();
  void logLearnEnd(const LearnSession& s, std::string_view why);
  // A socket and a queue thread for each flow queue; the inspection queue's socket is drained
  // by the last flow queue's thread.
  Status openQueues();
  QueueCounters queueCounters() const;
  // Engine thread, every kQueueCheckPeriod and before each WATCHDOG=1: reads every queue
  // thread's turn count, logs event=queue-stalled / queue-resumed (QueueLiveness) and returns
  // false while any thread is stalled (the watchdog is then not pinged). Never takes the
  // Judge's lock: a thread that hangs holding it must not hang the check too.
  bool checkQueues();
  static constexpr std::chrono::seconds kQueueCheckPeriod{1};
  void notify(const std::vector<std::pair<std::string, std::string>>& fields);
  std::string statusText() const;

  DaemonConfig config_;
  RulesetWriter& ruleset_;
  HostInfo& host_;
  QueueOpener open_queue_;
  EventLog& log_;
  const Clock& clock_;
  const OuiDatabase* oui_;  // may be null
  // Guards judge_ (its policy, inventory, name cache and counters): the queue threads judge
  // under it, the engine thread reads and swaps under it. Held for one packet, one copy, or one
  // policy swap with its ruleset batch (so no packet gets a mark the kernel stopped honouring);
  // never across a compile or a file write.
  mutable std::mutex judge_mu_;
  Judge judge_;
  LockedSink locked_judge_{judge_mu_, judge_};
  std::atomic<bool> rejudge_pending_{false};
  // Engine thread: every known device's MUD URL to mud_url_observer_ (none while it is unset).
  void announceKnownMudUrls();
  MudUrlObserver mud_url_observer_;    // engine thread
  std::atomic<int> mud_url_posts_{0};  // posted, not yet run
  QueueMode queue_mode_ = QueueMode::kCompat;
  // Whether muzzled counts each device's connections (DaemonConfig::countsConnections, and the
  // kernel has conntrack labels) or the kernel's rule does. Set by start() before any thread
  // runs, constant after.
  bool counts_connections_ = false;
  Status decideWhoCountsConnections();  // start(): sets counts_connections_, logs who counts
  uint32_t generation_ = 0;             // engine thread
  GenerationStore& generations_;        // engine thread
  bool generation_unwritable_ = false;  // logged once until it can be stored again
  StateReport* state_report_ = nullptr;
  std::unique_ptr<Loop> loop_;
  // Opened by start(), started by run(). Destroyed before loop_ (declared after it).
  std::vector<std::unique_ptr<QueueWorker>> workers_;
  QueueLiveness liveness_;  // engine thread: one thread watched per worker, in order
  struct InitialPolicy {
    std::string text;
    std::string label;
    std::shared_ptr<const CompiledPolicy> compiled;  // null: compiled by start()
    std::chrono::steady_clock::duration compile_time{};
  };
  std::optional<InitialPolicy> initial_policy_;
  // The sets of the list files the policies it compiled named: a reload that leaves a large
  // list unchanged reuses its set (list_cache.h). In every PolicyContext.
  std::shared_ptr<ListCache> list_cache_ = std::make_shared<ListCache>();
  std::chrono::steady_clock::time_point accounted_at_;  // engine thread: the last read
  AccountingCounters accounting_counters_;              // under judge_mu_
  // Under judge_mu_: the devices whose traffic rates the last read set (creditGrowth clears them
  // at the next; a device may be listed once per class it grew in).
  std::vector<MacAddress> rated_devices_;
  // Engine thread: whether the next table turns UDP's destroy events off
  // (RulesetSpec::UdpEnds::kDumps; udpEndsByDumpNext), worked out at start and at every read
  // (the writer reads two sysctls for it: never under judge_mu_, which specFor() is called
  // under); a failed read turns the events on.
  bool udp_ends_by_dump_ = false;
  VolumeLimits volume_limits_;                          // under judge_mu_
  FloodDrops flood_drops_;                              // engine thread
  FloodDrops conn_limit_drops_;                         // engine thread
  SegmentDrops segment_drops_;                          // engine thread
  FloodGuardCounters flood_counters_;                   // under judge_mu_
  std::function<void()> reload_handler_;
  std::vector<std::unique_ptr<Ticker>> tickers_;
  bool running_ = false;  // engine thread: run() turns the loop
  bool handed_over_ = false;  // engine thread: handOver() ended run()
  ServiceNotifier* notifier_ = nullptr;
};

}  // namespace muzzle
