#include "fw/engine/daemon.h"

#include <malloc.h>
#include <signal.h>

#include <cstdio>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "fw/common/atomic_file.h"
#include "fw/common/confined_file.h"
#include "fw/engine/generation_store.h"
#include "fw/policy/policy_loader.h"

namespace muzzle {
namespace {

// How long run() waits, on its way out, for the event log to deliver its last lines.
constexpr auto kStopFlushTimeout = std::chrono::seconds(5);

// Milliseconds with one decimal: a reload of a big policy is tens of ms, a small one well under 1.
std::string millisText(std::chrono::steady_clock::duration d) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f", std::chrono::duration<double, std::milli>(d).count());
  return text;
}

// The kernel's counters for the daemon's queues: the flow queues and the inspection queue after
// them. None while no queue is bound (an idle daemon).
Result<std::vector<KernelQueueStats>> kernelQueuesOf(HostInfo& host, const DaemonConfig& config, bool bound) {
  if (!bound) return std::vector<KernelQueueStats>{};
  return host.kernelQueues(config.queue_first, static_cast<uint16_t>(config.queue_count + 1));
}

}  // namespace

struct Daemon::Loop {
  boost::asio::io_context io;
  boost::asio::signal_set signals{io, SIGHUP, SIGTERM, SIGINT};
  boost::asio::signal_set usr1{io, SIGUSR1};
  boost::asio::steady_timer watchdog{io};
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
               EventLog& log, const Clock& clock)
    : config_(std::move(config)),
      ruleset_(ruleset),
      host_(host),
      open_queue_(open_queue),
      log_(log),
      clock_(clock),
      oui_(loadOui()),
      judge_(log, clock, host, &oui_),
      generations_(config_.state_dir),
      loop_(std::make_unique<Loop>()) {
  judge_.devices().bindings().setHold(std::chrono::seconds(config_.address_hold_seconds));
  // Called on a queue thread; the new generation is installed on the engine thread. Verdicts
  // already batched keep their (old) generation and are simply judged once more.
  judge_.onReassigned([this] {
    if (rejudge_pending_.exchange(true)) return;
    post([this] { rejudgeAll(); });
  });
}

OuiDatabase Daemon::loadOui() {
  auto db = OuiDatabase::load();
  return db.ok() ? std::move(db).value() : OuiDatabase();
}

RulesetSpec Daemon::specFor(const CompiledPolicy& policy, uint32_t generation) const {
  RulesetSpec spec;
  spec.generation = generation;
  for (const auto& seg : config_.segments) spec.segment_ifnames.push_back(seg.ifname);
  spec.queue_first = config_.queue_first;
  spec.queue_count = config_.queue_count;
  spec.fail_open = config_.fail_mode == FailMode::kOpen;
  spec.queue_mode = queue_mode_;
  spec.doh = policy.dns.doh_cidrs;
  return spec;
}

void Daemon::rejudgeAll() {
  rejudge_pending_ = false;
  auto policy = installedPolicy();
  const GenerationChoice generation = generations_.advance(policy->digest);
  reportGeneration(generation);
  Status s;
  {
    // Under the judge's lock: no packet is judged between the kernel's switch to the new
    // generation and the Judge's, so none is answered with a mark the kernel no longer honours.
    std::lock_guard<std::mutex> lock(judge_mu_);
    s = ruleset_.install(specFor(*policy, generation.generation));
    if (s.ok()) judge_.setPolicy(policy, generation.generation);
  }
  if (!s.ok()) {
    log_.write(LogLine("rejudge-failed").add("error", s.message()).add("kept_generation", generation_));
    return;
  }
  generation_ = generation.generation;
  log_.write(LogLine("rejudge").add("generation", generation_).add("why", "a device moved to another profile"));
}

