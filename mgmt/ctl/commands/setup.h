// `muzzlectl setup`'s pure parts, tested without a box (tests/unit/mgmt/ctl/setup_command_test.cc).
#pragma once

#include <string>
#include <vector>

#include "fw/common/status.h"
#include "muzzle/v1/management.pb.h"

namespace muzzle::ctl {

// `--segment IFACE` or `--segment NAME=IFACE`: the segment's name (empty: the interface's) and
// interface. Refused: an empty interface, an empty name before '='.
Result<v1::SetupSegment> parseSegmentArg(const std::string& arg);
// The words of one answer to a prompt ("eth1 eth2", "eth1, eth2"), empty ones dropped.
std::vector<std::string> wordsOf(const std::string& line);
// The box's interfaces as a table: name, kind, link, MAC, addresses, default route.
std::string interfaceTable(const google::protobuf::RepeatedPtrField<v1::NetworkInterface>& list);

}  // namespace muzzle::ctl
