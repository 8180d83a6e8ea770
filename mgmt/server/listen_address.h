// The listen-address check every TCP listener of muzzled shares (management.tcp, the metrics
// endpoint, the web console): one canonical spelling per address, never a wildcard or a managed
// segment's address. Plain C library calls (no gRPC, no Boost), so the small servers link it
// without the management server.
#pragma once

#include <string>
#include <vector>

#include "fw/common/status.h"

namespace muzzle {

// Checks a TCP listen address and returns it spelled canonically ("198.18.0.1:7443",
// "[fd00::1]:7443"), which is what gRPC is then given, so no other spelling is ever bound.
// The host must be a literal IP; every spelling the C library accepts for one ("198.18.2561",
// "::ffff:198.18.10.1", "0:0::0", ...) is reduced to its address first (an IPv4-mapped IPv6
// address to its IPv4 address). Refused: a wildcard (which would include the segments) and an
// address of a managed segment's interface (`segment_addresses`). Errors start with `field`
// (management.metrics.listen is checked the same way, its field given with file and line).
Result<std::string> checkListenAddress(const std::string& listen,
                                       const std::vector<std::string>& segment_addresses,
                                       const std::string& field = "management.tcp.listen");
// The addresses of the given interfaces (getifaddrs).
std::vector<std::string> interfaceAddresses(const std::vector<std::string>& ifnames);

}  // namespace muzzle
