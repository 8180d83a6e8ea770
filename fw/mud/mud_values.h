// Internal to fw/mud: reading the values of a MUD file with the JSON path in every error, and
// spelling what it names the way a policy does. Pure; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fw/common/status.h"

namespace muzzle::mud {

// kInvalidArgument "PATH: MESSAGE".
Status bad(const std::string& path, const std::string& message);
// "ietf-access-control-list:accept" and "accept" alike: identities may carry their module.
std::string_view withoutModule(std::string_view s);
// A group name out of a URI or a domain: lowercase letters, digits and '-', at most 80. Dots
// are left out on purpose: a target with a dot that names no group reads as a DNS name to the
// policy compiler.
std::string groupSafe(std::string_view text);
std::string_view withoutScheme(std::string_view uri);
// An integer in [lo, hi]; `what` completes "N is not ..." ("a port").
Result<int64_t> integer(const nlohmann::json& j, const std::string& path, int64_t lo, int64_t hi,
                        const char* what);
Result<std::string> text(const nlohmann::json& j, const std::string& path);
// A port condition as Muzzle port strings ("554", "8000-8010"); port 0 is left out of ranges
// (no connection uses it). RFC 8519: {operator, port} (eq, lte, gte, neq) or {lower-port,
// upper-port}; the draft's *-port-range objects are the latter.
Result<std::vector<std::string>> ports(const nlohmann::json& j, const std::string& path);

}  // namespace muzzle::mud