void Daemon::reportGeneration(const GenerationChoice& choice) {
  if (!choice.damaged.empty()) {
    log_.write(
        LogLine("state-damaged")
            .add("file", generations_.path())
            .add("problem", choice.damaged)
            .add("kept_as", choice.kept_as)
            .add("generation", choice.generation)
            .add("what", "a fresh generation: every flow is judged again on its next packet"));
    if (state_report_ != nullptr) {
      state_report_->add({StateProblem::Kind::kDamaged, generations_.path(),
                          choice.damaged + "; a fresh generation " +
                              std::to_string(choice.generation) + " was chosen",
                          choice.kept_as});
    }
  }
  if (choice.write_error.empty()) {
    generation_unwritable_ = false;
    return;
  }
  if (state_report_ != nullptr) {
    state_report_->add({StateProblem::Kind::kUnwritable, generations_.path(),
                        choice.write_error + "; generation " + std::to_string(choice.generation) +
                            " is kept in memory only",
                        ""});
  }
  if (generation_unwritable_) return;  // said once until it can be stored again
  generation_unwritable_ = true;
  log_.write(LogLine("state-unwritable")
                 .add("file", generations_.path())
                 .add("error", choice.write_error)
                 .add("generation", choice.generation)
                 .add("what", "enforcing with the generation kept in memory")
                 .add("what_to_do",
                      "make state_dir " + config_.state_dir + " writable and give it free space"));
}

void Daemon::loadInventory() {
  auto bytes = readRegularFile(config_.state_dir + "/inventory.pb");
  if (!bytes.ok()) {
    if (bytes.status().code() != StatusCode::kNotFound) {
      log_.write(LogLine("warning").add("problem", bytes.status().message()).add("fix", "the inventory starts empty"));
    }
    return;
  }
  std::lock_guard<std::mutex> lock(judge_mu_);
  Status s = judge_.devices().load(*bytes);
  if (!s.ok()) log_.write(LogLine("warning").add("problem", "inventory: " + s.message()));
  log_.write(LogLine("inventory-loaded").add("devices", judge_.devices().size()).add("aged_out", judge_.devices().agedOut()).add("oui_blocks", oui_.size()).add("addresses_bound", judge_.devices().bindings().size()));
}

void Daemon::saveInventory() {
  std::string bytes;
  {
    std::lock_guard<std::mutex> lock(judge_mu_);
    bytes = judge_.devices().serialize();
  }
  Status s = writeFileAtomically(config_.state_dir, "inventory.pb", bytes);
  if (!s.ok()) log_.writeLimited(LogLine("warning").add("problem", "saving the inventory: " + s.message()));
}

Daemon::~Daemon() {
  workers_.clear();  // stops the queue threads before anything they use goes away
  tickers_.clear();
}

std::vector<v1::DeviceRecord> Daemon::devicesSeen() const {
  std::vector<v1::DeviceRecord> out;
  std::lock_guard<std::mutex> lock(judge_mu_);
  judge_.devices().forEach([&](const v1::DeviceRecord& r) { out.push_back(r); });
  return out;
}

QueueCounters Daemon::queueCounters() const {
  QueueCounters sum;
  for (const auto& w : workers_) sum += w->counters();
  return sum;
}

void Daemon::setInitialPolicy(std::string text, std::string label) {
  initial_policy_.emplace(std::move(text), std::move(label));
}

void Daemon::setReloadHandler(std::function<void()> handler) { reload_handler_ = std::move(handler); }

void Daemon::addTicker(std::chrono::milliseconds period, std::function<void()> fn) {
  tickers_.push_back(std::make_unique<Ticker>(loop_->io, period, std::move(fn)));
}

void Daemon::post(std::function<void()> fn) { boost::asio::post(loop_->io, std::move(fn)); }

Result<PolicyContext> Daemon::policyContext() {
  auto site = host_.siteFacts(config_.segments);
  if (!site.ok()) return site.status();
  PolicyContext context;
  context.site = std::move(site).value();
  // Lists the policy names live next to the configured policy file, or among the shipped ones.
  const std::string& path = config_.policy_path;
  const size_t slash = path.rfind('/');
  context.folders = PolicyFolders{slash == std::string::npos ? "."
                                  : slash == 0                ? "/"
                                                              : path.substr(0, slash),
                                  config_.shipped_policies_dir};
  return context;
}

PolicyCompileResult Daemon::compilePolicy(std::string_view text, std::string_view label,
                                          const PolicyContext& context) const {
  return compilePolicyText(text, label, context.site, context.folders)
      .withCode(StatusCode::kInvalidArgument);
}

