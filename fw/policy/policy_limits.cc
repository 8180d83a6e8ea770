#include "fw/policy/policy_limits.h"

#include <algorithm>

namespace muzzle {
namespace {

// Checks `count` items at the path `path()` makes against `limit`; the problem says what and the
// limit. The path is made only for a problem: this runs for every rule of a large site.
template <typename Path>
void withinLimit(size_t count, size_t limit, const Path& path, const char* what, const char* fix,
                 std::vector<CountProblem>* problems) {
  if (count <= limit) return;
  problems->push_back({std::string(path()), std::to_string(count) + " " + what +
                                                "; at most " + std::to_string(limit) +
                                                " are allowed: " + fix});
}

// A path that is already text.
auto at(std::string_view path) {
  return [path] { return path; };
}

}  // namespace

std::vector<CountProblem> countProblems(const v1::Policy& policy) {
  std::vector<CountProblem> problems;
  withinLimit(policy.profiles().size(), kMaxProfiles, at("profiles"), "profiles",
              "give devices that act alike one profile", &problems);
  withinLimit(policy.addresses().size(), kMaxAddressGroups, at("addresses"), "address groups",
              "merge groups", &problems);
  withinLimit(policy.devices_size(), kMaxDevices, at("devices"), "devices",
              "split the site over more boxes", &problems);
  withinLimit(policy.classify_size(), kMaxClassifyRules, at("classify"), "classify rules",
              "match wider (vendor_prefix)", &problems);
  if (policy.has_dns()) {
    withinLimit(policy.dns().resolvers_size(), kMaxResolvers, at("dns.resolvers"), "resolvers",
                "name a group or a CIDR instead", &problems);
  }
  for (const auto& [name, group] : policy.addresses()) {
    const auto path = [&name = name] { return "addresses." + name; };
    withinLimit(group.entries_size(), kMaxGroupEntries, path, "entries in one group",
                "split it into several groups", &problems);
  }
  size_t rules = 0;
  for (const auto& [name, profile] : policy.profiles()) {
    const auto path = [&name = name](const char* field) { return "profiles." + name + field; };
    rules += profile.egress_size() + profile.inbound_size();
    withinLimit(profile.egress_size(), kMaxRulesPerProfile, [&] { return path(".egress"); },
                "egress rules in one profile", "merge rules with the same ports", &problems);
    withinLimit(profile.inbound_size(), kMaxRulesPerProfile, [&] { return path(".inbound"); },
                "inbound rules in one profile", "merge rules with the same ports", &problems);
    withinLimit(profile.limits_size(), kMaxLimitsPerProfile, [&] { return path(".limits"); },
                "limits in one profile", "limit wider targets (internet, or leave `to` out)",
                &problems);
    for (const auto* list : {&profile.egress(), &profile.inbound()}) {
      const char* key = list == &profile.egress() ? ".egress[" : ".inbound[";
      for (int i = 0; i < list->size(); ++i) {
        const v1::Rule& rule = (*list)[i];
        const auto rule_path = [&] { return path(key) + std::to_string(i) + "]"; };
        withinLimit(std::max(rule.allow_size(), rule.deny_size()), kMaxTargetsPerRule, rule_path,
                    "targets in one rule", "put the addresses in an address group and name it",
                    &problems);
        withinLimit(rule.ports_size(), kMaxPortsPerRule, [&] { return rule_path() + ".ports"; },
                    "ports in one rule", "use port ranges (8000-8010)", &problems);
      }
    }
  }
  withinLimit(rules, kMaxRules, at("profiles"), "rules over all profiles",
              "give devices that act alike one profile", &problems);
  return problems;
}

}  // namespace muzzle
