// The /metrics text (mgmt/server/metrics_text.h): golden output, hostile label values, bounds.
#include "mgmt/server/metrics_text.h"

#include <doctest/doctest.h>

#include <set>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

DeviceRecord device(uint64_t mac, std::string name, std::string hostname, uint64_t allowed,
                    uint64_t denied) {
  DeviceRecord r;
  r.mac.value = mac;
  r.name = std::move(name);
  r.dhcp_hostname = std::move(hostname);
  r.profile = "camera";
  r.segment = "cams";
  r.allowed_flows = allowed;
  r.denied_flows = denied;
  r.connections = static_cast<uint32_t>(allowed + 2);
  // Traffic that follows from the flows, so each device's series differ.
  r.upload = {allowed * 1000 + denied, allowed * 10, 0};
  r.download = {allowed * 5000, allowed * 20, 0};
  return r;
}

MetricsSnapshot sample() {
  EngineStatus e;
  e.generation = 7;
  e.judge.packets = 100;
  e.judge.allowed = 60;
  e.judge.rejected = 30;
  e.judge.dropped = 2;
  e.judge.malformed = 1;
  e.judge.spoofed = 3;
  e.judge.dns_bypass = 4;
  e.judge.dns_answers_dropped = 5;
  e.judge.dns_malformed = 6;
  e.judge.dhcp_malformed = 7;
  e.judge.dns_learned = 12;
  e.judge.dns_answers = 20;
  e.judge.new_devices = 2;
  e.queue.verdicts_sent = 99;
  e.queue.send_batches = 40;
  e.queue.enobufs = 0;
  e.queue_stalls = 3;
  e.queue_threads_stalled = 1;
  e.kernel.waiting = 1;
  e.kernel.queue_dropped = 8;
  e.kernel.user_dropped = 9;
  e.conntrack = ConntrackTableStats{.entries = 1234, .max = 262144, .early_drops = 16, .drops = 17};
  e.flood_guard =
      FloodGuardCounters{.rate = 500,
                         .burst = 1000,
                         .dropped = 4321,
                         .devices = 2,
                         .connections = 1024,
                         .conn_dropped = 37,
                         .conn_devices = 1,
                         .conn_counted_by_muzzled = true,
                         .segment_rate = 2000,
                         .segment_burst = 4000,
                         .segment_dropped = 5005,
                         .segments = 1,
                         .segment_totals = {{"cameras", "br-cam", 5000}, {"uplink", "uplink0", 5}},
                         .reads = 90,
                         .read_errors = 1,
                         .last_error = ""};
  e.events_dropped = 10;
  e.log_suppressed = 11;
  e.devices_known = 2;
  e.admission = {.per_minute = 60,
                 .burst = 64,
                 .refused = 35,
                 .segments = {{.name = "cams", .admitted = 64, .refused = 35, .tokens = 0},
                              {.name = "iot", .admitted = 3, .refused = 0, .tokens = 64}}};
  e.name_cache_entries = 13;
  e.accounting = {.on = true,
                  .interval_seconds = 10,
                  .groups = 3,
                  .room = 65536,
                  .reads = 14,
                  .read_errors = 1,
                  .last_error = "",
                  .unattributed_bytes = 15,
                  .events = 0,
                  .event_overruns = 2,
                  .event_errors = 0,
                  .uncounted = 4,
                  .lost_bytes = 5,
                  .tracked = 0,
                  .untracked = 0,
                  .limit_windows = 0,
                  .blocked_devices = 0};
  // Out of MAC order on purpose: the series come sorted.
  std::vector<DeviceRecord> devices{device(0x44d9e7000002, "", "cam-2", 1, 4),
                                    device(0x44d9e7000001, "front-door", "ignored", 5, 0)};
  MetricsSnapshot s = metricsSnapshotOf("0.1.0", e, devices, nullptr, 42, true);
  s.http = MetricsHttpCounters{3, 1, 0, 2, 1};
  return s;
}

