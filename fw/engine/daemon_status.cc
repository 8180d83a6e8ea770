// What the Daemon reports (fw/engine/daemon.h): the status the management plane reads, the
// counters line (SIGUSR1, on stopping) and the devices seen. Everything is copied out under the
// Judge's lock and formatted after it: the queue threads wait for that lock per packet.
#include "fw/common/excerpt.h"
#include "fw/engine/daemon.h"

namespace muzzle {
namespace {

// The kernel's counters for the daemon's queues: the flow queues and the inspection queue after
// them. None while no queue is bound (an idle daemon).
Result<std::vector<KernelQueueStats>> kernelQueuesOf(HostInfo& host, const DaemonConfig& config,
                                                     bool bound) {
  if (!bound) return std::vector<KernelQueueStats>{};
  return host.kernelQueues(config.queue_first, static_cast<uint16_t>(config.queue_count + 1));
}

// The lines of one read of a guard's drops (`grown`, sorted most first): one `event` line for each
// of the `most` that dropped most (`describe` names the element), then one that sums the rest
// under `others` (their number); every line says what they were held to (`add_limits`).
template <typename Growth, typename Describe, typename Limits>
void appendDropLines(const char* event, const std::vector<Growth>& grown, size_t most,
                     const char* others, Describe describe, Limits add_limits,
                     std::vector<LogLine>* lines) {
  uint64_t rest = 0;
  for (size_t i = 0; i < grown.size(); ++i) {
    if (i >= most) {
      rest += grown[i].dropped;
      continue;
    }
    LogLine line(event);
    describe(grown[i], line);
    line.add("dropped", grown[i].dropped);
    add_limits(line);
    lines->push_back(std::move(line));
  }
  if (grown.size() > most) {
    LogLine line(event);
    line.add(others, grown.size() - most).add("dropped", rest);
    add_limits(line);
    lines->push_back(std::move(line));
  }
}

// Adds a guard's read problem to the others of the same read.
void addProblem(std::string* failed, const std::string& problem) {
  if (!problem.empty()) *failed += (failed->empty() ? "" : "; ") + problem;
}

}  // namespace

std::vector<DeviceRecord> Daemon::devicesSeen() const {
  std::vector<DeviceRecord> out;
  std::lock_guard<std::mutex> lock(judge_mu_);
  const FlowRecorder& learning = judge_.learning();
  const ConnectionCounts& connections = judge_.connections();
  judge_.devices().forEach([&](const DeviceRecord& r) {
    out.push_back(r);
    out.back().connections = connections.count(r.mac);
    if (learning.observing(r.mac)) {
      out.back().learning = "observe";
    } else if (learning.learning(r.mac)) {
      out.back().learning = "learning";
    }
  });
  return out;
}

QueueCounters Daemon::queueCounters() const {
  QueueCounters sum;
  for (const auto& w : workers_) sum += w->counters();
  return sum;
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
    st.devices_known = judge_.devices().size();
    if (const DeviceAdmission& a = judge_.admission(); a.on()) {
      st.admission.per_minute = a.limits().per_minute;
      st.admission.burst = a.limits().burst;
      st.admission.refused = a.refused();
      st.admission.segments = a.status();
    }
    st.name_cache_entries = judge_.names().entryCount();
    st.accounting = accounting_counters_;
    st.flood_guard = flood_counters_;
  }
  st.queue = queueCounters();
  st.queue_stalls = liveness_.stalls();
  st.queue_threads_stalled = liveness_.stalledNow();
  auto kernel = kernelQueuesOf(host_, config_, !workers_.empty());
  if (kernel.ok()) {
    st.kernel_queues = std::move(kernel).value();
    st.kernel = sumKernelQueueStats(st.kernel_queues);
  } else {
    st.kernel_error = kernel.status().message();
  }
  if (!workers_.empty()) {
    Result<ConntrackTableStats> table = host_.conntrackTable();
    if (table.ok()) {
      st.conntrack = table.value();
    } else {
      st.conntrack_error = table.status().message();
    }
  }
  st.log_suppressed = log_.suppressed();
  st.events_dropped = log_.dropped();
  return st;
}

void Daemon::logCounters(const char* event) {
  // What the kernel dropped before we saw it: queue full (queue_dropped), socket full
  // (user_dropped). Read before taking the judge's lock.
  auto kernel = kernelQueuesOf(host_, config_, !workers_.empty());
  const KernelQueueTotals k = kernel.ok() ? sumKernelQueueStats(*kernel) : KernelQueueTotals{};
  const QueueCounters q = queueCounters();
  const Result<ConntrackTableStats> table = workers_.empty()
                                                ? Result<ConntrackTableStats>(ConntrackTableStats{})
                                                : host_.conntrackTable();
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
        .add("devices_refused", j.devices_refused)
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
        .add("dns_answers_read_only", j.dns_answers_read_only)
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
        .add("name_cache_bytes_approx",
             judge_.names().entryCount() * NameCache::approxBytesPerEntry())
        .add("verdicts_sent", q.verdicts_sent)
        .add("verdict_batches", q.send_batches)
        .add("socket_overruns", q.enobufs)
        .add("queue_stalls", liveness_.stalls())
        .add("kernel_waiting", k.waiting)
        .add("kernel_queue_dropped", k.queue_dropped)
        .add("kernel_user_dropped", k.user_dropped)
        .add("conntrack_entries", table.ok() ? table->entries : 0)
        .add("conntrack_max", table.ok() ? table->max : 0)
        .add("conntrack_early_drops", table.ok() ? table->early_drops : 0)
        .add("conntrack_drops", table.ok() ? table->drops : 0)
        .add("log_suppressed", log_.suppressed())
        .add("events_dropped", log_.dropped())
        .add("flood_guard_dropped", flood_counters_.dropped)
        .add("connection_limit_dropped", flood_counters_.conn_dropped)
        .add("segment_guard_dropped", flood_counters_.segment_dropped);
  }
  if (!kernel.ok()) line.add("kernel_counters_error", kernel.status().message());
  if (!table.ok()) line.add("conntrack_error", table.status().message());
  log_.write(std::move(line));
}

