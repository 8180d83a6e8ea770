// Profiles and their rules: targets (built-ins, groups, addresses, DNS names), protocols, ports.
#include <algorithm>

#include "fw/common/excerpt.h"
#include "fw/policy/policy_compiler.h"
#include "fw/policy/policy_syntax.h"

namespace muzzle {
namespace {

// What sourceOf lists of one rule's targets or ports before it only counts the rest: every
// compiled rule keeps its text, and a rule may name 1,000 targets (policy_limits.h).
constexpr size_t kMaxSourceListBytes = 160;

// `items`, comma-separated after a space, each escaped and cut (excerpt.h); past
// kMaxSourceListBytes, "+N more".
template <typename List>
void appendList(const List& items, std::string* text) {
  size_t bytes = 0;
  for (int i = 0; i < items.size(); ++i) {
    if (bytes > kMaxSourceListBytes) {
      *text += " +" + std::to_string(items.size() - i) + " more";
      return;
    }
    const std::string item = excerpt(items[i]);
    *text += (i == 0 ? " " : ",") + item;
    bytes += item.size() + 1;
  }
}

}  // namespace

// A `when` as written, on one line: "mon-fri 07:00-19:00", "sat,sun", "22:00-06:00".
std::string scheduleText(const v1::Schedule& when) {
  std::string text;
  appendList(when.days(), &text);
  if (!when.hours().empty()) text += " " + excerpt(when.hours());
  return text.empty() ? text : text.substr(1);
}

namespace {

// The rule as written, on one line of bounded length: "allow nvr tcp 554,8000 log",
// "allow cloud tcp 443 when mon-fri 07:00-19:00".
std::string sourceOf(const v1::Rule& rule) {
  const bool allow = rule.allow_size() > 0;
  std::string text = allow ? "allow" : "deny";
  appendList(allow ? rule.allow() : rule.deny(), &text);
  if (!rule.proto().empty()) text += " " + excerpt(rule.proto());
  appendList(rule.ports(), &text);
  if (rule.log()) text += " log";
  if (rule.has_when()) text += " when " + scheduleText(rule.when());
  return text;
}

}  // namespace

CompiledProfile PolicyCompiler::compileProfile(const std::string& name,
                                               const v1::Profile& profile) {
  CompiledProfile compiled;
  compiled.name = name;
  compiled.preset = profile.preset();
  const std::string path = "profiles." + name;
  const Preset* base = nullptr;
  if (!profile.preset().empty()) {
    preset_field_ = path + ".preset";
    base = preset(profile.preset(), preset_field_);
  }
  const std::string base_path = base ? "profiles." + base->name : std::string();
  if (base != nullptr && profile.otherwise().empty()) {
    in_preset_ = base;
    compiled.otherwise = compileOtherwise(base->profile->otherwise(), base_path + ".otherwise");
    in_preset_ = nullptr;
  } else {
    compiled.otherwise = compileOtherwise(profile.otherwise(), path + ".otherwise");
  }
  // Sized once: rules are large (~370 bytes) and a policy keeps thousands, so growing by doubling
  // would leave up to half of each list unused for as long as the policy runs.
  compiled.egress.reserve(profile.egress_size() + (base ? base->profile->egress_size() : 0));
  compiled.inbound.reserve(profile.inbound_size() + (base ? base->profile->inbound_size() : 0));
  // The site's own rules first, so a site may allow or deny something before its preset does.
  appendRules(profile.egress(), path + ".egress", nullptr, true, &compiled);
  if (base != nullptr) {
    appendRules(base->profile->egress(), base_path + ".egress", base, true, &compiled);
  }
  appendRules(profile.inbound(), path + ".inbound", nullptr, false, &compiled);
  if (base != nullptr) {
    appendRules(base->profile->inbound(), base_path + ".inbound", base, false, &compiled);
    // The counts of the site's text were checked before compiling (countProblems); what the
    // preset adds is checked here.
    for (const auto* list : {&compiled.egress, &compiled.inbound}) {
      if (list->size() > kMaxRulesPerProfile) {
        fail(preset_field_, "with the preset's rules, this profile has " +
                                std::to_string(list->size()) +
                                " rules in one direction, more than " +
                                std::to_string(kMaxRulesPerProfile) + "; split the profile");
      }
    }
    preset_rules_ += base->profile->egress_size() + base->profile->inbound_size();
    if (site_rules_ + preset_rules_ > kMaxRules && !rules_over_reported_) {
      rules_over_reported_ = true;
      fail(preset_field_, "with this preset's rules, the policy has more than " +
                              std::to_string(kMaxRules) + " rules; use fewer profiles");
    }
  }
  compileLimits(profile, path, &compiled);
  if (base != nullptr) {
    in_preset_ = base;
    compileLimits(*base->profile, base_path, &compiled);
    in_preset_ = nullptr;
  }
  compileTrafficClasses(&compiled);
  return compiled;
}

Action PolicyCompiler::compileOtherwise(const std::string& text, const std::string& path) {
  if (text.empty() || text == "reject") return Action::kReject;
  if (text == "drop") return Action::kDrop;
  fail(path, inQuotes(text) + " is not an action (reject or drop)");
  return Action::kReject;
}

void PolicyCompiler::appendRules(const google::protobuf::RepeatedPtrField<v1::Rule>& rules,
                                 const std::string& from, const Preset* preset, bool egress,
                                 CompiledProfile* out) {
  std::vector<CompiledRule>& list = egress ? out->egress : out->inbound;
  const std::string label = "profiles." + out->name + (egress ? ".egress[" : ".inbound[");
  in_preset_ = preset;
  for (int i = 0; i < rules.size(); ++i) {
    const std::string path = from + "[" + std::to_string(i) + "]";
    CompiledRule rule = compileRule(rules[i], path, out->otherwise, egress);
    rule.label = label + std::to_string(list.size()) + "]";
    if (preset != nullptr) {
      rule.origin = RuleOrigin{preset->origin, preset->map.lineOf(path)};
    } else {
      if (!site_origin_) {
        site_origin_ =
            std::make_shared<const RuleOrigin::File>(RuleOrigin::File{sink_->file(), ""});
      }
      rule.origin = RuleOrigin{site_origin_, map_.lineOf(path)};
    }
    rule.source = sourceOf(rules[i]);
    list.push_back(std::move(rule));
  }
  in_preset_ = nullptr;
}

CompiledRule PolicyCompiler::compileRule(const v1::Rule& rule, const std::string& path,
                                         Action otherwise, bool egress) {
  CompiledRule compiled;
  compiled.label = path;
  compiled.log = rule.log();

  const bool has_allow = rule.allow_size() > 0;
  const bool has_deny = rule.deny_size() > 0;
  if (has_allow && has_deny) {
    fail(path, "a rule has allow or deny, not both; split it into two rules");
  } else if (!has_allow && !has_deny) {
    fail(path, "a rule needs allow or deny (a list of targets)");
  }
  compiled.action = has_allow ? Action::kAllow : otherwise;
  compiled.schedule = compileSchedule(rule.has_when(), rule.when(), path);
  const char* key = has_allow ? "allow" : "deny";
  const auto& targets = has_allow ? rule.allow() : rule.deny();
  std::unordered_set<const AddressSet*> groups;  // named already by this rule
  for (int i = 0; i < targets.size(); ++i) {
    addTarget(targets[i], path + "." + key + "[" + std::to_string(i) + "]", egress, &groups,
              &compiled);
    // A traffic class only where allowed traffic can go: a group an allow rule names.
    const std::string& t = targets[i];
    if (has_allow && (groups_.count(t) != 0 || group_names_.count(t) != 0) &&
        std::find(rule_groups_.begin(), rule_groups_.end(), t) == rule_groups_.end()) {
      rule_groups_.push_back(t);
    }
  }
  compiled.addresses.finalize();

  const std::string& proto = rule.proto();
  if (proto.empty() || proto == "any") {
    compiled.proto = ProtoMatch::kAny;
  } else if (proto == "tcp") {
    compiled.proto = ProtoMatch::kTcp;
  } else if (proto == "udp") {
    compiled.proto = ProtoMatch::kUdp;
  } else if (proto == "icmp") {
    compiled.proto = ProtoMatch::kIcmp;
  } else {
    fail(path + ".proto", inQuotes(proto) + " is not a protocol (tcp, udp, icmp or any)");
  }

  if (rule.ports_size() > 0 && compiled.proto != ProtoMatch::kTcp &&
      compiled.proto != ProtoMatch::kUdp) {
    fail(path + ".ports", "ports need proto: tcp or proto: udp");
  }
  for (int i = 0; i < rule.ports_size(); ++i) {
    const std::string& text = rule.ports(i);
    const std::string port_path = path + ".ports[" + std::to_string(i) + "]";
    const size_t dash = text.find('-');
    if (dash == std::string::npos) {
      if (auto port = parsePort(text)) {
        compiled.ports.push_back(PortRange{*port, *port});
      } else {
        fail(port_path, excerpt(text) + " is not a port");
      }
      continue;
    }
    const auto lo = parsePort(std::string_view(text).substr(0, dash));
    const auto hi = parsePort(std::string_view(text).substr(dash + 1));
    if (!lo || !hi) {
      fail(port_path, excerpt(text) + " is not a port range (e.g. 8000-8010)");
    } else if (*lo > *hi) {
      fail(port_path, excerpt(text) + " is not a port range (the low port comes first)");
    } else {
      compiled.ports.push_back(PortRange{*lo, *hi});
    }
  }
  return compiled;
}

int16_t PolicyCompiler::compileSchedule(bool has_when, const v1::Schedule& when,
                                        const std::string& path) {
  if (!has_when) return -1;
  const std::string field = path + ".when";
  if (when.days_size() == 0 && when.hours().empty()) {
    fail(field, "a schedule needs days, hours or both (e.g. {days: [mon-fri], hours: "
                "\"07:00-19:00\"}); leave when out for a rule that always holds");
    return -1;
  }
  CompiledSchedule schedule;
  bool ok = true;
  if (when.days_size() > 0) {
    schedule.days = 0;
    for (int i = 0; i < when.days_size(); ++i) {
      const std::string problem = parseScheduleDays(when.days(i), &schedule.days);
      if (!problem.empty()) {
        fail(field + ".days[" + std::to_string(i) + "]", inQuotes(when.days(i)) + " " + problem);
        ok = false;
      }
    }
  }
  if (!when.hours().empty()) {
    const std::string problem = parseScheduleHours(when.hours(), &schedule.start, &schedule.end);
    if (!problem.empty()) {
      fail(field + ".hours", inQuotes(when.hours()) + " " + problem);
      ok = false;
    }
  }
  if (!ok) return -1;
  for (size_t i = 0; i < schedules_.size(); ++i) {
    if (schedules_[i].sameWindow(schedule)) return static_cast<int16_t>(i);
  }
  if (schedules_.size() >= kMaxSchedules) {
    fail(field, "a policy may have at most " + std::to_string(kMaxSchedules) +
                    " different when windows, and this is one more; give rules that should "
                    "hold at the same times the same days and hours");
    return -1;
  }
  schedule.text = scheduleText(when);
  schedules_.push_back(std::move(schedule));
  return static_cast<int16_t>(schedules_.size() - 1);
}

std::shared_ptr<const AddressSet> PolicyCompiler::groupSet(GroupAddresses& group) {
  if (!group.set) {
    auto built = std::make_shared<AddressSet>();
    built->addAll(group.cidrs);
    built->finalize();
    group.set = std::move(built);
  }
  return group.set;
}

void PolicyCompiler::addTarget(const std::string& target, const std::string& path, bool egress,
                               std::unordered_set<const AddressSet*>* groups, CompiledRule* rule) {
  if (target == "gateway") {
    rule->builtins |= kTargetGateway;
  } else if (target == "local") {
    rule->builtins |= kTargetLocal;
  } else if (target == "internet") {
    rule->builtins |= kTargetInternet;
  } else if (auto group = groups_.find(target); group != groups_.end()) {
    if (group->second.count != 0) {
      auto set = groupSet(group->second);
      if (groups->insert(set.get()).second) rule->groups.push_back(std::move(set));
    }
    if (auto names = group_names_.find(target); names != group_names_.end()) {
      if (!egress) {
        fail(path, "address group " + inQuotes(target) +
                       " holds DNS names; names only apply to egress rules (where a device "
                       "goes), use a group of addresses for inbound");
      } else if (spend(rule_names_, names->second.size(), path)) {
        for (const NamePattern& pattern : names->second) rule->names.add(pattern);
      }
    }
  } else if (auto cidr = Cidr::parse(target)) {
    if (spend(addresses_, 1, path)) rule->addresses.add(*cidr);
  } else if (target.find('/') != std::string::npos) {
    fail(path, cidrProblem(target));
  } else if (looksLikeDomain(target)) {
    auto pattern = parseNamePattern(target);
    if (!pattern) {
      fail(path, inQuotes(target) +
                     " is not a valid DNS name target (host.example.com or *.example.com; "
                     "letters, digits, - and _)");
    } else if (!egress) {
      fail(path, inQuotes(target) +
                     " is a DNS name; names only apply to egress rules (where a device goes), "
                     "use addresses for inbound");
    } else if (spend(rule_names_, 1, path)) {
      rule->names.add(*pattern);
    }
  } else if (in_preset_ != nullptr && isValidName(target)) {
    missingPresetGroup(target, path);
  } else {
    fail(path, inQuotes(target) +
                   " is not an address group, IP, CIDR or built-in (gateway, local, internet)");
  }
}

}  // namespace muzzle
