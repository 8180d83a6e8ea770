// What `muzzlectl setup` needs from the box (mgmt/server/services_setup.cc): the network
// interfaces it has (listHostInterfaces, the OS seam: getifaddrs, /sys/class/net and the
// routing table of the calling thread's network namespace), and whether a choice of segments
// and uplinks is one the box can enforce without cutting itself off (checkSetup, pure, tested
// without a box).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fw/common/net.h"
#include "fw/common/status.h"
#include "fw/config/daemon_config.h"

namespace muzzle {

struct HostInterface {
  enum class Kind { kEthernet, kBridge, kLoopback, kVirtual };
  std::string name;
  std::string mac;  // empty when it has none
  bool up = false;  // administratively up and running (carrier)
  std::vector<std::string> addresses;  // "198.18.0.1/24"
  Kind kind = Kind::kEthernet;
  bool default_route = false;  // a default route (IPv4 or IPv6) leaves through it
};
const char* kindName(HostInterface::Kind kind);  // ethernet | bridge | loopback | virtual

// At most this many interfaces are listed (sorted by name); a box with more is not a gateway
// Muzzle is meant for, and the answer stays small.
inline constexpr size_t kMaxListedInterfaces = 256;

// The interfaces of the calling thread's network namespace. Never fails: what cannot be read
// (no /sys, no routing table) is left at its default.
std::vector<HostInterface> listHostInterfaces();

// A management listener the box will keep: its field and its address ("management.tcp.listen",
// "198.18.0.1:7443").
struct ManagementListener {
  std::string field;
  std::string listen;
};

struct SetupAsked {
  std::vector<DaemonSegment> segments;  // an empty name becomes the interface's name
  std::vector<std::string> uplinks;
};

struct SetupChecked {
  std::vector<DaemonSegment> segments;  // with their names filled in
  std::vector<std::string> uplinks;
  std::vector<std::string> warnings;  // "segments[0]: eth0 holds the default route: ..."
};

// Checks a choice against the box's interfaces. Refused (INVALID_ARGUMENT, one line per problem,
// each starting with its field, segments[i] or uplinks[i]): no segment; an interface the box
// does not have (the message lists those it has); loopback; a segment or uplink named twice; an
// uplink that is also a segment; a segment name that is not 1..32 of [A-Za-z0-9_.-]; a segment
// holding the address a management listener uses (management never listens on a segment); a
// segment whose subnets hold `caller` (the address the setup call came from, over TCP: managing
// it would cut the caller off). Warned about: a segment that holds the default route, one that
// is down, no uplink.
Result<SetupChecked> checkSetup(const SetupAsked& asked, const std::vector<HostInterface>& host,
                                const std::vector<ManagementListener>& listeners,
                                std::optional<IpAddress> caller);

}  // namespace muzzle
