// libFuzzer target for muzzled.yaml: YAML text -> yamlToProto (the config message, with the
// `uplink` scalar-as-list shorthand) -> parseDaemonConfig's validation. Oracle: the sanitizers;
// an error is a non-empty message; an accepted config holds what validation promises (the
// queues fit in 16 bits with the inspection queue, names and interfaces are set and distinct,
// no uplink is a segment, managed segments come with a policy).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "fw/config/daemon_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
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
  return 0;
}