Result<uint32_t> Daemon::applyPolicyText(std::string_view text, std::string_view label) {
  const auto compile_start = clock_.now();
  auto compiled = checkPolicyText(text, label);
  if (!compiled.ok()) return compiled.status();
  return applyPolicy(std::move(compiled).value(), clock_.now() - compile_start);
}

Result<uint32_t> Daemon::applyPolicy(std::shared_ptr<const CompiledPolicy> policy,
                                     std::chrono::steady_clock::duration compile_time) {
  Status s = install(std::move(policy), /*initial=*/false, compile_time);
  if (!s.ok()) return s;
  return generation_;
}

EngineStatus Daemon::engineStatus() const {
  EngineStatus st;
  st.generation = generation_;
  st.queue_mode = queue_mode_;
  st.fail_mode = config_.fail_mode;
  st.queue_first = config_.queue_first;
  st.queue_count = config_.queue_count;
  {
    std::lock_guard<std::mutex> lock(judge_mu_);
    st.judge = judge_.counters();
    if (judge_.policy()) st.policy_digest = judge_.policy()->digest;
  }
  st.queue = queueCounters();
  auto kernel = kernelQueuesOf(host_, config_, !workers_.empty());
  if (kernel.ok()) {
    st.kernel_queues = std::move(kernel).value();
    st.kernel = sumKernelQueueStats(st.kernel_queues);
  } else {
    st.kernel_error = kernel.status().message();
  }
  st.log_suppressed = log_.suppressed();
  st.events_dropped = log_.dropped();
  return st;
}

Status Daemon::start() {
  if (idle()) {
    log_.write(LogLine("idle").add("why", "no segment is configured; muzzled manages nothing and "
                                          "leaves nftables alone")
                   .add("what_to_do", "name segments, uplink and policy in the config, then restart"));
    return Status();
  }
  auto mode = ruleset_.probeQueueMode();
  if (!mode.ok()) return mode.status().withContext("probing nftables: ");
  queue_mode_ = *mode;
  log_.write(LogLine("queue-mode").add("mode", queueModeName(queue_mode_))
                 .add("why", queue_mode_ == QueueMode::kNative ? "the kernel has the nft queue expression"
                                                              : "no nft queue expression (CONFIG_NFT_QUEUE); using the xtables NFQUEUE target"));
  Status s = openQueues();
  if (!s.ok()) return s;
  s = loadPolicy(/*initial=*/true);
  if (!s.ok()) return s;
  warnIfBridgesBypass();
  loadInventory();
  addTicker(std::chrono::seconds(60), [this] { saveInventory(); });

  std::string segments;
  for (const auto& seg : config_.segments) segments += (segments.empty() ? "" : ",") + seg.name + ":" + seg.ifname;
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
// headers; the inspection queue (first+count) carries DNS answers and DHCP requests, which are
// read whole (fw/nft/marks.h, RulesetSpec). One socket and one thread per queue: a flow queue's
// socket takes its small messages in bursts (fw/nfq), and a burst of flows never waits behind a
// large DNS answer.
Status Daemon::openQueues() {
  for (uint16_t i = 0; i <= config_.queue_count; ++i) {
    const bool inspection = i == config_.queue_count;
    const auto number = static_cast<uint16_t>(config_.queue_first + i);
    QueueOptions qo;
    qo.fail_open = config_.fail_mode == FailMode::kOpen;
    qo.queues = {QueueBinding{number, inspection ? kWholePacketCopyRange : kHeaderCopyRange}};
    auto queue = open_queue_(qo);
    if (!queue.ok()) return queue.status();
    workers_.push_back(std::make_unique<QueueWorker>(
        inspection ? "muzzle-inspect" : "muzzle-q" + std::to_string(number), std::move(queue).value(), locked_judge_,
        [this](const Status& failure) {
          // The socket itself failed: nothing more can be judged on it. Exit so the supervisor
          // restarts us; fail_mode decides what passes meanwhile.
          post([this, failure] {
            log_.write(LogLine("fatal").add("error", failure.message()));
            loop_->exit_code = 1;
            loop_->io.stop();
          });
        }));
  }
  return Status();
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
                   .add("fix", "sysctl net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1, or isolate the bridge ports"));
  }
}

