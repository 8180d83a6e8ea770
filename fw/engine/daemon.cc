#include "fw/engine/daemon.h"

#include <malloc.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "fw/common/atomic_file.h"
#include "fw/common/confined_file.h"

namespace muzzle {
namespace {

// How long run() waits, on its way out, for the event log to deliver its last lines.
constexpr auto kStopFlushTimeout = std::chrono::seconds(5);

// The box's table sizes, and the new-device admission and connection limit muzzled.yaml asks for.
JudgeLimits judgeLimitsOf(const DaemonConfig& config) {
  static_assert(DeviceAdmission::Limits{}.per_minute == kDefaultNewDevicesPerMinute &&
                    DeviceAdmission::Limits{}.burst == kDefaultNewDeviceBurst,
                "a Judge built without a config admits what muzzled.yaml's defaults do");
  JudgeLimits limits;
  limits.admission.per_minute = config.new_devices_per_minute;
  limits.admission.burst = config.new_device_burst;
  limits.connections = config.countsConnections() ? config.conn_limit : 0;
  return limits;
}

}  // namespace

struct Daemon::Loop {
  boost::asio::io_context io;
  boost::asio::signal_set signals{io, SIGHUP, SIGTERM, SIGINT};
  boost::asio::signal_set usr1{io, SIGUSR1};
  boost::asio::steady_timer watchdog{io};
  // The next edge of a schedule window (armScheduleTimer); idle for a policy without schedules.
  boost::asio::steady_timer schedule{io};
  int exit_code = 0;
};

struct Daemon::Ticker {
  Ticker(boost::asio::io_context& io, std::chrono::milliseconds p, std::function<void()> f)
      : timer(io), period(p), fn(std::move(f)) {}
  void arm() {
    timer.expires_after(period);
    timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      fn();
      arm();
    });
  }
  boost::asio::steady_timer timer;
  std::chrono::milliseconds period;
  std::function<void()> fn;
};

Daemon::Daemon(DaemonConfig config, RulesetWriter& ruleset, HostInfo& host, QueueOpener open_queue,
               EventLog& log, const Clock& clock, const OuiDatabase* oui,
               GenerationStore& generations)
    : config_(std::move(config)),
      ruleset_(ruleset),
      host_(host),
      open_queue_(open_queue),
      log_(log),
      clock_(clock),
      oui_(oui),
      judge_(log, clock, host, oui, judgeLimitsOf(config_)),
      generations_(generations),
      loop_(std::make_unique<Loop>()) {
  judge_.devices().bindings().setHold(std::chrono::seconds(config_.address_hold_seconds));
  // Called on a queue thread; the new generation is installed on the engine thread. Verdicts
  // already batched keep their (old) generation and are simply judged once more.
  judge_.onReassigned([this] {
    if (rejudge_pending_.exchange(true)) return;
    post([this] { rejudgeAll(); });
  });
  // Called on a queue thread under the judge's lock, at most once a second: the connection limit
  // refused a flow, and the table is read now rather than at the next interval
  // (fw/device/connection_counts.h says why).
  judge_.onRecountWanted([this] { post([this] { accountTraffic(); }); });
  // Called on a queue thread under the judge's lock: only a post, bounded, leaves it.
  judge_.onMudUrl([this](MacAddress mac, const std::string& url) {
    if (mud_url_posts_.fetch_add(1) >= kMaxMudUrlPosts) {
      mud_url_posts_.fetch_sub(1);
      log_.writeLimited(LogLine("mud-refused")
                            .add("device", mac.toString())
                            .add("url", url)
                            .add("reason", "queue-full")
                            .add("error", "too many MUD URLs announced at once; the device's "
                                          "next DHCP request with a changed URL is tried again"));
      return;
    }
    post([this, mac, url] {
      mud_url_posts_.fetch_sub(1);
      if (mud_url_observer_) mud_url_observer_(mac, url);
    });
  });
}

void Daemon::setMudUrlObserver(MudUrlObserver observer) {
  mud_url_observer_ = std::move(observer);
  auto policy = installedPolicy();
  if (policy && policy->mud.fetch) announceKnownMudUrls();
}

