#include "mgmt/server/metrics_text.h"

#include <algorithm>
#include <initializer_list>
#include <tuple>
#include <utility>

#include "fw/common/utf8.h"

namespace muzzle {
namespace {

class Writer {
 public:
  using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;  // our own text: no backslash or line feed to escape
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(std::string_view name, uint64_t value, Labels labels = {}) {
    out_ += name;
    if (labels.size() > 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [key, raw] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += key;
        out_ += "=\"";
        out_ += escapeLabelValue(raw);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += std::to_string(value);
    out_ += '\n';
  }
  // A family of one sample without labels.
  void single(std::string_view name, std::string_view type, std::string_view help, uint64_t value) {
    family(name, type, help);
    sample(name, value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string escapeLabelValue(std::string_view raw) {
  std::string out;
  out.reserve(std::min(raw.size(), kMaxLabelBytes) + 8);
  size_t used = 0;  // bytes of `raw` kept, counted before escaping
  while (!raw.empty()) {
    const size_t n = utf8SequenceLength(raw);
    if (used + std::max<size_t>(n, 1) > kMaxLabelBytes) break;  // never half a character
    used += std::max<size_t>(n, 1);
    if (n == 0) {
      out += '?';
      raw.remove_prefix(1);
      continue;
    }
    switch (raw[0]) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.append(raw.substr(0, n));
    }
    raw.remove_prefix(n);
  }
  return out;
}

MetricsSnapshot metricsSnapshotOf(std::string version, EngineStatus status,
                                  const std::vector<DeviceRecord>& devices,
                                  const CompiledPolicy* policy, uint64_t policy_revision,
                                  bool commit_pending) {
  MetricsSnapshot s;
  s.version = std::move(version);
  s.engine = std::move(status);
  s.policy_revision = policy_revision;
  s.commit_pending = commit_pending;
  std::vector<const DeviceRecord*> order;
  order.reserve(devices.size());
  for (const DeviceRecord& d : devices) order.push_back(&d);
  std::sort(order.begin(), order.end(), [](const DeviceRecord* a, const DeviceRecord* b) {
    return a->mac.value < b->mac.value;
  });
  const size_t kept = std::min(order.size(), kMaxDeviceSeries);
  s.devices_omitted = order.size() - kept;
  s.devices.reserve(kept);
  for (size_t i = 0; i < kept; ++i) {
    const DeviceRecord& d = *order[i];
    const int listed = policy != nullptr ? policy->deviceByMac(d.mac) : -1;
    std::string name =
        listed >= 0 ? policy->devices[static_cast<size_t>(listed)].name : d.name.str();
    if (name.empty()) name = d.dhcp_hostname.str();
    s.devices.push_back(MetricsDevice{d.mac.toString(), std::move(name), d.profile.str(),
                                      d.segment.str(), d.allowed_flows, d.denied_flows,
                                      d.connections, d.upload, d.download});
  }
  return s;
}

std::string renderMetrics(const MetricsSnapshot& s) {
  const EngineStatus& e = s.engine;
  const JudgeCounters& j = e.judge;
  Writer w;
  w.family("muzzle_build_info", "gauge", "Always 1; the labels say which muzzled this is.");
  w.sample("muzzle_build_info", 1, {{"version", s.version}});

  w.single("muzzle_packets_judged_total", "counter",
           "Packets muzzled judged in user space (first packets of flows, DNS, DHCP).", j.packets);
  w.family("muzzle_verdicts_total", "counter", "Verdicts given, by verdict.");
  w.sample("muzzle_verdicts_total", j.allowed, {{"verdict", "allowed"}});
  w.sample("muzzle_verdicts_total", j.rejected, {{"verdict", "rejected"}});
  w.sample("muzzle_verdicts_total", j.dropped, {{"verdict", "dropped"}});
  w.family("muzzle_refusals_total", "counter",
           "Packets refused or passed unlearned for a reason other than the policy's rules.");
  w.sample("muzzle_refusals_total", j.malformed, {{"reason", "malformed"}});
  w.sample("muzzle_refusals_total", j.spoofed, {{"reason", "spoofed"}});
  w.sample("muzzle_refusals_total", j.dns_bypass, {{"reason", "dns-bypass"}});
  w.sample("muzzle_refusals_total", j.dns_answers_dropped, {{"reason", "dns-answer-not-allowed"}});
  w.sample("muzzle_refusals_total", j.dns_malformed, {{"reason", "dns-malformed"}});
  w.sample("muzzle_refusals_total", j.dhcp_malformed, {{"reason", "dhcp-malformed"}});

  w.single("muzzle_queue_verdicts_sent_total", "counter", "Verdicts sent to the kernel.",
           e.queue.verdicts_sent);
  w.single("muzzle_queue_verdict_batches_total", "counter",
           "Netlink messages that carried verdicts.", e.queue.send_batches);
  w.single("muzzle_queue_socket_overruns_total", "counter",
           "Times the kernel found muzzled's queue socket full (ENOBUFS).", e.queue.enobufs);
  w.single("muzzle_queue_stalls_total", "counter",
           "Times a queue thread went 5 s without a turn (event=queue-stalled).", e.queue_stalls);
  w.single("muzzle_queue_threads_stalled", "gauge",
           "Queue threads stalled now: systemd's watchdog is not pinged, so muzzled restarts.",
           e.queue_threads_stalled);
  w.single("muzzle_kernel_counters_ok", "gauge",
           "1 when the kernel's queue counters could be read (else the two below are 0).",
           e.kernel_error.empty() ? 1 : 0);
  w.single("muzzle_kernel_queue_waiting", "gauge",
           "Packets waiting in the kernel's queues for a verdict now.", e.kernel.waiting);
  w.family("muzzle_kernel_queue_dropped_total", "counter",
           "Packets the kernel dropped before muzzled saw them, by cause.");
  w.sample("muzzle_kernel_queue_dropped_total", e.kernel.queue_dropped, {{"cause", "queue-full"}});
  w.sample("muzzle_kernel_queue_dropped_total", e.kernel.user_dropped, {{"cause", "socket-full"}});
  // The connection table, while the box enforces (fw/nft/conntrack_table.h).
  if (e.conntrack || !e.conntrack_error.empty()) {
    const ConntrackTableStats ct = e.conntrack.value_or(ConntrackTableStats{});
    w.single("muzzle_conntrack_ok", "gauge",
             "1 when the kernel's connection table could be read (else the four below are 0).",
             e.conntrack ? 1 : 0);
    w.single("muzzle_conntrack_entries", "gauge",
             "Connections in the kernel's connection table now.", ct.entries);
    w.single("muzzle_conntrack_max", "gauge",
             "The most connections the table holds (net.netfilter.nf_conntrack_max).", ct.max);
    w.single("muzzle_conntrack_early_drops_total", "counter",
             "Connections without a reply the kernel evicted to make room in its full table.",
             ct.early_drops);
    w.single("muzzle_conntrack_drops_total", "counter",
             "Packets the kernel dropped: no room for their connection in its table.", ct.drops);
  }
  // The flood guard, when it is on (muzzled.yaml flood_guard; fw/engine/flood_drops.h).
  if (e.flood_guard.rate > 0) {
    w.single("muzzle_flood_guard_dropped_total", "counter",
             "New flows the flood guard dropped in the kernel: their device was past its rate.",
             e.flood_guard.dropped);
    w.single("muzzle_flood_guard_devices", "gauge",
             "Devices the flood guard dropped new flows of in the last two minutes.",
             e.flood_guard.devices);
  }
  if (e.flood_guard.connections > 0) {
    w.single("muzzle_connection_limit_dropped_total", "counter",
             "Allowed new flows the connection limit dropped: their device held its most "
             "connections.",
             e.flood_guard.conn_dropped);
    w.single("muzzle_connection_limit_devices", "gauge",
             "Devices the connection limit dropped new flows of in the last two minutes.",
             e.flood_guard.conn_devices);
  }
  // The segment guard, when it is on: one sample per input interface it ever dropped for (the
  // box's interfaces, at most kSegmentSetSize), a counter that never goes down.
  if (e.flood_guard.segment_rate > 0) {
    w.family("muzzle_segment_guard_dropped_total", "counter",
             "New flows the segment guard dropped in the kernel: their segment was past its rate "
             "(a device there forging source addresses, or many flooding at once).");
    for (const SegmentGuardTotal& t : e.flood_guard.segment_totals) {
      w.sample("muzzle_segment_guard_dropped_total", t.dropped,
               {{"segment", t.segment}, {"interface", t.interface}});
    }
    w.single("muzzle_segment_guard_segments", "gauge",
             "Segments (input interfaces) the segment guard dropped new flows of in the last two "
             "minutes.",
             e.flood_guard.segments);
  }
  if (e.flood_guard.rate > 0 || e.flood_guard.connections > 0 || e.flood_guard.segment_rate > 0) {
    w.single("muzzle_flood_guard_read_errors_total", "counter",
             "Reads of the flood guard's, the connection limit's and the segment guard's counts "
             "that failed.",
             e.flood_guard.read_errors);
  }

  w.single("muzzle_events_dropped_total", "counter",
           "Event lines lost because the delivery buffer was full.", e.events_dropped);
  w.single("muzzle_log_lines_suppressed_total", "counter",
           "Event lines the log's rate limit left out.", e.log_suppressed);

  w.single("muzzle_policy_generation", "gauge", "The installed policy's generation.", e.generation);
  w.single("muzzle_policy_revision", "gauge", "The current policy revision.", s.policy_revision);
  w.single("muzzle_commit_pending", "gauge",
           "1 while a commit-confirmed apply waits for its confirmation.",
           s.commit_pending ? 1 : 0);

  w.single("muzzle_dns_cache_entries", "gauge",
           "(address, name) bindings learned from DNS answers and held now.", e.name_cache_entries);
  w.single("muzzle_dns_names_learned_total", "counter",
           "(address, name) bindings learned from DNS answers since start.", j.dns_learned);
  w.single("muzzle_dns_answers_total", "counter", "DNS answers to managed devices read.",
           j.dns_answers);

  w.single("muzzle_inventory_devices", "gauge",
           "Devices in the inventory (at most 4096; the oldest is evicted).", e.devices_known);
  w.single("muzzle_new_devices_total", "counter", "Devices seen for the first time since start.",
           j.new_devices);
  // New-device admission, when it is on (muzzled.yaml devices.new_per_minute;
  // fw/device/device_admission.h): one sample per segment.
  if (e.admission.per_minute > 0) {
    w.family("muzzle_devices_refused_total", "counter",
             "First packets of devices never seen before that their segment's new-device "
             "admission refused (dropped, not recorded).");
    for (const DeviceAdmission::SegmentStatus& seg : e.admission.segments) {
      w.sample("muzzle_devices_refused_total", seg.refused, {{"segment", seg.name}});
    }
    w.family("muzzle_device_admission_tokens", "gauge",
             "New devices a segment would let in now (its burst when none came lately).");
    for (const DeviceAdmission::SegmentStatus& seg : e.admission.segments) {
      w.sample("muzzle_device_admission_tokens", seg.tokens, {{"segment", seg.name}});
    }
  }

  w.family("muzzle_device_flows_total", "counter",
           "Flows of a device judged since it entered the inventory, by verdict.");
  for (const MetricsDevice& d : s.devices) {
    for (const auto& [verdict, value] :
         {std::pair<std::string_view, uint64_t>{"allowed", d.allowed_flows},
          std::pair<std::string_view, uint64_t>{"denied", d.denied_flows}}) {
      w.sample("muzzle_device_flows_total", value,
               {{"mac", d.mac},
                {"name", d.name},
                {"profile", d.profile},
                {"segment", d.segment},
                {"verdict", verdict}});
    }
  }
  // The connections each device holds, while muzzled counts them for the connection limit: how
  // close each device is to it, before it is refused anything.
  if (e.flood_guard.conn_counted_by_muzzled) {
    w.family("muzzle_device_connections", "gauge",
             "Connections a device holds now, as muzzled counts them for the connection limit "
             "(recounted from conntrack every accounting read).");
    for (const MetricsDevice& d : s.devices) {
      w.sample("muzzle_device_connections", d.connections,
               {{"mac", d.mac}, {"name", d.name}, {"profile", d.profile}, {"segment", d.segment}});
    }
  }
  // Bytes and packets of allowed traffic, counted in the kernel and read every accounting
  // interval: what `rate()` over them shows lags by up to one interval.
  for (const auto& [family, help, bytes] :
       {std::tuple{
            "muzzle_device_bytes_total",
            "Layer-3 bytes of a device's allowed traffic, by direction (counted in the kernel).",
            true},
        std::tuple{"muzzle_device_packets_total",
                   "Packets of a device's allowed traffic, by direction (counted in the kernel).",
                   false}}) {
    w.family(family, "counter", help);
    for (const MetricsDevice& d : s.devices) {
      for (const auto& [direction, t] :
           {std::pair<std::string_view, const TrafficTotals*>{"upload", &d.upload},
            std::pair<std::string_view, const TrafficTotals*>{"download", &d.download}}) {
        w.sample(family, bytes ? t->bytes : t->packets,
                 {{"mac", d.mac},
                  {"name", d.name},
                  {"profile", d.profile},
                  {"segment", d.segment},
                  {"direction", direction}});
      }
    }
  }
  w.single("muzzle_device_series_omitted", "gauge",
           "Devices left out of the muzzle_device_* series (past 4096 devices).",
           s.devices_omitted);
  w.single("muzzle_accounting_reads_total", "counter",
           "Reads of the kernel's per-device counts (every accounting interval).",
           e.accounting.reads);
  w.single("muzzle_accounting_read_errors_total", "counter",
           "Reads of the kernel's per-device counts that failed.", e.accounting.read_errors);
  w.single("muzzle_accounting_groups", "gauge",
           "Source, destination and class groups the last read returned.", e.accounting.groups);
  w.single("muzzle_accounting_unattributed_bytes_total", "counter",
           "Bytes of judged connections no device owned an end of when they were read.",
           e.accounting.unattributed_bytes);
  w.single("muzzle_accounting_event_overruns_total", "counter",
           "Times the kernel dropped ended connections' counts: muzzled's queue of them was full.",
           e.accounting.event_overruns);
  w.single("muzzle_accounting_uncounted_connections_total", "counter",
           "Connections read without counters (net.netfilter.nf_conntrack_acct off).",
           e.accounting.uncounted);
  w.single("muzzle_accounting_lost_bytes_total", "counter",
           "Bytes not counted: more groups between two reads than muzzled keeps.",
           e.accounting.lost_bytes);

  w.family("muzzle_metrics_connections_total", "counter",
           "Connections to this endpoint, by outcome.");
  w.sample("muzzle_metrics_connections_total", s.http.served, {{"outcome", "served"}});
  w.sample("muzzle_metrics_connections_total", s.http.refused_peer, {{"outcome", "refused-peer"}});
  w.sample("muzzle_metrics_connections_total", s.http.busy, {{"outcome", "busy"}});
  w.sample("muzzle_metrics_connections_total", s.http.bad_request, {{"outcome", "bad-request"}});
  w.sample("muzzle_metrics_connections_total", s.http.timed_out, {{"outcome", "timed-out"}});
  return w.take();
}

}  // namespace muzzle