TEST_CASE("the exposition text, golden") {
  const char* kGolden = R"(# HELP muzzle_build_info Always 1; the labels say which muzzled this is.
# TYPE muzzle_build_info gauge
muzzle_build_info{version="0.1.0"} 1
# HELP muzzle_packets_judged_total Packets muzzled judged in user space (first packets of flows, DNS, DHCP).
# TYPE muzzle_packets_judged_total counter
muzzle_packets_judged_total 100
# HELP muzzle_verdicts_total Verdicts given, by verdict.
# TYPE muzzle_verdicts_total counter
muzzle_verdicts_total{verdict="allowed"} 60
muzzle_verdicts_total{verdict="rejected"} 30
muzzle_verdicts_total{verdict="dropped"} 2
# HELP muzzle_refusals_total Packets refused or passed unlearned for a reason other than the policy's rules.
# TYPE muzzle_refusals_total counter
muzzle_refusals_total{reason="malformed"} 1
muzzle_refusals_total{reason="spoofed"} 3
muzzle_refusals_total{reason="dns-bypass"} 4
muzzle_refusals_total{reason="dns-answer-not-allowed"} 5
muzzle_refusals_total{reason="dns-malformed"} 6
muzzle_refusals_total{reason="dhcp-malformed"} 7
# HELP muzzle_queue_verdicts_sent_total Verdicts sent to the kernel.
# TYPE muzzle_queue_verdicts_sent_total counter
muzzle_queue_verdicts_sent_total 99
# HELP muzzle_queue_verdict_batches_total Netlink messages that carried verdicts.
# TYPE muzzle_queue_verdict_batches_total counter
muzzle_queue_verdict_batches_total 40
# HELP muzzle_queue_socket_overruns_total Times the kernel found muzzled's queue socket full (ENOBUFS).
# TYPE muzzle_queue_socket_overruns_total counter
muzzle_queue_socket_overruns_total 0
# HELP muzzle_queue_stalls_total Times a queue thread went 5 s without a turn (event=queue-stalled).
# TYPE muzzle_queue_stalls_total counter
muzzle_queue_stalls_total 3
# HELP muzzle_queue_threads_stalled Queue threads stalled now: systemd's watchdog is not pinged, so muzzled restarts.
# TYPE muzzle_queue_threads_stalled gauge
muzzle_queue_threads_stalled 1
# HELP muzzle_kernel_counters_ok 1 when the kernel's queue counters could be read (else the two below are 0).
# TYPE muzzle_kernel_counters_ok gauge
muzzle_kernel_counters_ok 1
# HELP muzzle_kernel_queue_waiting Packets waiting in the kernel's queues for a verdict now.
# TYPE muzzle_kernel_queue_waiting gauge
muzzle_kernel_queue_waiting 1
# HELP muzzle_kernel_queue_dropped_total Packets the kernel dropped before muzzled saw them, by cause.
# TYPE muzzle_kernel_queue_dropped_total counter
muzzle_kernel_queue_dropped_total{cause="queue-full"} 8
muzzle_kernel_queue_dropped_total{cause="socket-full"} 9
# HELP muzzle_conntrack_ok 1 when the kernel's connection table could be read (else the four below are 0).
# TYPE muzzle_conntrack_ok gauge
muzzle_conntrack_ok 1
# HELP muzzle_conntrack_entries Connections in the kernel's connection table now.
# TYPE muzzle_conntrack_entries gauge
muzzle_conntrack_entries 1234
# HELP muzzle_conntrack_max The most connections the table holds (net.netfilter.nf_conntrack_max).
# TYPE muzzle_conntrack_max gauge
muzzle_conntrack_max 262144
# HELP muzzle_conntrack_early_drops_total Connections without a reply the kernel evicted to make room in its full table.
# TYPE muzzle_conntrack_early_drops_total counter
muzzle_conntrack_early_drops_total 16
# HELP muzzle_conntrack_drops_total Packets the kernel dropped: no room for their connection in its table.
# TYPE muzzle_conntrack_drops_total counter
muzzle_conntrack_drops_total 17
# HELP muzzle_flood_guard_dropped_total New flows the flood guard dropped in the kernel: their device was past its rate.
# TYPE muzzle_flood_guard_dropped_total counter
muzzle_flood_guard_dropped_total 4321
# HELP muzzle_flood_guard_devices Devices the flood guard dropped new flows of in the last two minutes.
# TYPE muzzle_flood_guard_devices gauge
muzzle_flood_guard_devices 2
# HELP muzzle_connection_limit_dropped_total Allowed new flows the connection limit dropped: their device held its most connections.
# TYPE muzzle_connection_limit_dropped_total counter
muzzle_connection_limit_dropped_total 37
# HELP muzzle_connection_limit_devices Devices the connection limit dropped new flows of in the last two minutes.
# TYPE muzzle_connection_limit_devices gauge
muzzle_connection_limit_devices 1
# HELP muzzle_segment_guard_dropped_total New flows the segment guard dropped in the kernel: their segment was past its rate (a device there forging source addresses, or many flooding at once).
# TYPE muzzle_segment_guard_dropped_total counter
muzzle_segment_guard_dropped_total{segment="cameras",interface="br-cam"} 5000
muzzle_segment_guard_dropped_total{segment="uplink",interface="uplink0"} 5
# HELP muzzle_segment_guard_segments Segments (input interfaces) the segment guard dropped new flows of in the last two minutes.
# TYPE muzzle_segment_guard_segments gauge
muzzle_segment_guard_segments 1
# HELP muzzle_flood_guard_read_errors_total Reads of the flood guard's, the connection limit's and the segment guard's counts that failed.
# TYPE muzzle_flood_guard_read_errors_total counter
muzzle_flood_guard_read_errors_total 1
# HELP muzzle_events_dropped_total Event lines lost because the delivery buffer was full.
# TYPE muzzle_events_dropped_total counter
muzzle_events_dropped_total 10
# HELP muzzle_log_lines_suppressed_total Event lines the log's rate limit left out.
# TYPE muzzle_log_lines_suppressed_total counter
muzzle_log_lines_suppressed_total 11
# HELP muzzle_policy_generation The installed policy's generation.
# TYPE muzzle_policy_generation gauge
muzzle_policy_generation 7
# HELP muzzle_policy_revision The current policy revision.
# TYPE muzzle_policy_revision gauge
muzzle_policy_revision 42
# HELP muzzle_commit_pending 1 while a commit-confirmed apply waits for its confirmation.
# TYPE muzzle_commit_pending gauge
muzzle_commit_pending 1
# HELP muzzle_dns_cache_entries (address, name) bindings learned from DNS answers and held now.
# TYPE muzzle_dns_cache_entries gauge
muzzle_dns_cache_entries 13
# HELP muzzle_dns_names_learned_total (address, name) bindings learned from DNS answers since start.
# TYPE muzzle_dns_names_learned_total counter
muzzle_dns_names_learned_total 12
# HELP muzzle_dns_answers_total DNS answers to managed devices read.
# TYPE muzzle_dns_answers_total counter
muzzle_dns_answers_total 20
# HELP muzzle_inventory_devices Devices in the inventory (at most 4096; the oldest is evicted).
# TYPE muzzle_inventory_devices gauge
muzzle_inventory_devices 2
# HELP muzzle_new_devices_total Devices seen for the first time since start.
# TYPE muzzle_new_devices_total counter
muzzle_new_devices_total 2
# HELP muzzle_devices_refused_total First packets of devices never seen before that their segment's new-device admission refused (dropped, not recorded).
# TYPE muzzle_devices_refused_total counter
muzzle_devices_refused_total{segment="cams"} 35
muzzle_devices_refused_total{segment="iot"} 0
# HELP muzzle_device_admission_tokens New devices a segment would let in now (its burst when none came lately).
# TYPE muzzle_device_admission_tokens gauge
muzzle_device_admission_tokens{segment="cams"} 0
muzzle_device_admission_tokens{segment="iot"} 64
# HELP muzzle_device_flows_total Flows of a device judged since it entered the inventory, by verdict.
# TYPE muzzle_device_flows_total counter
muzzle_device_flows_total{mac="44:d9:e7:00:00:01",name="front-door",profile="camera",segment="cams",verdict="allowed"} 5
muzzle_device_flows_total{mac="44:d9:e7:00:00:01",name="front-door",profile="camera",segment="cams",verdict="denied"} 0
muzzle_device_flows_total{mac="44:d9:e7:00:00:02",name="cam-2",profile="camera",segment="cams",verdict="allowed"} 1
muzzle_device_flows_total{mac="44:d9:e7:00:00:02",name="cam-2",profile="camera",segment="cams",verdict="denied"} 4
# HELP muzzle_device_connections Connections a device holds now, as muzzled counts them for the connection limit (recounted from conntrack every accounting read).
# TYPE muzzle_device_connections gauge
muzzle_device_connections{mac="44:d9:e7:00:00:01",name="front-door",profile="camera",segment="cams"} 7
muzzle_device_connections{mac="44:d9:e7:00:00:02",name="cam-2",profile="camera",segment="cams"} 3
# HELP muzzle_device_bytes_total Layer-3 bytes of a device's allowed traffic, by direction (counted in the kernel).
# TYPE muzzle_device_bytes_total counter
muzzle_device_bytes_total{mac="44:d9:e7:00:00:01",name="front-door",profile="camera",segment="cams",direction="upload"} 5000
muzzle_device_bytes_total{mac="44:d9:e7:00:00:01",name="front-door",profile="camera",segment="cams",direction="download"} 25000
muzzle_device_bytes_total{mac="44:d9:e7:00:00:02",name="cam-2",profile="camera",segment="cams",direction="upload"} 1004
muzzle_device_bytes_total{mac="44:d9:e7:00:00:02",name="cam-2",profile="camera",segment="cams",direction="download"} 5000
# HELP muzzle_device_packets_total Packets of a device's allowed traffic, by direction (counted in the kernel).
# TYPE muzzle_device_packets_total counter
muzzle_device_packets_total{mac="44:d9:e7:00:00:01",name="front-door",profile="camera",segment="cams",direction="upload"} 50
muzzle_device_packets_total{mac="44:d9:e7:00:00:01",name="front-door",profile="camera",segment="cams",direction="download"} 100
muzzle_device_packets_total{mac="44:d9:e7:00:00:02",name="cam-2",profile="camera",segment="cams",direction="upload"} 10
muzzle_device_packets_total{mac="44:d9:e7:00:00:02",name="cam-2",profile="camera",segment="cams",direction="download"} 20
# HELP muzzle_device_series_omitted Devices left out of the muzzle_device_* series (past 4096 devices).
# TYPE muzzle_device_series_omitted gauge
muzzle_device_series_omitted 0
# HELP muzzle_accounting_reads_total Reads of the kernel's per-device counts (every accounting interval).
# TYPE muzzle_accounting_reads_total counter
muzzle_accounting_reads_total 14
# HELP muzzle_accounting_read_errors_total Reads of the kernel's per-device counts that failed.
# TYPE muzzle_accounting_read_errors_total counter
muzzle_accounting_read_errors_total 1
# HELP muzzle_accounting_groups Source, destination and class groups the last read returned.
# TYPE muzzle_accounting_groups gauge
muzzle_accounting_groups 3
# HELP muzzle_accounting_unattributed_bytes_total Bytes of judged connections no device owned an end of when they were read.
# TYPE muzzle_accounting_unattributed_bytes_total counter
muzzle_accounting_unattributed_bytes_total 15
# HELP muzzle_accounting_event_overruns_total Times the kernel dropped ended connections' counts: muzzled's queue of them was full.
# TYPE muzzle_accounting_event_overruns_total counter
muzzle_accounting_event_overruns_total 2
# HELP muzzle_accounting_uncounted_connections_total Connections read without counters (net.netfilter.nf_conntrack_acct off).
# TYPE muzzle_accounting_uncounted_connections_total counter
muzzle_accounting_uncounted_connections_total 4
# HELP muzzle_accounting_lost_bytes_total Bytes not counted: more groups between two reads than muzzled keeps.
# TYPE muzzle_accounting_lost_bytes_total counter
muzzle_accounting_lost_bytes_total 5
# HELP muzzle_metrics_connections_total Connections to this endpoint, by outcome.
# TYPE muzzle_metrics_connections_total counter
muzzle_metrics_connections_total{outcome="served"} 3
muzzle_metrics_connections_total{outcome="refused-peer"} 1
muzzle_metrics_connections_total{outcome="busy"} 0
muzzle_metrics_connections_total{outcome="bad-request"} 2
muzzle_metrics_connections_total{outcome="timed-out"} 1
)";
  CHECK(renderMetrics(sample()) == kGolden);
}