void Daemon::announceKnownMudUrls() {
  if (!mud_url_observer_) return;
  // A copy, taken under the judge's lock and handed on outside it: the observer queues
  // fetches and writes events.
  for (const DeviceRecord& d : devicesSeen()) {
    if (!d.mud_url.empty()) mud_url_observer_(d.mac, d.mud_url.str());
  }
}

void Daemon::loadInventory() {
  auto bytes = readRegularFile(config_.state_dir + "/inventory.pb");
  if (!bytes.ok()) {
    if (bytes.status().code() != StatusCode::kNotFound) {
      log_.write(LogLine("warning")
                     .add("problem", bytes.status().message())
                     .add("fix", "the inventory starts empty"));
    }
    return;
  }
  std::lock_guard<std::mutex> lock(judge_mu_);
  Status s = judge_.devices().load(*bytes);
  if (!s.ok()) log_.write(LogLine("warning").add("problem", "inventory: " + s.message()));
  log_.write(LogLine("inventory-loaded")
                 .add("devices", judge_.devices().size())
                 .add("aged_out", judge_.devices().agedOut())
                 .add("oui_blocks", oui_ != nullptr ? oui_->size() : 0)
                 .add("addresses_bound", judge_.devices().bindings().size()));
}

void Daemon::saveInventory() {
  std::string bytes;
  {
    std::lock_guard<std::mutex> lock(judge_mu_);
    bytes = judge_.devices().serialize();
  }
  Status s = writeFileAtomically(config_.state_dir, "inventory.pb", bytes);
  if (!s.ok())
    log_.writeLimited(LogLine("warning").add("problem", "saving the inventory: " + s.message()));
}

Daemon::~Daemon() {
  workers_.clear();  // stops the queue threads before anything they use goes away
  tickers_.clear();
}

void Daemon::setInitialPolicy(std::string text, std::string label,
                              std::shared_ptr<const CompiledPolicy> compiled,
                              std::chrono::steady_clock::duration compile_time) {
  initial_policy_.emplace(
      InitialPolicy{std::move(text), std::move(label), std::move(compiled), compile_time});
}

void Daemon::setReloadHandler(std::function<void()> handler) {
  reload_handler_ = std::move(handler);
}

void Daemon::addTicker(std::chrono::milliseconds period, std::function<void()> fn) {
  tickers_.push_back(std::make_unique<Ticker>(loop_->io, period, std::move(fn)));
}

void Daemon::post(std::function<void()> fn) { boost::asio::post(loop_->io, std::move(fn)); }

void Daemon::armScheduleTimer() {
  loop_->schedule.cancel();
  if (!running_) return;
  auto policy = installedPolicy();
  if (!policy || policy->schedules.empty()) return;
  // A steady timer: were the calendar clock stepped meanwhile, it still fires within
  // kScheduleRecheck, and refreshSchedules() reads the calendar clock afresh.
  loop_->schedule.expires_after(refreshSchedules());
  loop_->schedule.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // cancelled: a new policy re-armed it, or run() is ending
    armScheduleTimer();
  });
}

// The connection limit is counted by muzzled (fw/device/connection_counts.h) when accounting reads
// often enough and the kernel can label a connection with its device; else by the kernel's rule,
// which costs more CPU a new flow. Logged either way, with why, when there is a limit.
Status Daemon::decideWhoCountsConnections() {
  counts_connections_ = config_.countsConnections();
  std::string why = "accounting reads conntrack at least every " +
                    std::to_string(kMaxRecountInterval) + " s and the kernel has conntrack labels";
  std::string what_to_do;
  if (!counts_connections_) {
    why = "accounting is off or reads conntrack less often than every " +
          std::to_string(kMaxRecountInterval) + " s";
    what_to_do = "set devices.accounting_interval_seconds to 1-" +
                 std::to_string(kMaxRecountInterval) +
                 " in muzzled.yaml for muzzled's cheaper count";
  } else {
    auto labels = ruleset_.probeConnectionLabels();
    if (!labels.ok()) return labels.status().withContext("probing nftables: ");
    if (!*labels) {
      counts_connections_ = false;
      judge_.connections().turnOff();  // no queue thread runs yet
      why =
          "the kernel has no conntrack labels (CONFIG_NF_CONNTRACK_LABELS), which muzzled's count "
          "needs to name each connection's device";
      what_to_do = "run a kernel built with CONFIG_NF_CONNTRACK_LABELS=y";
    }
  }
  if (config_.conn_limit == 0) return Status();
  LogLine line("connection-count");
  line.add("by", counts_connections_ ? "muzzled" : "kernel").add("why", why);
  if (!what_to_do.empty()) line.add("what_to_do", what_to_do);
  log_.write(std::move(line));
  return Status();
}

