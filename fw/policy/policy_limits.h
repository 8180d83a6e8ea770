// How much one policy may ask of the box. A policy can arrive over the management API from any
// caller allowed to validate one, so every cost its text drives is bounded here, on top of the
// YAML document's own budget (fw/config/yaml_document.h) and the size of the files it names
// (fw/common/confined_file.h). Each bound is far above what a real site writes (the bench's
// policy: 1,000 devices, 100 profiles of 22 rules, a 10,000-entry list, 50 names named by every
// profile) and each has an error that names it and where it was passed.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "muzzle/v1/policy.pb.h"

namespace muzzle {

// Counts in the policy text.
inline constexpr size_t kMaxProfiles = 10'000;
// Per direction (egress, inbound): the data plane tries a profile's rules in turn.
inline constexpr size_t kMaxRulesPerProfile = 1'000;
// Volume limits: each keeps a window per device that has traffic in its class (volume_limits.h).
inline constexpr size_t kMaxLimitsPerProfile = 16;
inline constexpr size_t kMaxRules = 20'000;          // over all profiles
inline constexpr size_t kMaxTargetsPerRule = 1'000;  // allow/deny entries of one rule
inline constexpr size_t kMaxPortsPerRule = 1'000;    // tried in turn per packet
inline constexpr size_t kMaxAddressGroups = 10'000;
inline constexpr size_t kMaxDevices = 100'000;
inline constexpr size_t kMaxClassifyRules = 10'000;
inline constexpr size_t kMaxResolvers = 1'000;  // dns.resolvers entries
// Distinct `when` windows (rules with the same days and hours share one): the engine keeps
// which hold as the bits of one ScheduleMask (schedule.h).
inline constexpr size_t kMaxSchedules = 64;

// Counts after expansion: what the compiled policy holds once every group is resolved.
// One group's entries, inline or from its file (and the DoH list's).
inline constexpr size_t kMaxGroupEntries = 1'000'000;
// The DoH list's entries: held in the compiled policy's AddressSet (CompiledDns::doh), which
// decide() searches for a flow to port 443.
inline constexpr size_t kMaxDohEntries = 100'000;
// Addresses over the whole policy: groups, DoH list, the rules' own literals and the resolvers
// (a resolver naming a group copies it).
inline constexpr size_t kMaxAddresses = 4'000'000;
// DNS names over all rules: a rule naming a group of names holds its own copy of them, so this
// is rules x names.
inline constexpr size_t kMaxRuleNames = 500'000;

// Files the policy names: each at most kMaxNamedFileBytes, and all of them together at most
// this (a group file named by many groups is read once per group).
inline constexpr size_t kMaxNamedFilesBytes = size_t{64} << 20;

// A count of the policy text past its bound: the field path and what is wrong.
struct CountProblem {
  std::string path;
  std::string message;
};

// The counts of the policy text itself (profiles, rules, targets, ports, groups, entries,
// devices, classify rules, resolvers), checked before anything is built from it. Empty: all
// within their bounds.
std::vector<CountProblem> countProblems(const v1::Policy& policy);

}  // namespace muzzle