TEST_CASE("a device's name: the installed policy's, else the inventory's, else DHCP's") {
  CompiledPolicy policy;
  MacAddress listed;
  listed.value = 0x44d9e7000002;
  policy.devices.push_back(CompiledDevice{"lobby-cam", listed, 0});
  policy.device_by_mac[listed.value] = 0;
  std::vector<DeviceRecord> devices{device(0x44d9e7000002, "", "cam-2", 0, 0),
                                    device(0x44d9e7000003, "saved", "dhcp", 0, 0),
                                    device(0x44d9e7000004, "", "dhcp-only", 0, 0)};
  MetricsSnapshot s = metricsSnapshotOf("0.1.0", EngineStatus{}, devices, &policy, 1, false);
  REQUIRE(s.devices.size() == 3);
  CHECK(s.devices[0].name == "lobby-cam");
  CHECK(s.devices[1].name == "saved");
  CHECK(s.devices[2].name == "dhcp-only");
}

TEST_CASE("kernel counters that could not be read say so") {
  MetricsSnapshot s = sample();
  s.engine.kernel_error = "no such file";
  CHECK(renderMetrics(s).find("\nmuzzle_kernel_counters_ok 0\n") != std::string::npos);
}

TEST_CASE("a connection table that could not be read says so; an idle box shows none") {
  MetricsSnapshot s = sample();
  s.engine.conntrack.reset();
  s.engine.conntrack_error = "cannot read /proc/net/stat/nf_conntrack";
  std::string text = renderMetrics(s);
  CHECK(text.find("\nmuzzle_conntrack_ok 0\n") != std::string::npos);
  CHECK(text.find("\nmuzzle_conntrack_entries 0\n") != std::string::npos);
  s.engine.conntrack_error.clear();
  text = renderMetrics(s);
  CHECK(text.find("muzzle_conntrack") == std::string::npos);
}

