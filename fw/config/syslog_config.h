// muzzled.yaml's `syslog:` collectors, validated. Only the values: the sender that uses them is
// the management plane's (mgmt/events/syslog_sink.h).
//
// A collector is named by an address literal, never a DNS name: muzzled resolves nothing at
// run time for its own audit trail, so a resolver (or whoever answers for it) can neither stall
// the delivery of events nor send them elsewhere. Files (ca, cert, key) are only named here;
// they are read when the sender starts (and checked readable after root is dropped).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/common/net.h"
#include "muzzle/v1/config.pb.h"

namespace muzzle {

enum class SyslogTransport { kUdp, kTcp, kTls };

struct SyslogCollectorConfig {
  static constexpr uint32_t kDefaultQueue = 1024;
  static constexpr uint32_t kMaxQueue = 65536;
  static constexpr uint8_t kDefaultFacility = 16;  // local0

  std::string target;  // as written: "tls://198.51.100.2:6514", the collector's name everywhere
  SyslogTransport transport = SyslogTransport::kUdp;
  IpAddress address;
  uint16_t port = 0;
  std::string ca;    // absolute, or relative to the working directory; tls only
  std::string cert;  // optional client certificate (tls), with `key`
  std::string key;
  uint8_t facility = kDefaultFacility;  // 0..23
  std::vector<std::string> events;      // empty: every event
  uint32_t queue = kDefaultQueue;       // lines

  bool wants(std::string_view event) const;
};

inline constexpr size_t kMaxSyslogCollectors = 4;

// `journal:` (mgmt/events/journal_sink.h).
struct JournalConfig {
  bool enabled = false;
  std::vector<std::string> events;  // empty: every event

  bool wants(std::string_view event) const;
};

// A facility's number from its name ("local0" -> 16), or -1.
int syslogFacility(std::string_view name);
// The name of a facility's number (16 -> "local0"); its number as text when it has none.
std::string syslogFacilityName(int facility);

// "udp://HOST:PORT" and its tcp/tls kin. On failure `*error` says what is wrong with the text.
bool parseSyslogTarget(std::string_view text, SyslogTransport* transport, IpAddress* address,
                       uint16_t* port, std::string* error);

// Validates `syslog` (the proto's collectors). `fail(path, message)` gets each problem with its
// field path ("syslog[1].ca"); paths of files are made absolute with `config_dir`.
std::vector<SyslogCollectorConfig> parseSyslogCollectors(
    const google::protobuf::RepeatedPtrField<v1::SyslogCollector>& collectors,
    std::string_view config_dir,
    const std::function<void(const std::string& path, const std::string& message)>& fail);

// Validates `journal` (`present`: the config has the section). Problems go to `fail` as above.
JournalConfig parseJournal(
    const v1::Journal& journal, bool present,
    const std::function<void(const std::string& path, const std::string& message)>& fail);

}  // namespace muzzle