Status Daemon::start() {
  if (idle()) {
    log_.write(
        LogLine("idle")
            .add("why",
                 "no segment is configured; muzzled manages nothing and "
                 "leaves nftables alone")
            .add("what_to_do",
                 "run `muzzlectl setup` (it lists the interfaces and names the segments and the "
                 "uplink), or name them in the config and restart"));
    return Status();
  }
  auto mode = ruleset_.probeQueueMode();
  if (!mode.ok()) return mode.status().withContext("probing nftables: ");
  queue_mode_ = *mode;
  log_.write(LogLine("queue-mode")
                 .add("mode", queueModeName(queue_mode_))
                 .add("why", queue_mode_ == QueueMode::kNative
                                 ? "the kernel has the nft queue expression"
                                 : "no nft queue expression (CONFIG_NFT_QUEUE); using the xtables "
                                   "NFQUEUE target"));
  if (Status s = decideWhoCountsConnections(); !s.ok()) return s;
  Status s = openQueues();
  if (!s.ok()) return s;
  // Before the table: conntrack counts only the connections that begin after it is turned on.
  if (config_.accounting_interval_seconds > 0) {
    startAccounting();
    const ConntrackCounter::Stats stats = ruleset_.accountingStats();
    udp_ends_by_dump_ =
        udpEndsByDumpNext(false, ruleset_.udpTimeoutsOutlive(config_.accounting_interval_seconds),
                          /*dump_skipped=*/stats.untracked > 0, stats.tracked);
  }
  s = loadPolicy(/*initial=*/true);
  if (!s.ok()) return s;
  warnIfBridgesBypass();
  loadInventory();
  countConnectionsAtStart();
  loadLearning();
  addTicker(std::chrono::seconds(60), [this] {
    saveInventory();
    saveLearning();
  });
  addTicker(std::chrono::seconds(1), [this] { expireLearning(); });
  if (config_.accounting_interval_seconds > 0) {
    {
      std::lock_guard<std::mutex> lock(judge_mu_);
      accounting_counters_.on = true;
      accounting_counters_.interval_seconds = config_.accounting_interval_seconds;
      accounting_counters_.room = kMaxFlowGroups;
    }
    addTicker(std::chrono::seconds(config_.accounting_interval_seconds),
              [this] { accountTraffic(); });
  }
  if (config_.flood_rate > 0 || config_.conn_limit > 0 || config_.segment_rate > 0) {
    {
      std::lock_guard<std::mutex> lock(judge_mu_);
      flood_counters_.rate = config_.flood_rate;
      flood_counters_.burst = config_.flood_burst;
      flood_counters_.connections = config_.conn_limit;
      // The Judge's own state, so that the status shows who really counts.
      flood_counters_.conn_counted_by_muzzled = judge_.connections().on();
      flood_counters_.segment_rate = config_.segment_rate;
      flood_counters_.segment_burst = config_.segment_burst;
    }
    addTicker(kFloodReadPeriod, [this] { readFloodGuard(); });
  }
  if (judge_.admission().on()) {
    addTicker(kDeviceFloodReportPeriod, [this] { reportDeviceFlood(); });
  }
  // The events of a stalled queue thread come within a second or so whether or not systemd
  // watches; the watchdog timer checks again before each ping.
  addTicker(kQueueCheckPeriod, [this] { checkQueues(); });

  // The start's passing work (the policy compile, parsing the saved files) leaves free memory
  // between what stays: whole free pages go back to the kernel, once (0.4 MB of the bench's
  // 1,000-device site). Only here: a trim walks every malloc arena under its lock, which a queue
  // thread must not wait on later.
  ::malloc_trim(0);

  std::string segments;
  for (const auto& seg : config_.segments)
    segments += (segments.empty() ? "" : ",") + seg.name + ":" + seg.ifname;
  log_.write(LogLine("ready")
                 .add("generation", generation_)
                 .add("queue_mode", queueModeName(queue_mode_))
                 .add("queues", std::to_string(config_.queue_first) + "-" +
                                    std::to_string(config_.queue_first + config_.queue_count - 1))
                 .add("inspection_queue", config_.queue_first + config_.queue_count)
                 .add("queue_threads", workers_.size())
                 .add("fail_mode", config_.fail_mode == FailMode::kOpen ? "open" : "closed")
                 .add("segments", segments)
                 .add("policy", config_.policy_path));
  return Status();
}

