#include "fw/policy/policy_explain.h"

namespace muzzle {
namespace {

const char* protoName(ProtoMatch proto) {
  switch (proto) {
    case ProtoMatch::kTcp:
      return "tcp";
    case ProtoMatch::kUdp:
      return "udp";
    case ProtoMatch::kIcmp:
      return "icmp";
    case ProtoMatch::kAny:
      break;
  }
  return "any";
}

}  // namespace

std::string describeRule(const CompiledRule& rule) {
  std::string out = actionName(rule.action);
  out += std::string(" proto=") + protoName(rule.proto);
  out += " ports=";
  for (size_t i = 0; i < rule.ports.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(rule.ports[i].lo);
    if (rule.ports[i].hi != rule.ports[i].lo) out += "-" + std::to_string(rule.ports[i].hi);
  }
  out += " builtins=";
  if (rule.builtins & kTargetGateway) out += "gateway,";
  if (rule.builtins & kTargetLocal) out += "local,";
  if (rule.builtins & kTargetInternet) out += "internet,";
  // Its own addresses, then each group's in the order the rule names them.
  out += " addresses=[" + rule.addresses.describe() + "]";
  for (const auto& group : rule.groups) out += " group=[" + group->describe() + "]";
  out += " names=[";
  const auto names = rule.names.patterns();
  for (size_t i = 0; i < names.size(); ++i) out += (i ? "," : "") + names[i];
  out += "]";
  if (rule.log) out += " log";
  if (rule.schedule >= 0) out += " when=#" + std::to_string(rule.schedule);
  return out;
}

std::string describeProfile(const CompiledProfile& profile) {
  std::string out = std::string("otherwise ") + actionName(profile.otherwise) + "\n";
  for (const CompiledRule& rule : profile.egress) out += "egress " + describeRule(rule) + "\n";
  for (const CompiledRule& rule : profile.inbound) out += "inbound " + describeRule(rule) + "\n";
  return out;
}

}  // namespace muzzle