TEST_CASE("new-device admission off (or an idle box): no admission families") {
  MetricsSnapshot s = sample();
  s.engine.admission = {};
  const std::string text = renderMetrics(s);
  CHECK(text.find("muzzle_devices_refused_total") == std::string::npos);
  CHECK(text.find("muzzle_device_admission_tokens") == std::string::npos);
  CHECK(text.find("\nmuzzle_new_devices_total 2\n") != std::string::npos);
}

TEST_CASE("hostile label values are escaped and cannot break a line or a label") {
  CHECK(escapeLabelValue(R"(a"b)") == R"(a\"b)");
  CHECK(escapeLabelValue(R"(a\b)") == R"(a\\b)");
  CHECK(escapeLabelValue("a\nb") == R"(a\nb)");
  CHECK(escapeLabelValue("caf\xc3\xa9") == "caf\xc3\xa9");  // UTF-8 stays
  CHECK(escapeLabelValue("a\xff\xc3") == "a??");            // not UTF-8: '?'
  CHECK(escapeLabelValue("\xed\xa0\x80") == "???");         // a surrogate is not UTF-8 either
  CHECK(escapeLabelValue("\xc0\xaf") == "??");              // nor an overlong '/'

  // A DHCP host name (or a policy name) that tries to close the label and add a series.
  MetricsSnapshot s = sample();
  s.devices[0].name = "x\"} 1\nmuzzle_build_info{version=\"evil\\";
  const std::string text = renderMetrics(s);
  CHECK(text.find(R"(name="x\"} 1\nmuzzle_build_info{version=\"evil\\",profile="camera")") !=
        std::string::npos);
  // Every line is a comment or a series, and only one muzzle_build_info series exists.
  size_t build_info = 0;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    if (line.rfind("muzzle_build_info", 0) == 0) ++build_info;
    CHECK((line.rfind("# ", 0) == 0 || line.rfind("muzzle_", 0) == 0));
    start = end + 1;
  }
  CHECK(build_info == 1);
}