// Flow queues first..first+count-1 carry the first packet of every flow and need only its
// headers; the inspection queue (first+count) carries DNS answers and queries and DHCP requests,
// which are read whole (fw/nft/marks.h, RulesetSpec). One thread and one socket per flow queue,
// and the inspection queue bound on the last flow queue's socket. Not a thread of its own: every
// judgement takes the Judge's one lock, so it judged nothing in parallel; it only added a wake-up
// and a hand-over of that lock for every DNS packet (two per name a device looks up), and a third
// busy thread on a 2-core box next to the kernel's forwarding (the bench's mixed site, a DNS
// look-up every 4th flow, ran 1.3x faster without it). Not a socket of its own on that thread
// either: the thread would wait in poll(2) on both, a system call a wake-up more than waiting
// in the one socket's receive (QueueWorker), and on a box judging flows one at a time, one a
// first packet. A socket takes up to 32 messages a receive whatever their queue (fw/nfq).
Status Daemon::openQueues() {
  std::vector<std::unique_ptr<PacketQueue>> sockets;
  for (uint16_t i = 0; i < config_.queue_count; ++i) {
    QueueOptions qo;
    qo.queues = {QueueBinding{static_cast<uint16_t>(config_.queue_first + i), kHeaderCopyRange}};
    if (i + 1 == config_.queue_count) {
      qo.queues.push_back(QueueBinding{
          static_cast<uint16_t>(config_.queue_first + config_.queue_count), kWholePacketCopyRange});
    }
    auto queue = open_queue_(qo);
    if (!queue.ok()) return queue.status();
    sockets.push_back(std::move(queue).value());
  }
  auto on_failure = [this](const Status& failure) {
    // The socket itself failed: nothing more can be judged on it. Exit so the supervisor
    // restarts us; fail_mode decides what passes meanwhile.
    post([this, failure] {
      log_.write(LogLine("fatal").add("error", failure.message()));
      loop_->exit_code = 1;
      loop_->io.stop();
    });
  };
  for (uint16_t i = 0; i < config_.queue_count; ++i) {
    const std::string name = "muzzle-q" + std::to_string(config_.queue_first + i);
    std::string queues = std::to_string(config_.queue_first + i);
    if (i + 1 == config_.queue_count) queues += "," + std::to_string(config_.queue_first + i + 1);
    workers_.push_back(
        std::make_unique<QueueWorker>(name, std::move(sockets[i]), locked_judge_, on_failure));
    liveness_.watch(name, std::move(queues));
  }
  return Status();
}

bool Daemon::checkQueues() {
  // After run(): the threads are stopped on purpose, and runFor() turns the loop (and the
  // tickers) only for the management plane's last calls.
  if (!running_) return true;
  std::vector<uint64_t> turns;
  turns.reserve(workers_.size());
  for (const auto& worker : workers_) turns.push_back(worker->turns());
  for (LogLine& line : liveness_.check(turns, clock_.now())) log_.write(std::move(line));
  return !liveness_.anyStalled();
}

// Devices on separate ports of a bridge talk without a router; their traffic reaches table
// inet muzzle only when the kernel hands bridged IP traffic to the inet hooks.
void Daemon::warnIfBridgesBypass() {
  auto site = host_.siteFacts(config_.segments);
  if (!site.ok()) return;
  for (const SegmentFacts& seg : site->segments) {
    if (!seg.is_bridge || seg.bridged_traffic_filtered) continue;
    log_.write(LogLine("warning")
                   .add("segment", seg.name)
                   .add("problem", "traffic between devices on bridge " + seg.ifname +
                                       " is not judged (lateral movement passes)")
                   .add("fix",
                        "sysctl net.bridge.bridge-nf-call-iptables=1 "
                        "net.bridge.bridge-nf-call-ip6tables=1, or isolate the bridge ports"));
  }
}