Status Daemon::loadPolicy(bool initial) {
  const auto compile_start = clock_.now();
  if (initial && initial_policy_) {
    auto compiled = checkPolicyText(initial_policy_->first, initial_policy_->second);
    if (!compiled.ok()) return compiled.status();
    return install(std::move(compiled).value(), initial, clock_.now() - compile_start);
  }
  auto site = host_.siteFacts(config_.segments);
  if (!site.ok()) return site.status();
  auto compiled = compilePolicyFile(config_.policy_path, *site, config_.shipped_policies_dir);
  if (!compiled.ok()) return compiled.status();
  return install(std::move(compiled).value(), initial, clock_.now() - compile_start);
}

Status Daemon::install(std::shared_ptr<const CompiledPolicy> compiled, bool initial,
                       std::chrono::steady_clock::duration compile_time) {
  // Never fails: a damaged or unwritable state folder must not leave the segments unprotected.
  const GenerationChoice choice = generations_.generationFor(compiled->digest);
  reportGeneration(choice);
  const uint32_t generation = choice.generation;
  if (!initial && generation == generation_) {
    std::lock_guard<std::mutex> lock(judge_mu_);
    judge_.setPolicy(compiled, generation_);
    log_.write(LogLine("policy-unchanged").add("generation", generation_));
    return Status();
  }
  const auto install_start = clock_.now();
  // Taken out of the Judge under the lock and destroyed after it: freeing a large policy takes
  // milliseconds the queue threads need not wait for.
  std::shared_ptr<const CompiledPolicy> previous;
  {
    // The kernel honours only marks of the new generation once the batch is in; every flow is
    // judged again on its next packet, against the policy swapped in here. The queue threads
    // wait on the lock meanwhile (the packets wait in the kernel's queues, none is lost), so no
    // packet gets a mark of the generation the kernel just stopped honouring.
    std::lock_guard<std::mutex> lock(judge_mu_);
    Status s = ruleset_.install(specFor(*compiled, generation));
    if (!s.ok()) return s;
    previous = judge_.policy();
    judge_.setPolicy(compiled, generation);
  }
  const auto swapped = clock_.now();
  previous.reset();
  const CompiledPolicy& p = *compiled;
  log_.write(LogLine(initial ? "policy-loaded" : "policy-reloaded")
                 .add("generation", generation)
                 .add("profiles", p.profiles.size())
                 .add("devices", p.devices.size())
                 .add("digest", p.digest.substr(0, 16))
                 // compile: read, validate, compile, pick the generation; install: the ruleset
                 // batch and the swap of the judge's policy (tests/bench measures both).
                 .add("compile_ms", millisText(compile_time))
                 .add("install_ms", millisText(swapped - install_start)));
  generation_ = generation;
  // Parsing a large policy churns the heap (YAML tree, JSON text, the old policy); glibc keeps
  // freed memory mapped unless asked. A gateway has little RAM: give it back.
  malloc_trim(0);
  return Status();
}

Status Daemon::reload() {
  if (idle()) {
    log_.write(LogLine("policy-unchanged").add("why", "idle: no segment is configured"));
    return Status();
  }
  Status s = loadPolicy(/*initial=*/false);
  if (!s.ok()) {
    log_.write(LogLine("policy-error").add("error", s.message()).add("kept_generation", generation_));
  }
  return s;
}

