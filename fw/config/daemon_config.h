// muzzled.yaml: the daemon's own configuration, validated with file:line:field errors.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fw/common/status.h"
#include "fw/config/source_map.h"
#include "fw/config/syslog_config.h"
#include "muzzle/v1/config.pb.h"

namespace muzzle {

enum class FailMode { kClosed, kOpen };

// Where the package installs the presets and lists that ship with Muzzle.
inline constexpr char kShippedPoliciesDir[] = "/usr/share/muzzle/policies";

struct DaemonSegment {
  std::string name;
  std::string ifname;
};

inline constexpr uint32_t kMaxAccountingInterval = 3600;
// The flood guard's defaults: far above what a camera, a speaker or a TV opens (tens of flows a
// second when busiest), far below what one judge thread takes on a small box.
inline constexpr uint32_t kDefaultFloodRate = 500;
inline constexpr uint32_t kDefaultFloodBurst = 1000;
// Beyond them the kernel's bucket arithmetic (nanoseconds per token) loses its precision.
inline constexpr uint32_t kMaxFloodRate = 1'000'000;
inline constexpr uint32_t kMaxFloodBurst = 10'000'000;
// The connection limit's default: several times what a camera, a speaker or a TV holds (tens to
// a few hundred connections), and a small share of conntrack's table, which the kernel sizes by
// the box's memory (nf_conntrack_max: 8,192 on a 1 GB box, 65,536 from 1 to 4 GB), so a few
// devices gone wrong leave room for the rest. Also what the kernel walks, once a tick at most,
// when a device at its limit opens one more connection: kept small.
inline constexpr uint32_t kDefaultConnLimit = 1024;
inline constexpr uint32_t kMaxConnLimit = 1'000'000;
// The longest accounting interval at which muzzled counts the connection limit itself.
inline constexpr uint32_t kMaxRecountInterval = 30;
// The segment guard's defaults: four devices' worth of the flood guard, so a segment's honest
// devices are held by their own buckets long before their segment's; and what one queue thread
// judges on a small box, so one segment (a device forging source MAC addresses) cannot take the
// queue every segment shares. Its bounds go further than the flood guard's: a segment is many
// devices, and the bench holds it out of reach. At 10,000,000 a second a token is 100 ns, which the
// kernel's bucket (whole nanoseconds per token) still keeps within 1 % of the rate asked for.
inline constexpr uint32_t kDefaultSegmentRate = 2000;
inline constexpr uint32_t kDefaultSegmentBurst = 4000;
inline constexpr uint32_t kMaxSegmentRate = 10'000'000;
inline constexpr uint32_t kMaxSegmentBurst = 100'000'000;
// New-device admission per segment (fw/device/device_admission.h). The defaults are chosen for
// the first install, when every device of the segment is new at once: a box put in front of a
// VLAN of 200 existing cameras takes 64 at once and the rest at one a second, so all of them
// are in within about 2.5 minutes as their flows retry (TCP retries a SYN after 1, 3, 7, 15 and
// 31 s; a camera's UDP probes repeat). A home network (tens of devices) never meets it. A
// device forging source MACs gets 64 records, then one a second: 3,600 an hour against an
// inventory of 4,096, where without it every forged flow was one. A segment with more devices
// that join at once (a site put behind the box all together, a conference Wi-Fi) raises it,
// or names its devices in the policy, which are never held to it.
inline constexpr uint32_t kDefaultNewDevicesPerMinute = 60;
inline constexpr uint32_t kDefaultNewDeviceBurst = 64;
inline constexpr uint32_t kMaxNewDevicesPerMinute = 60'000;
inline constexpr uint32_t kMaxNewDeviceBurst = 65'536;

// The validated config with defaults filled in.
struct DaemonConfig {
  // Empty means "manage nothing": muzzled idles, touching no nftables state, until a segment is
  // configured. `policy_path` may then be empty too.
  std::vector<DaemonSegment> segments;
  std::vector<std::string> uplinks;
  FailMode fail_mode = FailMode::kClosed;
  uint16_t queue_first = 100;
  uint16_t queue_count = 1;
  std::string policy_path;  // absolute, or relative to the working directory
  std::string state_dir = "/var/lib/muzzle";
  // The second folder a policy may name files in, after its own (policy_loader.h's
  // PolicyFolders): the shipped lists, e.g. `doh_list: lists/doh-resolvers.txt`.
  std::string shipped_policies_dir = kShippedPoliciesDir;
  // Local presets, searched before the shipped ones (`presets/` in shipped_policies_dir).
  std::vector<std::string> preset_dirs;
  // How long a silent device keeps its addresses against others (fw/device/address_bindings.h).
  uint32_t address_hold_seconds = 600;
  // How often the kernel's per-device traffic counts are read (fw/nft/conntrack_counts.h);
  // 0: no accounting (conntrack's counters are not turned on nor read).
  uint32_t accounting_interval_seconds = 10;
  // New-device admission (proto DeviceConfig.new_per_minute, new_burst): devices never seen
  // before that may enter each segment a minute, and at once; 0 a minute: off.
  uint32_t new_devices_per_minute = kDefaultNewDevicesPerMinute;
  uint32_t new_device_burst = kDefaultNewDeviceBurst;
  // The flood guard (proto FloodGuard; RulesetSpec::flood_rate): new flows a second each device
  // may open, and how many at once; a rate of 0 turns it off.
  uint32_t flood_rate = kDefaultFloodRate;
  uint32_t flood_burst = kDefaultFloodBurst;
  // The connection limit (proto FloodGuard.connections); 0: off. Counted by muzzled while
  // accounting reads conntrack at least every kMaxRecountInterval (countsConnections():
  // fw/device/connection_counts.h; a device gets its room back within one read of closing a
  // connection) and the kernel has conntrack labels (Daemon probes it at start), else by the
  // kernel's rule (RulesetSpec::conn_limit).
  uint32_t conn_limit = kDefaultConnLimit;
  bool countsConnections() const {
    return conn_limit > 0 && accounting_interval_seconds > 0 &&
           accounting_interval_seconds <= kMaxRecountInterval;
  }
  // The segment guard (proto FloodGuard.segment_new_flows_per_second; RulesetSpec::segment_rate):
  // new flows a second each input interface may bring, and how many at once; a rate of 0 turns it
  // off. Independent of flood_rate.
  uint32_t segment_rate = kDefaultSegmentRate;
  uint32_t segment_burst = kDefaultSegmentBurst;
  // Not interpreted by fw/: the management plane validates and uses it (mgmt/server/).
  v1::Management management;
  std::string config_dir;  // folder of the config file, for relative paths in `management`
  // "file:line: management.metrics.listen", for the check made at start (mgmt/server/).
  std::string metrics_listen_at;
  // "file:line: management.web.listen", likewise.
  std::string web_listen_at;
  // Syslog collectors (at most kMaxSyslogCollectors); sent to by mgmt/events/syslog_sink.h.
  std::vector<SyslogCollectorConfig> syslog;
  // `journal:`; sent to by mgmt/events/journal_sink.h.
  JournalConfig journal;
  // The file the segments were named in: the config file itself, or state_dir/setup.yaml when
  // the config names none and `muzzlectl setup` chose them (fw/config/setup_file.h). Empty: idle.
  std::string segments_from;
  // Why state_dir/setup.yaml, present, was not used (the box then idles and says so); empty if
  // it was used or there is none. Set by loadDaemonConfig only.
  std::string setup_problem;
};

Result<DaemonConfig> parseDaemonConfig(std::string_view yaml_text, std::string_view file_label,
                                       std::string_view config_dir);
// The same checks on a message already read (setup_file.h reads setup.yaml into one); `map`
// gives the lines for errors.
Result<DaemonConfig> daemonConfigOf(const v1::DaemonConfig& proto, const SourceMap& map,
                                    std::string_view file_label, std::string_view config_dir);
// Reads and checks the config file. When it names no segment, state_dir/setup.yaml (written by
// `muzzlectl setup`, setup_file.h) supplies the segments, uplink and policy if it exists; the
// file's own segments always win, and a setup file that cannot be used only sets
// `setup_problem`.
Result<DaemonConfig> loadDaemonConfig(const std::string& path);

}  // namespace muzzle