void Daemon::notify(const std::vector<std::pair<std::string, std::string>>& fields) {
  if (notifier_ == nullptr) return;
  Status s = notifier_->notify(formatNotifyState(fields));
  if (!s.ok()) log_.write(LogLine("notify-error").add("error", s.message()));
}

std::string Daemon::statusText() const {
  if (idle()) return "idle: no segment configured; run muzzlectl setup";
  std::string segments;
  for (const auto& seg : config_.segments) {
    segments += (segments.empty() ? "" : ",") + seg.name + ":" + seg.ifname;
  }
  return "enforcing generation " + std::to_string(generation_) + " on " + segments +
         " (queue_mode=" + queueModeName(queue_mode_) + ")";
}

int Daemon::run() {
  Loop& loop = *loop_;
  std::function<void()> wait_signal = [&]() {
    loop.signals.async_wait([&](boost::system::error_code ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        if (reload_handler_) {
          reload_handler_();
        } else {
          reload();
        }
        notify({{"STATUS", statusText()}});
        wait_signal();
        return;
      }
      log_.write(LogLine("stopping").add("signal", signo == SIGTERM ? "SIGTERM" : "SIGINT"));
      loop.io.stop();
    });
  };
  std::function<void()> wait_usr1 = [&]() {
    loop.usr1.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      logCounters("counters");
      wait_usr1();
    });
  };
  // Half the interval systemd asks for, as sd_watchdog_enabled(3) advises: one late wake-up must
  // not cost a restart. The timer runs on the engine thread, so it fires only while the loop
  // turns; and it pings only while every queue thread turns too (checkQueues(), on the counts of
  // now): a queue thread that hangs fills its queue and drops every new flow of its segments,
  // which only a restart ends.
  const auto watchdog_interval =
      notifier_ != nullptr ? notifier_->watchdogInterval() : std::chrono::microseconds(0);
  std::function<void()> wait_watchdog = [&]() {
    loop.watchdog.expires_after(watchdog_interval / 2);
    loop.watchdog.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      if (checkQueues()) notify({{"WATCHDOG", "1"}});
      wait_watchdog();
    });
  };
  for (auto& worker : workers_) {
    Status s = worker->start();
    if (!s.ok()) {
      log_.write(LogLine("fatal").add("error", s.message()));
      return 1;
    }
  }
  wait_signal();
  wait_usr1();
  for (auto& ticker : tickers_) ticker->arm();
  if (watchdog_interval.count() > 0) wait_watchdog();
  running_ = true;
  armScheduleTimer();
  // start() has installed the ruleset and bound the queues (or found nothing to manage).
  notify({{"READY", "1"}, {"STATUS", statusText()}});
  loop.io.run();
  running_ = false;
  loop.schedule.cancel();
  // Their handlers hold references into this frame: runFor() (the management plane draining, or
  // an idle phase's server shutting down after handOver()) must only see them cancelled.
  loop.signals.cancel();
  loop.usr1.cancel();
  loop.watchdog.cancel();
  for (auto& worker : workers_) worker->requestStop();  // their waits end together
  for (auto& worker : workers_) worker->stop();
  if (handed_over_) {
    // The process goes on under another Daemon: systemd must not see a stop, and nothing of
    // this one (an idle daemon: no inventory, no learning) needs saving.
    log_.flush(kStopFlushTimeout);
    return kHandedOver;
  }
  notify({{"STOPPING", "1"}});
  if (!idle()) {
    accountTraffic();  // what was counted since the last interval, into the saved totals
    if (judge_.admission().on()) reportDeviceFlood(/*all=*/true);  // the last refusals' line
    saveInventory();
    saveLearning();
  }
  logCounters("stopped");
  // The last line reaches the log before run() returns; bounded, so a stuck log file cannot
  // keep the management plane from stopping (the EventLog's owner stops it last).
  log_.flush(kStopFlushTimeout);
  return loop.exit_code;
}

void Daemon::handOver() {
  handed_over_ = true;
  loop_->io.stop();
}

void Daemon::runFor(std::chrono::milliseconds d) {
  loop_->io.restart();
  loop_->io.run_for(d);
}

}  // namespace muzzle
