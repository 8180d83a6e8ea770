#include "fw/config/yaml_sections.h"

#include "fw/common/text_lines.h"

namespace muzzle {

std::vector<std::string> ownedLines(std::string_view text) {
  const std::vector<std::string_view> views = splitLines(text);
  return std::vector<std::string>(views.begin(), views.end());
}

std::string joinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

bool blankOrComment(const std::string& line) {
  const size_t first = line.find_first_not_of(" \t");
  return first == std::string::npos || line[first] == '#';
}

std::vector<std::string> indented(const std::string& block, size_t indent) {
  std::vector<std::string> lines = ownedLines(block);
  for (std::string& l : lines) l = std::string(indent, ' ') + l;
  return lines;
}

void splice(std::vector<std::string>& lines, size_t begin, size_t end,
            const std::vector<std::string>& with) {
  lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(begin),
              lines.begin() + static_cast<std::ptrdiff_t>(end));
  lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(begin), with.begin(), with.end());
}

Result<YAML::Node> loadMapping(std::string_view text) {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsMap() && !root.IsNull()) {
      return Status::error(StatusCode::kInvalidArgument, "the policy is not a YAML mapping");
    }
    return root;
  } catch (const YAML::Exception& e) {
    return Status::error(StatusCode::kInvalidArgument,
                         "the policy does not parse as YAML: " + std::string(e.what()));
  }
}

void blockStyle(YAML::Node node) {
  if (node.IsMap()) {
    // An empty mapping as `{}` beside its key (block style would put it on a line of its own).
    node.SetStyle(node.size() == 0 ? YAML::EmitterStyle::Flow : YAML::EmitterStyle::Block);
    for (const auto& kv : node) blockStyle(kv.second);
  } else if (node.IsSequence()) {
    bool scalars = true;
    for (const auto& item : node) scalars = scalars && item.IsScalar();
    node.SetStyle(scalars ? YAML::EmitterStyle::Flow : YAML::EmitterStyle::Block);
    for (const auto& item : node) blockStyle(item);
  }
}

std::optional<Section> findSection(const YAML::Node& root, const std::string& key,
                                   const std::vector<std::string>& lines) {
  std::optional<Section> found;
  std::optional<size_t> next_key;
  for (const auto& kv : root) {
    const YAML::Node k = kv.first;
    const YAML::Node value = kv.second;
    const size_t line = static_cast<size_t>(k.Mark().line);
    if (found && !next_key && line > found->key_line) next_key = line;
    if (found || !k.IsScalar() || k.Scalar() != key) continue;
    Section s;
    s.key_line = line;
    const bool block =
        (value.IsMap() || value.IsSequence()) && value.Style() != YAML::EmitterStyle::Flow;
    s.flow = value.IsDefined() && !value.IsNull() && !block;
    s.list = block && value.IsSequence();
    if (block && value.IsMap()) {
      for (const auto& e : value) {
        const YAML::Node ek = e.first;
        if (!ek.IsScalar()) continue;
        s.entries.emplace_back(ek.Scalar(), static_cast<size_t>(ek.Mark().line));
        s.indent = static_cast<size_t>(ek.Mark().column);
      }
    } else if (block) {
      for (const auto& item : value) {
        // A mapping item's mark is its first key, on the item's `- ` line.
        s.entries.emplace_back("", static_cast<size_t>(item.Mark().line));
        s.indent = static_cast<size_t>(item.Mark().column);
      }
    }
    found = s;
  }
  if (!found) return found;
  size_t end = next_key.value_or(lines.size());
  while (end > found->key_line + 1 && blankOrComment(lines[end - 1])) --end;
  found->end = end;
  return found;
}

size_t entryEnd(const Section& s, size_t line, const std::vector<std::string>& lines) {
  size_t end = s.end;
  for (const auto& [k, l] : s.entries) {
    if (l > line && l < end) end = l;
  }
  while (end > line + 1 && blankOrComment(lines[end - 1])) --end;
  return end;
}

}  // namespace muzzle
