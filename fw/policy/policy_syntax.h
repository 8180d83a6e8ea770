// How the words of a policy are spelled: names of profiles and groups, DNS name targets, ports,
// and what an error says about an address that is not one. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fw/policy/compiled_policy.h"

namespace muzzle {

// The user's own text in an error: escaped and short.
std::string inQuotes(std::string_view text);

// Letters, digits, '_', '.', '-'; not empty.
bool isValidName(std::string_view name);
// The built-in targets (gateway, local, internet, any): no address group may take their name.
bool isReservedGroupName(std::string_view name);
// Looks like a DNS name rather than a typo of a group: "*.vendor.com", "cloud.vendor.com".
bool looksLikeDomain(std::string_view target);
// A DNS name target as users write it: `host.example.com` or `*.example.com`. Labels of
// letters, digits, '-' and '_' (1-63 characters), at most 253 characters; `*` only as the whole
// first label of a wildcard. Lowercased.
std::optional<NamePattern> parseNamePattern(std::string_view target);
// 1..65535 in decimal, nothing else.
std::optional<uint16_t> parsePort(std::string_view text);
// Why `text` (not an address) is refused: a bad CIDR, or neither IP nor CIDR.
std::string cidrProblem(const std::string& text);

}  // namespace muzzle