TEST_CASE("a label value is cut at 128 bytes, never inside a character or an escape") {
  CHECK(escapeLabelValue(std::string(500, 'a')) == std::string(kMaxLabelBytes, 'a'));
  // 127 'a' then a two-byte character: it does not fit whole, so it is left out.
  CHECK(escapeLabelValue(std::string(127, 'a') + "\xc3\xa9") == std::string(127, 'a'));
  // Escaping doubles a backslash but counts it once: 128 backslashes give 256 characters.
  CHECK(escapeLabelValue(std::string(300, '\\')) == std::string(2 * kMaxLabelBytes, '\\'));
}

TEST_CASE("device series are bounded at 4096, the rest counted, the same ones every time") {
  std::vector<DeviceRecord> devices;
  for (uint64_t i = 0; i < kMaxDeviceSeries + 10; ++i) {
    devices.push_back(device(0x020000000000 + (kMaxDeviceSeries + 10 - i), "", "", 0, 0));
  }
  MetricsSnapshot s = metricsSnapshotOf("0.1.0", EngineStatus{}, devices, nullptr, 1, false);
  CHECK(s.devices.size() == kMaxDeviceSeries);
  CHECK(s.devices_omitted == 10);
  CHECK(s.devices.front().mac == "02:00:00:00:00:01");  // the lowest MACs are kept
  const std::string text = renderMetrics(s);
  size_t series = 0;
  for (size_t at = text.find("\nmuzzle_device_flows_total{"); at != std::string::npos;
       at = text.find("\nmuzzle_device_flows_total{", at + 1)) {
    ++series;
  }
  CHECK(series == 2 * kMaxDeviceSeries);
  CHECK(text.find("\nmuzzle_device_series_omitted 10\n") != std::string::npos);
}

}  // namespace
}  // namespace muzzle
