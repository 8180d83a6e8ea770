#include "fw/config/daemon_config.h"

#include <filesystem>
#include <unordered_map>

#include "fw/common/confined_file.h"
#include "fw/common/excerpt.h"
#include "fw/common/net.h"
#include "fw/config/setup_file.h"
#include "fw/config/yaml_proto.h"

namespace muzzle {
namespace {

// IFNAMSIZ is 16 including the terminating NUL.
constexpr size_t kMaxIfnameLength = 15;
constexpr uint32_t kMaxQueueCount = 16;
constexpr uint32_t kQueueNumbers = 65536;  // netfilter queue numbers are 16-bit
// Under 10 s a device merely quiet between two packets (its neighbour entry STALE) would lose
// its address to the first spoofer; over a day a replaced device's address stays out of its
// successor's reach for too long.
constexpr uint32_t kMinAddressHold = 10;
constexpr uint32_t kMaxAddressHold = 86400;

// The user's own text in an error: escaped and short.
std::string inQuotes(std::string_view text) { return quotedExcerpt(text); }

// management.metrics: the scrapers' CIDRs parse, and an endpoint without authentication is
// never open to every address.
template <typename Fail>
void checkMetrics(const v1::MetricsListener& metrics, Fail& fail) {
  if (metrics.listen().empty()) {
    if (metrics.allow_size() > 0) {
      fail("management.metrics.allow",
           "set, but management.metrics.listen is not (there is no endpoint to allow scrapers to)");
    }
    return;
  }
  if (metrics.allow_size() == 0) {
    fail("management.metrics.allow",
         "missing: /metrics has no authentication, so name the Prometheus servers that may "
         "scrape it (CIDRs, e.g. [198.51.100.7/32])");
  }
  for (int i = 0; i < metrics.allow_size(); ++i) {
    if (!Cidr::parse(metrics.allow(i))) {
      fail("management.metrics.allow[" + std::to_string(i) + "]",
           inQuotes(metrics.allow(i)) +
               " is not an address or a CIDR (e.g. 198.51.100.0/24, fd00:1::/64)");
    }
  }
}

// management.web: the browsers' CIDRs parse, a certificate comes with its key, and a session's
// idle time is bounded.
template <typename Fail>
void checkWeb(const v1::WebConsole& web, Fail& fail) {
  const bool on = !web.listen().empty();
  if (!on && (web.allow_size() > 0 || !web.cert().empty() || !web.key().empty() ||
              web.has_session_idle_minutes())) {
    fail("management.web.listen",
         "missing, but other management.web fields are set (the console is off without it)");
  }
  if (web.cert().empty() != web.key().empty()) {
    fail(web.cert().empty() ? "management.web.cert" : "management.web.key",
         "missing: set both cert and key, or neither (the box then makes its own certificate)");
  }
  for (int i = 0; i < web.allow_size(); ++i) {
    if (!Cidr::parse(web.allow(i))) {
      fail("management.web.allow[" + std::to_string(i) + "]",
           inQuotes(web.allow(i)) +
               " is not an address or a CIDR (e.g. 198.18.0.0/24, fd00:1::/64)");
    }
  }
  if (web.has_session_idle_minutes() &&
      (web.session_idle_minutes() < 1 || web.session_idle_minutes() > 1440)) {
    fail("management.web.session_idle_minutes",
         std::to_string(web.session_idle_minutes()) + " is out of range (1..1440 minutes)");
  }
}

}  // namespace

Result<DaemonConfig> parseDaemonConfig(std::string_view yaml_text, std::string_view file_label,
                                       std::string_view config_dir) {
  v1::DaemonConfig proto;
  SourceMap map;
  YamlToProtoOptions options;
  options.scalar_as_list = {"uplink"};
  if (Status s = yamlToProto(yaml_text, file_label, &proto, &map, options); !s.ok()) return s;
  return daemonConfigOf(proto, map, file_label, config_dir);
}

Result<DaemonConfig> daemonConfigOf(const v1::DaemonConfig& proto, const SourceMap& map,
                                    std::string_view file_label, std::string_view config_dir) {
  std::vector<std::string> errors;
  auto fail = [&](const std::string& path, const std::string& message) {
    errors.push_back(located(file_label, map, path, message));
  };

  DaemonConfig config;

  // No segment is a valid config: muzzled then manages nothing and idles (see DaemonConfig). The
  // packaged default is such a config, so installing the package never cuts a box's traffic.
  std::unordered_map<std::string, int> segment_names;
  std::unordered_map<std::string, int> interfaces;
  for (int i = 0; i < proto.segments_size(); ++i) {
    const v1::Segment& segment = proto.segments(i);
    const std::string path = "segments[" + std::to_string(i) + "]";
    if (segment.name().empty()) {
      fail(path + ".name", "a segment needs a name");
    } else if (auto [it, inserted] = segment_names.emplace(segment.name(), i); !inserted) {
      fail(path + ".name", inQuotes(segment.name()) + " is already the name of segments[" +
                               std::to_string(it->second) + "]");
    }
    const std::string& ifname = segment.interface();
    if (ifname.empty()) {
      fail(path + ".interface", "a segment needs an interface");
    } else if (ifname.size() > kMaxIfnameLength) {
      fail(path + ".interface", inQuotes(ifname) + " is longer than " +
                                    std::to_string(kMaxIfnameLength) +
                                    " characters, so it cannot be an interface name");
    } else if (auto [it, inserted] = interfaces.emplace(ifname, i); !inserted) {
      fail(path + ".interface", inQuotes(ifname) + " is already the interface of segments[" +
                                    std::to_string(it->second) + "]");
    }
    config.segments.push_back(DaemonSegment{segment.name(), ifname});
  }

  std::unordered_map<std::string, int> uplinks;
  for (int i = 0; i < proto.uplink_size(); ++i) {
    const std::string& ifname = proto.uplink(i);
    const std::string path = "uplink[" + std::to_string(i) + "]";
    if (ifname.empty()) {
      fail(path, "an uplink needs an interface name");
    } else if (ifname.size() > kMaxIfnameLength) {
      fail(path, inQuotes(ifname) + " is longer than " + std::to_string(kMaxIfnameLength) +
                     " characters, so it cannot be an interface name");
    } else if (auto seg = interfaces.find(ifname); seg != interfaces.end()) {
      fail(path, inQuotes(ifname) + " is the interface of segments[" + std::to_string(seg->second) +
                     "]; an uplink cannot also be a managed segment");
    } else if (auto [it, inserted] = uplinks.emplace(ifname, i); !inserted) {
      fail(path, inQuotes(ifname) + " is listed twice");
    }
    config.uplinks.push_back(ifname);
  }

  if (proto.fail_mode().empty() || proto.fail_mode() == "closed") {
    config.fail_mode = FailMode::kClosed;
  } else if (proto.fail_mode() == "open") {
    config.fail_mode = FailMode::kOpen;
  } else {
    fail("fail_mode", inQuotes(proto.fail_mode()) + " is not a fail mode (closed or open)");
  }

  const uint32_t first = proto.queue().has_first() ? proto.queue().first() : 100;
  const uint32_t count = proto.queue().has_count() ? proto.queue().count() : 1;
  bool queue_ok = true;
  if (count < 1 || count > kMaxQueueCount) {
    fail("queue.count", std::to_string(count) + " is not a queue count (1.." +
                            std::to_string(kMaxQueueCount) + ")");
    queue_ok = false;
  }
  if (first >= kQueueNumbers) {
    fail("queue.first", std::to_string(first) + " is not a queue number (0.." +
                            std::to_string(kQueueNumbers - 1) + ")");
    queue_ok = false;
  } else if (queue_ok && uint64_t{first} + count + 1 > kQueueNumbers) {
    // One more than `count`: the inspection queue (DNS answers, DHCP requests) follows the
    // flow queues.
    fail("queue", "queues " + std::to_string(first) + ".." + std::to_string(first + count) + " (" +
                      std::to_string(count) + " flow queues and the inspection queue)" +
                      " go past the last queue number " + std::to_string(kQueueNumbers - 1));
    queue_ok = false;
  }
  if (queue_ok) {
    config.queue_first = static_cast<uint16_t>(first);
    config.queue_count = static_cast<uint16_t>(count);
  }

  if (proto.policy().empty()) {
    // An idle daemon judges nothing, so it needs no policy yet.
    if (!config.segments.empty()) {
      fail("policy", "the policy file is required (policy: policy.yaml)");
    }
  } else {
    std::filesystem::path policy(proto.policy());
    if (policy.is_relative() && !config_dir.empty()) {
      policy = std::filesystem::path(config_dir) / policy;
    }
    config.policy_path = policy.lexically_normal().string();
  }

  if (!proto.state_dir().empty()) config.state_dir = proto.state_dir();
  if (!proto.shipped_policies().empty()) {
    std::filesystem::path shipped(proto.shipped_policies());
    if (shipped.is_relative() && !config_dir.empty()) {
      shipped = std::filesystem::path(config_dir) / shipped;
    }
    config.shipped_policies_dir = shipped.lexically_normal().string();
  }
  for (int i = 0; i < proto.preset_dirs_size(); ++i) {
    if (proto.preset_dirs(i).empty()) {
      fail("preset_dirs[" + std::to_string(i) + "]", "a preset folder needs a path");
      continue;
    }
    std::filesystem::path dir(proto.preset_dirs(i));
    if (dir.is_relative() && !config_dir.empty()) dir = std::filesystem::path(config_dir) / dir;
    config.preset_dirs.push_back(dir.lexically_normal().string());
  }
  if (proto.devices().has_address_hold_seconds()) {
    const uint32_t hold = proto.devices().address_hold_seconds();
    if (hold < kMinAddressHold || hold > kMaxAddressHold) {
      fail("devices.address_hold_seconds", std::to_string(hold) + " is out of range (" +
                                               std::to_string(kMinAddressHold) + ".." +
                                               std::to_string(kMaxAddressHold) + " seconds)");
    } else {
      config.address_hold_seconds = hold;
    }
  }
  if (proto.devices().has_accounting_interval_seconds()) {
    const uint32_t every = proto.devices().accounting_interval_seconds();
    if (every > kMaxAccountingInterval) {
      fail("devices.accounting_interval_seconds", std::to_string(every) + " is out of range (1.." +
                                                      std::to_string(kMaxAccountingInterval) +
                                                      " seconds, or 0 to turn accounting off)");
    } else {
      config.accounting_interval_seconds = every;
    }
  }
  if (proto.devices().has_new_per_minute()) {
    const uint32_t rate = proto.devices().new_per_minute();
    if (rate > kMaxNewDevicesPerMinute) {
      fail("devices.new_per_minute",
           std::to_string(rate) + " is out of range (1.." +
               std::to_string(kMaxNewDevicesPerMinute) +
               " new devices a minute per segment, or 0 to turn admission off)");
    } else {
      config.new_devices_per_minute = rate;
    }
  }
  if (proto.devices().has_new_burst()) {
    const uint32_t burst = proto.devices().new_burst();
    if (burst == 0 || burst > kMaxNewDeviceBurst) {
      fail("devices.new_burst", std::to_string(burst) + " is out of range (1.." +
                                    std::to_string(kMaxNewDeviceBurst) +
                                    " new devices at once per segment)");
    } else {
      config.new_device_burst = burst;
    }
  }
  if (proto.flood_guard().has_new_flows_per_second()) {
    const uint32_t rate = proto.flood_guard().new_flows_per_second();
    if (rate > kMaxFloodRate) {
      fail("flood_guard.new_flows_per_second",
           std::to_string(rate) + " is out of range (1.." + std::to_string(kMaxFloodRate) +
               " new flows a second per device, or 0 to turn the guard off)");
    } else {
      config.flood_rate = rate;
    }
  }
  if (proto.flood_guard().has_burst()) {
    const uint32_t burst = proto.flood_guard().burst();
    if (burst == 0 || burst > kMaxFloodBurst) {
      fail("flood_guard.burst", std::to_string(burst) + " is out of range (1.." +
                                    std::to_string(kMaxFloodBurst) + " new flows)");
    } else {
      config.flood_burst = burst;
    }
  }
  if (proto.flood_guard().has_connections()) {
    const uint32_t connections = proto.flood_guard().connections();
    if (connections > kMaxConnLimit) {
      fail("flood_guard.connections", std::to_string(connections) + " is out of range (1.." +
                                          std::to_string(kMaxConnLimit) +
                                          " connections per device, or 0 to turn the limit off)");
    } else {
      config.conn_limit = connections;
    }
  }
  if (proto.flood_guard().has_segment_new_flows_per_second()) {
    const uint32_t rate = proto.flood_guard().segment_new_flows_per_second();
    if (rate > kMaxSegmentRate) {
      fail("flood_guard.segment_new_flows_per_second",
           std::to_string(rate) + " is out of range (1.." + std::to_string(kMaxSegmentRate) +
               " new flows a second per segment, or 0 to turn the segment guard off)");
    } else {
      config.segment_rate = rate;
    }
  }
  if (proto.flood_guard().has_segment_burst()) {
    const uint32_t burst = proto.flood_guard().segment_burst();
    if (burst == 0 || burst > kMaxSegmentBurst) {
      fail("flood_guard.segment_burst", std::to_string(burst) + " is out of range (1.." +
                                            std::to_string(kMaxSegmentBurst) + " new flows)");
    } else {
      config.segment_burst = burst;
    }
  }
  config.syslog = parseSyslogCollectors(proto.syslog(), config_dir, fail);
  config.journal = parseJournal(proto.journal(), proto.has_journal(), fail);
  config.management = proto.management();
  config.config_dir = std::string(config_dir);
  checkMetrics(proto.management().metrics(), fail);
  // The listen address is checked against the segments' addresses only at start (they are the
  // interfaces' addresses then); its error still names this file and line.
  config.metrics_listen_at = located(file_label, map, "management.metrics.listen", "");
  config.metrics_listen_at.resize(config.metrics_listen_at.size() - 2);  // the ": " before message
  checkWeb(proto.management().web(), fail);
  config.web_listen_at = located(file_label, map, "management.web.listen", "");
  config.web_listen_at.resize(config.web_listen_at.size() - 2);

  if (!errors.empty()) {
    std::string joined;
    for (const std::string& e : errors) {
      if (!joined.empty()) joined += '\n';
      joined += e;
    }
    return Status::error(std::move(joined));
  }
  return config;
}

Result<DaemonConfig> loadDaemonConfig(const std::string& path) {
  auto text = readRegularFile(path);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) {
      return Status::error(path + ": cannot read the daemon config (missing or unreadable)");
    }
    return text.status();
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  auto config = parseDaemonConfig(*text, path, dir);
  if (!config.ok()) return config;
  if (!config->segments.empty()) {
    config->segments_from = path;
    return config;
  }
  // The admin's file names no segment: what `muzzlectl setup` stored, if anything. A setup file
  // that cannot be used leaves the box idle, saying why, rather than failing the start: the
  // admin's own file is valid, and the box must stay reachable to be set up again.
  auto setup = readSetupFile(config->state_dir);
  if (!setup.ok()) {
    config->setup_problem = setup.status().message();
  } else if (setup->has_value()) {
    applySetup(**setup, config->state_dir + "/" + kSetupFileName, &*config);
  }
  return config;
}

}  // namespace muzzle
