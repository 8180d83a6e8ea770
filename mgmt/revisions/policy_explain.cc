#include "mgmt/revisions/policy_explain.h"

#include "fw/common/excerpt.h"
#include "mgmt/revisions/device_edits.h"

namespace muzzle {
namespace {

// The device's MAC: `device` itself, or the address of the policy entry of that name.
Result<MacAddress> deviceMac(const CompiledPolicy& policy, const std::string& device) {
  if (device.empty()) {
    return Status::error(StatusCode::kInvalidArgument,
                         "device: name a device by its Ethernet address or its policy name");
  }
  if (auto mac = MacAddress::parse(device)) return *mac;
  for (const CompiledDevice& d : policy.devices) {
    if (d.name == device) return d.mac;
  }
  return Status::error(StatusCode::kNotFound,
                       "no device " + quotedExcerpt(device) +
                           ": not an Ethernet address, and no device of the policy has that name");
}

void addRules(const std::vector<CompiledRule>& rules, Direction direction,
              v1::ExplainPolicyResponse* out) {
  for (const CompiledRule& rule : rules) {
    v1::ExplainedRule* r = out->add_rules();
    r->set_direction(directionName(direction));
    r->set_label(rule.label);
    r->set_action(actionName(rule.action));
    r->set_rule(rule.source);
    r->set_file(rule.origin.file());
    r->set_line(static_cast<uint32_t>(rule.origin.line));
    r->set_preset(rule.origin.preset());
  }
}

}  // namespace

Result<v1::ExplainPolicyResponse> explainDevice(const CompiledPolicy& policy,
                                                const std::vector<DeviceRecord>& seen,
                                                const std::string& device) {
  auto mac = deviceMac(policy, device);
  if (!mac.ok()) return mac.status();
  auto found = findDevice(policy, seen, *mac);
  if (!found.ok()) return found.status();

  v1::ExplainPolicyResponse out;
  out.set_mac(mac->toString());
  uint32_t profile = policy.default_profile;
  out.set_assignment("default");
  if (found->listed >= 0) {
    const CompiledDevice& listed = policy.devices[found->listed];
    out.set_name(listed.name);
    profile = listed.profile;
    out.set_assignment("listed");
  } else if (found->seen != nullptr && !found->seen->profile.empty()) {
    // The Judge's own answer for an unlisted device (classified or default, and by what).
    for (uint32_t i = 0; i < policy.profiles.size(); ++i) {
      if (policy.profiles[i].name == found->seen->profile) profile = i;
    }
    out.set_assignment(found->seen->assignment.str());
    out.set_assigned_by(found->seen->assigned_by.str());
  }
  if (profile >= policy.profiles.size()) {
    return Status::error(StatusCode::kUnknown,
                         "the running policy has no profile for " + mac->toString());
  }
  const CompiledProfile& p = policy.profiles[profile];
  out.set_profile(p.name);
  out.set_preset(p.preset);
  out.set_otherwise(actionName(p.otherwise));
  addRules(p.egress, Direction::kEgress, &out);
  addRules(p.inbound, Direction::kInbound, &out);
  return out;
}

}  // namespace muzzle