void Daemon::logCounters(const char* event) {
  // What the kernel dropped before we saw it: queue full (queue_dropped), socket full
  // (user_dropped). Read before taking the judge's lock.
  auto kernel = kernelQueuesOf(host_, config_, !workers_.empty());
  const KernelQueueTotals k = kernel.ok() ? sumKernelQueueStats(*kernel) : KernelQueueTotals{};
  const QueueCounters q = queueCounters();
  LogLine line(event);
  {
    // Copied out under the lock, written after it: the queue threads wait for it per packet.
    std::lock_guard<std::mutex> lock(judge_mu_);
    const JudgeCounters& j = judge_.counters();
    line.add("packets", j.packets)
        .add("allowed", j.allowed)
        .add("rejected", j.rejected)
        .add("dropped", j.dropped)
        .add("malformed", j.malformed)
        .add("new_devices", j.new_devices)
        .add("devices_known", judge_.devices().size())
        .add("device_evictions", judge_.devices().evictions())
        .add("dhcp_requests", j.dhcp_requests)
        .add("dhcp_malformed", j.dhcp_malformed)
        .add("reassigned", j.reassigned)
        .add("reassign_limited", j.reassign_limited)
        .add("dhcp_mac_mismatch", j.dhcp_mac_mismatch)
        .add("dhcp_leases", j.dhcp_leases)
        .add("spoofed", j.spoofed)
        .add("addresses_bound", judge_.devices().bindings().size())
        .add("addresses_moved", j.addresses_moved)
        .add("bindings_full", judge_.devices().bindings().counters().full)
        .add("dns_answers", j.dns_answers)
        .add("dns_learned", j.dns_learned)
        .add("dns_malformed", j.dns_malformed)
        .add("dns_queries", judge_.dnsFlows().counters().queries)
        .add("dns_unsolicited", j.dns_unsolicited)
        .add("dns_questions", judge_.dnsFlows().questions().size())
        .add("dns_question_evictions", judge_.dnsFlows().questions().evictions())
        .add("dns_questions_expired", judge_.dnsFlows().questions().expired())
        .add("dns_tcp_streams", judge_.dnsFlows().streams().size())
        .add("dns_tcp_stream_evictions", judge_.dnsFlows().streams().counters().evictions)
        .add("dns_tcp_reassembled", judge_.dnsFlows().streams().counters().reassembled)
        .add("dns_tcp_unread", judge_.dnsFlows().streams().counters().untracked +
                                   judge_.dnsFlows().streams().counters().messages_skipped)
        .add("dns_tcp_lost", judge_.dnsFlows().streams().counters().lost)
        .add("dns_answers_dropped", j.dns_answers_dropped)
        .add("dns_bypass", j.dns_bypass)
        .add("no_dns", j.no_dns)
        .add("name_cache_entries", judge_.names().entryCount())
        .add("name_cache_devices", judge_.names().deviceCount())
        .add("name_cache_evictions", judge_.names().evictions())
        .add("name_cache_bytes_approx", judge_.names().entryCount() * NameCache::approxBytesPerEntry())
        .add("verdicts_sent", q.verdicts_sent)
        .add("verdict_batches", q.send_batches)
        .add("socket_overruns", q.enobufs)
        .add("kernel_waiting", k.waiting)
        .add("kernel_queue_dropped", k.queue_dropped)
        .add("kernel_user_dropped", k.user_dropped)
        .add("log_suppressed", log_.suppressed())
        .add("events_dropped", log_.dropped());
  }
  if (!kernel.ok()) line.add("kernel_counters_error", kernel.status().message());
  log_.write(std::move(line));
}

void Daemon::notify(const std::vector<std::pair<std::string, std::string>>& fields) {
  if (notifier_ == nullptr) return;
  Status s = notifier_->notify(formatNotifyState(fields));
  if (!s.ok()) log_.write(LogLine("notify-error").add("error", s.message()));
}

std::string Daemon::statusText() const {
  if (idle()) return "idle: no segment configured";
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
  // not cost a restart. The timer runs on the engine thread, so it fires only while the loop turns.
  const auto watchdog_interval =
      notifier_ != nullptr ? notifier_->watchdogInterval() : std::chrono::microseconds(0);
  std::function<void()> wait_watchdog = [&]() {
    loop.watchdog.expires_after(watchdog_interval / 2);
    loop.watchdog.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      notify({{"WATCHDOG", "1"}});
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
  // start() has installed the ruleset and bound the queues (or found nothing to manage).
  notify({{"READY", "1"}, {"STATUS", statusText()}});
  loop.io.run();
  for (auto& worker : workers_) worker->stop();
  notify({{"STOPPING", "1"}});
  if (!idle()) saveInventory();
  logCounters("stopped");
  // The last line reaches the log before run() returns; bounded, so a stuck log file cannot
  // keep the management plane from stopping (the EventLog's owner stops it last).
  log_.flush(kStopFlushTimeout);
  return loop.exit_code;
}

void Daemon::runFor(std::chrono::milliseconds d) {
  loop_->io.restart();
  loop_->io.run_for(d);
}

}  // namespace muzzle