void Daemon::reportDeviceFlood(bool all) {
  std::vector<LogLine> lines;
  {
    std::lock_guard<std::mutex> lock(judge_mu_);
    lines = judge_.deviceFloodLines(all);
  }
  // write(), not writeLimited(): the admission already limits them to one line per segment every
  // few seconds, and the line that says a flood is on must not be crowded out by the flood's
  // own deny lines.
  for (LogLine& line : lines) log_.write(std::move(line));
}

void Daemon::readFloodGuard() {
  std::vector<LogLine> lines;
  std::string failed;
  for (const DeviceDropCause cause :
       {DeviceDropCause::kFloodGuard, DeviceDropCause::kConnectionLimit}) {
    addProblem(&failed, readDeviceDrops(cause, &lines));
  }
  addProblem(&failed, readSegmentDrops(&lines));
  {
    std::lock_guard<std::mutex> lock(judge_mu_);
    ++flood_counters_.reads;
    if (!failed.empty()) {
      ++flood_counters_.read_errors;
      // Logged once per cause, not every read: the kernel drops all the same.
      if (flood_counters_.last_error != failed) {
        lines.push_back(LogLine("flood-guard-error").add("error", failed));
      }
    }
    flood_counters_.last_error = failed;
  }
  for (LogLine& line : lines) log_.write(std::move(line));
}

std::string Daemon::readDeviceDrops(DeviceDropCause cause, std::vector<LogLine>* lines) {
  const bool guard = cause == DeviceDropCause::kFloodGuard;
  if ((guard ? config_.flood_rate : config_.conn_limit) == 0) return "";
  Result<std::vector<FloodDropCount>> counts = std::vector<FloodDropCount>{};
  if (!guard && counts_connections_) {
    // muzzled's own count refused them (fw/device/connection_counts.h), not the kernel.
    std::lock_guard<std::mutex> lock(judge_mu_);
    for (const ConnectionCounts::Refusals& r : judge_.connections().refusals()) {
      counts->push_back({r.device, r.refused});
    }
  } else {
    counts = ruleset_.readFloodDrops(cause);
  }
  if (!counts.ok()) return counts.status().message();
  FloodDrops& drops = guard ? flood_drops_ : conn_limit_drops_;
  const std::vector<FloodDrops::Growth> grown = drops.update(std::move(*counts));
  const char* event = guard ? "flood-guard" : "connection-limit";
  // What the device was held to, on each line.
  const auto add_limits = [&](LogLine& line) {
    if (guard) {
      line.add("rate", config_.flood_rate).add("burst", config_.flood_burst);
    } else {
      line.add("limit", config_.conn_limit);
    }
  };
  // The devices' names, and the sums, under the lock; the lines are written after it.
  std::lock_guard<std::mutex> lock(judge_mu_);
  (guard ? flood_counters_.dropped : flood_counters_.conn_dropped) = drops.dropped();
  (guard ? flood_counters_.devices : flood_counters_.conn_devices) = drops.devices();
  const auto describe = [&](const FloodDrops::Growth& g, LogLine& line) {
    line.add("device", g.device.toString());
    if (const DeviceRecord* d = judge_.devices().find(g.device); d != nullptr) {
      if (!d->name.empty()) line.add("name", d->name.view());
      if (!d->profile.empty()) line.add("profile", d->profile.view());
    }
  };
  appendDropLines(event, grown, kMaxFloodLines, "other_devices", describe, add_limits, lines);
  return "";
}

std::string Daemon::segmentOf(const std::string& interface) const {
  for (const DaemonSegment& seg : config_.segments) {
    if (seg.ifname == interface) return seg.name;
  }
  for (const std::string& uplink : config_.uplinks) {
    if (uplink == interface) return "uplink";
  }
  return "other";
}

std::string Daemon::readSegmentDrops(std::vector<LogLine>* lines) {
  if (config_.segment_rate == 0) return "";
  Result<std::vector<SegmentDropCount>> counts = ruleset_.readSegmentDrops();
  if (!counts.ok()) return counts.status().message();
  const std::vector<SegmentDrops::Growth> grown = segment_drops_.update(std::move(*counts));
  // Interface names are the kernel's, of any byte but '/', ':' and white space: escaped wherever
  // they are shown (a line, a proto string, a label).
  std::vector<SegmentGuardTotal> totals;
  for (const SegmentDrops::Total& t : segment_drops_.totals()) {
    totals.push_back({segmentOf(t.interface), excerpt(t.interface), t.dropped});
  }
  const auto add_limits = [&](LogLine& line) {
    line.add("rate", config_.segment_rate).add("burst", config_.segment_burst);
  };
  const auto describe = [&](const SegmentDrops::Growth& g, LogLine& line) {
    line.add("segment", segmentOf(g.interface)).add("interface", excerpt(g.interface));
  };
  appendDropLines("segment-guard", grown, kMaxFloodLines, "other_interfaces", describe, add_limits,
                  lines);
  std::lock_guard<std::mutex> lock(judge_mu_);
  flood_counters_.segment_dropped = segment_drops_.dropped();
  flood_counters_.segments = segment_drops_.interfaces();
  flood_counters_.segment_totals = std::move(totals);
  return "";
}

}  // namespace muzzle
