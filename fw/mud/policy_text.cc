#include "fw/mud/policy_text.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "fw/config/yaml_sections.h"

namespace muzzle {
namespace {

void emitRule(YAML::Emitter& out, const v1::Rule& rule, const std::string& comment) {
  out << YAML::Flow << YAML::BeginMap;
  const bool allow = rule.allow_size() > 0 || rule.deny_size() == 0;
  out << YAML::Key << (allow ? "allow" : "deny") << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const std::string& t : allow ? rule.allow() : rule.deny()) out << t;
  out << YAML::EndSeq;
  if (!rule.proto().empty()) out << YAML::Key << "proto" << YAML::Value << rule.proto();
  if (rule.ports_size() > 0) {
    out << YAML::Key << "ports" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const std::string& p : rule.ports()) out << p;
    out << YAML::EndSeq;
  }
  if (rule.log()) out << YAML::Key << "log" << YAML::Value << true;
  // A learning proposal keeps the profile's scheduled rules: written without `when`, a rule
  // meant for office hours would hold all day.
  if (rule.has_when()) {
    const v1::Schedule& when = rule.when();
    out << YAML::Key << "when" << YAML::Value << YAML::Flow << YAML::BeginMap;
    if (when.days_size() > 0) {
      out << YAML::Key << "days" << YAML::Value << YAML::Flow << YAML::BeginSeq;
      for (const std::string& d : when.days()) out << d;
      out << YAML::EndSeq;
    }
    if (!when.hours().empty()) {
      out << YAML::Key << "hours" << YAML::Value << YAML::DoubleQuoted << when.hours();
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  if (!comment.empty()) out << YAML::Comment(comment);
}

// "NAME:\n  egress:\n    - {...}  # comment\n" at indentation 0.
std::string emitEntry(const ProfileText& e) {
  const v1::Profile& p = *e.profile;
  YAML::Emitter out;
  out.SetIndent(2);
  out << YAML::BeginMap << YAML::Key << e.name << YAML::Value;
  if (p.egress_size() == 0 && p.inbound_size() == 0 && p.otherwise().empty() &&
      p.preset().empty()) {
    out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
  } else {
    out << YAML::BeginMap;
    // A learning proposal builds on a profile that may name a preset (fw/learn/proposal.h).
    if (!p.preset().empty()) out << YAML::Key << "preset" << YAML::Value << p.preset();
    size_t c = 0;
    for (const char* key : {"egress", "inbound"}) {
      const auto& rules = std::string_view(key) == "egress" ? p.egress() : p.inbound();
      if (rules.empty()) continue;
      out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
      for (const v1::Rule& r : rules) {
        emitRule(out, r, c < e.rule_comments.size() ? e.rule_comments[c] : "");
        ++c;
      }
      out << YAML::EndSeq;
    }
    if (!p.otherwise().empty()) out << YAML::Key << "otherwise" << YAML::Value << p.otherwise();
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

// The whole document emitted again (flow-style input: JSON, as device edits wrote before).
Result<ProfileTextResult> reformatted(YAML::Node root, const ProfileText& e) {
  ProfileTextResult r;
  r.reformatted = true;
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  for (const std::string& g : e.groups) {
    if (!root["addresses"][g]) {
      root["addresses"][g] = YAML::Node(YAML::NodeType::Sequence);
      r.groups_added.push_back(g);
    }
  }
  r.replaced = static_cast<bool>(root["profiles"][e.name]);
  root["profiles"].remove(e.name);
  blockStyle(root);
  YAML::Emitter out;
  out.SetIndent(2);
  out << YAML::BeginMap;
  for (const auto& kv : root) {
    const YAML::Node k = kv.first;
    const YAML::Node v = kv.second;
    if (k.Scalar() == "profiles") continue;
    out << YAML::Key << k << YAML::Value << v;
  }
  out << YAML::EndMap;
  r.text = std::string(out.c_str()) + "\n";
  // The profiles last, so the new entry keeps its comments (the emitter has none for nodes).
  std::string profiles = "profiles:\n";
  {
    YAML::Emitter rest;
    rest.SetIndent(2);
    if (root["profiles"].size() > 0) {
      rest << root["profiles"];
      for (const std::string& l : indented(rest.c_str(), 2)) profiles += l + "\n";
    }
  }
  if (!e.comment.empty()) profiles += "  # " + e.comment + "\n";
  for (const std::string& l : indented(emitEntry(e), 2)) profiles += l + "\n";
  r.text += profiles;
  return r;
}

// withProfile without its catch.
Result<ProfileTextResult> place(std::string_view policy_text, const ProfileText& e) {
  auto root = loadMapping(policy_text);
  if (!root.ok()) return root.status();
  if (root->IsNull() || root->Style() == YAML::EmitterStyle::Flow) return reformatted(*root, e);
  std::vector<std::string> lines = ownedLines(policy_text);
  ProfileTextResult r;

  // Groups first: their lines come before or after the profile's, and the document is read
  // again before the profile is placed.
  std::vector<std::string> missing;
  for (const std::string& g : e.groups) {
    if (!(*root)["addresses"] || !(*root)["addresses"][g]) missing.push_back(g);
  }
  if (!missing.empty()) {
    auto section = findSection(*root, "addresses", lines);
    if (section && (section->flow || section->list)) return reformatted(*root, e);
    std::vector<std::string> added;
    const size_t indent = section ? section->indent : 2;
    for (const std::string& g : missing) {
      std::string line = std::string(indent, ' ') + g + ": []";
      if (!e.group_comment.empty()) line += "  # " + e.group_comment;
      added.push_back(line);
    }
    if (section) {
      splice(lines, section->end, section->end, added);
    } else {
      // A new `addresses:` goes before `profiles:` (where the examples keep it), else at the end.
      auto profiles = findSection(*root, "profiles", lines);
      const size_t at = profiles ? profiles->key_line : lines.size();
      added.insert(added.begin(), "addresses:");
      splice(lines, at, at, added);
    }
    r.groups_added = missing;
    auto again = loadMapping(joinLines(lines));
    if (!again.ok()) return again.status();
    *root = *again;
  }

  std::vector<std::string> entry;
  auto section = findSection(*root, "profiles", lines);
  if (section && (section->flow || section->list)) return reformatted(*root, e);
  const size_t indent = section && !section->entries.empty() ? section->indent : 2;
  if (!e.comment.empty()) entry.push_back(std::string(indent, ' ') + "# " + e.comment);
  for (const std::string& l : indented(emitEntry(e), indent)) entry.push_back(l);
  if (!section) {
    lines.push_back("profiles:");
    lines.insert(lines.end(), entry.begin(), entry.end());
  } else {
    auto old = std::find_if(section->entries.begin(), section->entries.end(),
                            [&](const auto& x) { return x.first == e.name; });
    if (old != section->entries.end()) {
      r.replaced = true;
      size_t begin = old->second;
      const size_t end = entryEnd(*section, begin, lines);
      // An earlier import's comment line just above the entry goes with it.
      if (begin > section->key_line + 1 &&
          lines[begin - 1].find("# " + std::string(kImportComment)) != std::string::npos) {
        --begin;
      }
      splice(lines, begin, end, entry);
    } else {
      splice(lines, section->end, section->end, entry);
    }
  }
  r.text = joinLines(lines);
  // What was written must read back as the same mapping with the new profile in it.
  auto check = loadMapping(r.text);
  if (!check.ok() || !(*check)["profiles"][e.name]) {
    return Status::error(StatusCode::kInvalidArgument,
                         "the profile could not be placed in the policy text; write it by hand");
  }
  return r;
}

}  // namespace

Result<ProfileTextResult> withProfile(std::string_view policy_text, const ProfileText& edit) {
  // yaml-cpp reports with exceptions (a node of an unexpected kind, say): none leaves here.
  try {
    return place(policy_text, edit);
  } catch (const YAML::Exception& e) {
    return Status::error(StatusCode::kInvalidArgument,
                         "the profile could not be placed in the policy text (" +
                             std::string(e.what()) + "); write it by hand");
  }
}

}  // namespace muzzle
