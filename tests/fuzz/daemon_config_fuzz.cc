// libFuzzer target for muzzled.yaml: YAML text -> yamlToProto (the config message, with the
// `uplink` scalar-as-list shorthand) -> parseDaemonConfig's validation. Oracle: the sanitizers;
// an error is a non-empty message; an accepted config holds what validation promises (the
// queues fit in 16 bits with the inspection queue, names and interfaces are set and distinct,
// no uplink is a segment, managed segments come with a policy; at most 4 syslog collectors, each
// an address (never unspecified) and a port, a queue in range, TLS files only for tls and a ca
// there, a client certificate with its key). The same text is also read as state_dir/setup.yaml
// (parseSetupFile: `muzzlectl setup`'s choice, a subset of the same message): accepted, it names
// at least one segment, distinct names and interfaces, no uplink that is a segment, and an
// absolute policy path.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "fw/config/daemon_config.h"
#include "fw/config/setup_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto setup = muzzle::parseSetupFile(text, "setup.yaml", "/var/lib/muzzle"); setup.ok()) {
    if (setup->segments.empty() || setup->policy_path.empty() || setup->policy_path[0] != '/') {
      std::abort();
    }
    std::set<std::string> names, interfaces;
    for (const muzzle::DaemonSegment& s : setup->segments) {
      if (s.name.empty() || s.ifname.empty() || s.ifname.size() > 15) std::abort();
      if (!names.insert(s.name).second || !interfaces.insert(s.ifname).second) std::abort();
    }
    for (const std::string& u : setup->uplinks) {
      if (u.empty() || interfaces.count(u) != 0) std::abort();
    }
  } else if (setup.status().message().empty()) {
    std::abort();
  }
  auto parsed = muzzle::parseDaemonConfig(text, "muzzled.yaml", "/etc/muzzle");
  if (!parsed.ok()) {
    if (parsed.status().message().empty()) std::abort();
    return 0;
  }
  const muzzle::DaemonConfig& c = *parsed;
  if (c.queue_count < 1 || c.queue_count > 16) std::abort();
  if (uint32_t{c.queue_first} + c.queue_count > 0xffff) std::abort();  // + the inspection queue
  std::set<std::string> names, interfaces;
  for (const muzzle::DaemonSegment& s : c.segments) {
    if (s.name.empty() || s.ifname.empty() || s.ifname.size() > 15) std::abort();
    if (!names.insert(s.name).second || !interfaces.insert(s.ifname).second) std::abort();
  }
  for (const std::string& u : c.uplinks) {
    if (u.empty() || u.size() > 15 || interfaces.count(u) != 0) std::abort();
  }
  if (!c.segments.empty() && c.policy_path.empty()) std::abort();
  if (c.state_dir.empty()) std::abort();
  if (c.syslog.size() > muzzle::kMaxSyslogCollectors) std::abort();
  for (const muzzle::SyslogCollectorConfig& s : c.syslog) {
    if (s.target.empty() || s.port == 0 || s.address.isUnspecified()) std::abort();
    if (s.queue < 1 || s.queue > muzzle::SyslogCollectorConfig::kMaxQueue) std::abort();
    if (s.facility > 23) std::abort();
    const bool tls = s.transport == muzzle::SyslogTransport::kTls;
    if (tls ? s.ca.empty() : !(s.ca.empty() && s.cert.empty() && s.key.empty())) std::abort();
    if (s.cert.empty() != s.key.empty()) std::abort();
  }
  return 0;
}
