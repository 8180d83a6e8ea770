// What one policy may ask of the box: each bound in policy_limits.h has an error that names it
// and the place that passed it, and the policy is refused before the cost is paid.
#include "fw/policy/policy_limits.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "fw/policy/address_list.h"
#include "fw/policy/policy_loader.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

std::string errorOf(const std::string& yaml) {
  auto result = compilePolicyText(yaml, "p.yaml", SiteFacts{});
  REQUIRE_FALSE(result.ok());
  return result.status().message();
}

// `count` copies of `item`, comma-separated, in flow style.
std::string repeated(size_t count, const std::string& item) {
  std::string text;
  text.reserve(count * (item.size() + 2));
  for (size_t i = 0; i < count; ++i) text += (i ? ", " : "") + item;
  return text;
}

// A policy one past a bound: `head`, `count` copies of `item`, `tail`; and the error it gets.
struct PastBound {
  std::string head;
  size_t count;
  std::string item, tail, error;
};

TEST_CASE("limits: counts of the policy text, each named with its place") {
  const std::string egress = "version: 1\nprofiles:\n  quarantine:\n    egress:\n      - allow: ";
  const PastBound rows[] = {
      {"version: 1\nprofiles: {quarantine: {egress: [", kMaxRulesPerProfile + 1,
       "{allow: [gateway]}", "]}}\n",
       "p.yaml:2: profiles.quarantine.egress: 1001 egress rules in one profile; at most 1000 are "
       "allowed: merge rules with the same ports"},
      {egress + "[", kMaxTargetsPerRule + 1, "gateway", "]\n",
       "p.yaml:5: profiles.quarantine.egress[0]: 1001 targets in one rule; at most 1000 are "
       "allowed: put the addresses in an address group and name it"},
      {egress + "[gateway]\n        proto: tcp\n        ports: [", kMaxPortsPerRule + 1, "80",
       "]\n",
       "p.yaml:7: profiles.quarantine.egress[0].ports: 1001 ports in one rule; at most 1000 are "
       "allowed: use port ranges (8000-8010)"},
      {"version: 1\nprofiles: {quarantine: {}}\ndevices: [", kMaxDevices + 1, "{}", "]\n",
       "p.yaml:3: devices: 100001 devices; at most 100000 are allowed: split the site over more "
       "boxes"},
      {"version: 1\nprofiles: {quarantine: {}}\nclassify: [", kMaxClassifyRules + 1, "{}", "]\n",
       "p.yaml:3: classify: 10001 classify rules; at most 10000 are allowed: match wider "
       "(vendor_prefix)"},
      {"version: 1\nprofiles: {quarantine: {}}\ndns: {resolvers: [", kMaxResolvers + 1, "gateway",
       "]}\n",
       "p.yaml:3: dns.resolvers: 1001 resolvers; at most 1000 are allowed: name a group or a "
       "CIDR instead"},
  };
  for (const PastBound& row : rows) {
    CAPTURE(row.head);
    CHECK(errorOf(row.head + repeated(row.count, row.item) + row.tail) == row.error);
  }
}

TEST_CASE("limits: profiles, groups and rules over all profiles") {
  std::string profiles = "version: 1\nprofiles:\n";
  for (size_t i = 0; i <= kMaxProfiles; ++i) profiles += "  p" + std::to_string(i) + ": {}\n";
  CHECK(errorOf(profiles) ==
        "p.yaml:2: profiles: 10001 profiles; at most 10000 are allowed: "
        "give devices that act alike one profile");
  std::string groups = "version: 1\nprofiles: {quarantine: {}}\naddresses:\n";
  for (size_t i = 0; i <= kMaxAddressGroups; ++i) groups += "  g" + std::to_string(i) + ": []\n";
  CHECK(errorOf(groups) ==
        "p.yaml:3: addresses: 10001 address groups; at most 10000 are "
        "allowed: merge groups");
  // 21 profiles of 1,000 rules each pass one by one, not together.
  const std::string rules =
      "{egress: [" + repeated(kMaxRulesPerProfile, "{allow: [gateway]}") + "]}";
  std::string many = "version: 1\nprofiles:\n";
  many += "  p0: &p0 " + rules + "\n";
  for (size_t i = 1; i <= kMaxRules / kMaxRulesPerProfile; ++i) {
    many += "  p" + std::to_string(i) + ": *p0\n";
  }
  CHECK(errorOf(many) ==
        "p.yaml:2: profiles: 21000 rules over all profiles; at most 20000 are "
        "allowed: give devices that act alike one profile");
}

TEST_CASE("limits: DNS names over all rules count each rule's copy of a group") {
  // A group of 1,000 names named by 501 rules is 501,000 names to hold.
  std::string names;
  for (int i = 0; i < 1000; ++i)
    names += std::string(i ? ", " : "") + "h" + std::to_string(i) + ".example";
  const std::string rules = repeated(250, "{allow: [cloud]}");
  const std::string yaml = "version: 1\naddresses:\n  cloud: [" + names +
                           "]\nprofiles:\n  a: {egress: [" + rules + "]}\n  b: {egress: [" + rules +
                           "]}\n  quarantine: {egress: [{allow: [cloud]}]}\n";
  CHECK(errorOf(yaml) ==
        "p.yaml:7: profiles.quarantine.egress[0].allow[0]: with this, the DNS names over all rules "
        "(a rule naming a group of names holds a copy) would be more than 500000; name fewer "
        "groups of names, or in fewer rules");
}

TEST_CASE("limits: one list's entries") {
  std::string text;
  for (int i = 0; i < 12; ++i) text += "198.18.0." + std::to_string(i) + "\n";
  const AddressList list = parseAddressList(text, 10);
  CHECK(list.over_limit);
  CHECK(list.cidrs.size() == 10);
  CHECK_FALSE(parseAddressList(text, 12).over_limit);
}

TEST_CASE("limits: past 100 errors, the rest are counted") {
  std::string yaml = "version: 1\nprofiles:\n  quarantine:\n    egress:\n";
  for (int i = 0; i < 150; ++i) yaml += "      - {allow: [nowhere" + std::to_string(i) + "]}\n";
  const std::string message = errorOf(yaml);
  CHECK(std::count(message.begin(), message.end(), '\n') == 100);
  CHECK(message.ends_with("\np.yaml: 50 more errors not shown; fix these first"));
}

TEST_CASE("limits: errors quote the user's own text escaped and short") {
  CHECK(errorOf("version: 1\nprofiles: {quarantine: {egress: [{allow: [\"" + std::string(300, 'x') +
                "\"]}]}}\n") ==
        "p.yaml:2: profiles.quarantine.egress[0].allow[0]: \"" + std::string(40, 'x') +
            "...\" is not an address group, IP, CIDR or built-in (gateway, local, internet)");
  CHECK(errorOf("version: 1\nprofiles:\n  \"cam\\e[31m\": {}\n  quarantine: {}\n") ==
        "p.yaml:3: profiles.cam\\x1b[31m: \"cam\\x1b[31m\" is not a valid profile name (use "
        "letters, digits, _ . -)");
  CHECK(errorOf("version: 1\nprofiles:\n  quarantine:\n    egress: [{allow: [gateway], proto: "
                "tcp, ports: [\"8\\t0\"]}]\n") ==
        "p.yaml:4: profiles.quarantine.egress[0].ports[0]: 8\\x090 is not a port");
}

}  // namespace
}  // namespace muzzle
