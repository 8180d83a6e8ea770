#include "fw/policy/policy_compiler.h"

#include <algorithm>

#include "fw/policy/policy_syntax.h"

namespace muzzle {
namespace {

constexpr uint32_t kPolicyVersion = 1;
constexpr char kDefaultProfile[] = "quarantine";

}  // namespace

void PolicyCompiler::compile(const v1::Policy& policy, CompiledPolicy* out) {
  // Counts first: a policy past one of them is not compiled further.
  if (const auto problems = countProblems(policy); !problems.empty()) {
    for (const auto& [path, message] : problems) fail(path, message);
    return;
  }
  if (policy.version() != kPolicyVersion) {
    if (policy.version() == 0 && map_.lineOf("version") == 0) {
      fail("version", "missing; start the file with \"version: 1\"");
    } else {
      fail("version", std::to_string(policy.version()) + " is not a supported version (1)");
    }
  }
  compileGroups(policy);
  for (const auto& [name, profile] : policy.profiles()) {
    site_rules_ += profile.egress_size() + profile.inbound_size();
  }

  // Sorted, so profile indices (and traffic classes) are the same for the same file.
  std::vector<std::string> names;
  for (const auto& [name, profile] : policy.profiles()) names.push_back(name);
  std::sort(names.begin(), names.end());
  // The groups limits name get their traffic classes first: only those past the box's room for
  // classes are an error (compile_traffic.cc), not a group some rule happened to name earlier.
  for (const std::string& name : names) {
    for (const v1::Limit& limit : policy.profiles().at(name).limits()) {
      if (groups_.count(limit.to()) != 0 || group_names_.count(limit.to()) != 0) {
        groupClass(limit.to());
      }
    }
  }
  for (const std::string& name : names) {
    if (!isValidName(name)) {
      fail("profiles." + name,
           inQuotes(name) + " is not a valid profile name (use letters, digits, _ . -)");
    }
    profile_index_.emplace(name, static_cast<uint32_t>(out->profiles.size()));
    out->profiles.push_back(compileProfile(name, policy.profiles().at(name)));
  }
  out->schedules = std::move(schedules_);

  const std::string default_name =
      policy.defaults().profile().empty() ? kDefaultProfile : policy.defaults().profile();
  if (auto it = profile_index_.find(default_name); it != profile_index_.end()) {
    out->default_profile = it->second;
  } else if (policy.defaults().profile().empty()) {
    fail("defaults.profile",
         "no profile \"" + default_name +
             "\" (the default for devices not listed); define it or set defaults.profile");
  } else {
    fail("defaults.profile", inQuotes(default_name) + " is not a defined profile");
  }

  out->traffic_classes = traffic_classes_;
  compileDevices(policy, out);
  compileClassify(policy, out);
  compileSite(out);
  compileDns(policy, out);
  compileMud(policy, out);
}

bool PolicyCompiler::spend(Budget& budget, size_t n, const std::string& path) {
  if (n <= budget.limit - budget.used) {
    budget.used += n;
    return true;
  }
  if (!budget.reported) {
    budget.reported = true;
    fail(path, std::string("with this, ") + budget.what + " would be more than " +
                   std::to_string(budget.limit) + "; " + budget.fix);
  }
  return false;
}

void PolicyCompiler::compileSite(CompiledPolicy* out) {
  for (const SegmentFacts& facts : site_.segments) {
    CompiledSegment segment;
    segment.name = facts.name;
    segment.ifindex = facts.ifindex;
    for (const IpAddress& ip : facts.gateway_addresses) segment.gateway.add(Cidr::host(ip));
    for (const Cidr& cidr : facts.subnets) segment.local.add(cidr);
    segment.gateway.finalize();
    segment.local.finalize();
    out->segments.push_back(std::move(segment));
  }
  for (const IpAddress& ip : site_.box_addresses) out->box_addresses.add(Cidr::host(ip));
  out->box_addresses.finalize();
}

}  // namespace muzzle
