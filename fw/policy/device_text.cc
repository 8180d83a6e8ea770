#include "fw/policy/device_text.h"

#include <optional>
#include <vector>

#include "fw/common/net.h"
#include "fw/config/yaml_sections.h"

namespace muzzle {
namespace {

// A device's fields as the policy spells them (the proto's name or its JSON form), in the order
// a new entry lists them (the example site's order).
struct FieldSpec {
  const char* proto;
  const char* json;
  const std::string& (v1::Device::*get)() const;
  bool address = false;  // compared as an address, written quoted (as the example site does)
};
constexpr FieldSpec kFields[] = {
    {"name", "name", &v1::Device::name},
    {"mac", "mac", &v1::Device::mac, true},
    {"profile", "profile", &v1::Device::profile},
    {"quarantined_from", "quarantinedFrom", &v1::Device::quarantined_from},
};

const FieldSpec* fieldNamed(const std::string& key) {
  for (const FieldSpec& f : kFields) {
    if (key == f.proto || key == f.json) return &f;
  }
  return nullptr;
}

// One scalar as YAML writes it.
std::string scalar(const std::string& value, bool quoted) {
  YAML::Emitter out;
  if (quoted) out << YAML::DoubleQuoted;
  out << value;
  return out.c_str();
}

std::optional<MacAddress> macOf(const YAML::Node& item) {
  if (!item.IsMap()) return std::nullopt;
  const YAML::Node mac = item["mac"];
  if (!mac || !mac.IsScalar()) return std::nullopt;
  return MacAddress::parse(mac.Scalar());
}

// The index of the last item of `list` for `mac`, or -1.
int findItem(const YAML::Node& list, MacAddress mac) {
  int found = -1;
  int i = 0;
  for (const auto& item : list) {
    if (macOf(item) == mac) found = i;
    ++i;
  }
  return found;
}

YAML::Node deviceNode(const v1::Device& d) {
  YAML::Node n(YAML::NodeType::Map);
  for (const FieldSpec& f : kFields) {
    if (!(d.*f.get)().empty()) n[f.proto] = (d.*f.get)();
  }
  return n;
}

// "- name: ...\n  mac: ...\n" at indentation 0.
std::string entryText(const v1::Device& d) {
  YAML::Emitter out;
  out.SetIndent(2);
  out << YAML::BeginSeq << YAML::BeginMap;
  for (const FieldSpec& f : kFields) {
    const std::string& v = (d.*f.get)();
    if (v.empty()) continue;
    out << YAML::Key << f.proto << YAML::Value;
    if (f.address) out << YAML::DoubleQuoted;
    out << v;
  }
  out << YAML::EndMap << YAML::EndSeq;
  return std::string(out.c_str()) + "\n";
}

// The entry's lines [begin, end) with only its changed fields' lines changed; nullopt when the
// entry is not a block mapping of known fields with one-line values (it is replaced whole).
std::optional<std::vector<std::string>> editedFields(const YAML::Node& item,
                                                     const std::vector<std::string>& lines,
                                                     size_t begin, size_t end,
                                                     const v1::Device& d) {
  if (!item.IsMap() || item.Style() == YAML::EmitterStyle::Flow) return std::nullopt;
  struct Written {
    const FieldSpec* field;
    size_t column;
    std::string key;
    std::string value;
  };
  std::vector<std::optional<Written>> at(end - begin);
  std::vector<bool> present(std::size(kFields), false);
  size_t column = 0, last = begin;
  for (const auto& kv : item) {
    const YAML::Node k = kv.first, v = kv.second;
    if (!k.IsScalar() || !v.IsScalar() || v.Mark().line != k.Mark().line) return std::nullopt;
    const FieldSpec* f = fieldNamed(k.Scalar());
    const size_t line = static_cast<size_t>(k.Mark().line);
    if (f == nullptr || line < begin || line >= end || at[line - begin]) return std::nullopt;
    present[static_cast<size_t>(f - kFields)] = true;
    column = static_cast<size_t>(k.Mark().column);
    last = std::max(last, line);
    at[line - begin] = Written{f, column, k.Scalar(), v.Scalar()};
  }
  std::vector<std::string> out;
  for (size_t i = begin; i < end; ++i) {
    const std::optional<Written>& w = at[i - begin];
    if (!w) {
      out.push_back(lines[i]);
    } else {
      const std::string& now = (d.*w->field->get)();
      const bool mac = w->field->address;
      if (now.empty()) {
        if (i == begin) return std::nullopt;  // the line holds the item's `- `
      } else if (now == w->value || (mac && MacAddress::parse(now) &&
                                     MacAddress::parse(now) == MacAddress::parse(w->value))) {
        out.push_back(lines[i]);
      } else {
        out.push_back(lines[i].substr(0, w->column) + w->key + ": " + scalar(now, mac));
      }
    }
    if (i != last) continue;
    for (size_t f = 0; f < std::size(kFields); ++f) {
      const std::string& v = (d.*kFields[f].get)();
      if (present[f] || v.empty()) continue;
      out.push_back(std::string(column, ' ') + kFields[f].proto + ": " +
                    scalar(v, kFields[f].address));
    }
  }
  return out;
}

std::string emitted(const YAML::Node& root) {
  YAML::Emitter out;
  out.SetIndent(2);
  out << root;
  return std::string(out.c_str()) + "\n";
}

// The whole document emitted again (flow-style input: JSON written by earlier device edits).
DeviceTextResult reformatted(YAML::Node root, int index, const v1::Device& d) {
  YAML::Node list(YAML::NodeType::Sequence);
  int i = 0;
  if (root["devices"].IsSequence()) {
    for (const auto& item : root["devices"]) {
      list.push_back(i++ == index ? deviceNode(d) : YAML::Node(item));
    }
  }
  if (index < 0) list.push_back(deviceNode(d));
  root["devices"] = list;
  blockStyle(root);
  return DeviceTextResult{emitted(root), index < 0, true};
}

// "devices:" and the items of the flow list `devices` as a block list, `d` in place of item
// `index` (appended when it is -1).
std::vector<std::string> blockList(const YAML::Node& devices, int index, const v1::Device& d) {
  std::vector<std::string> out{"devices:"};
  auto add = [&out](const std::string& item) {
    for (const std::string& l : indented(item, 2)) out.push_back(l);
  };
  int i = 0;
  for (const auto& item : devices) {
    if (i++ == index) {
      add(entryText(d));
    } else {
      YAML::Node one(YAML::NodeType::Sequence);
      one.push_back(item);
      blockStyle(one);
      add(emitted(one));
    }
  }
  if (index < 0) add(entryText(d));
  return out;
}

size_t dashColumn(const std::string& line, size_t key_column) {
  const size_t first = line.find_first_not_of(' ');
  if (first != std::string::npos && line[first] == '-') return first;
  return key_column >= 2 ? key_column - 2 : 0;
}

// Whether `text` holds `d` as its last entry for its address, and `count` entries in all.
bool holds(const std::string& text, MacAddress mac, const v1::Device& d, size_t count) {
  auto root = loadMapping(text);
  if (!root.ok() || !(*root)["devices"].IsSequence() || (*root)["devices"].size() != count) {
    return false;
  }
  const YAML::Node devices = (*root)["devices"];
  const int i = findItem(devices, mac);
  if (i < 0) return false;
  const YAML::Node item = devices[static_cast<size_t>(i)];
  for (const FieldSpec& f : kFields) {
    if (f.address) continue;  // matched above, as an address
    std::string value;
    for (const char* key : {f.proto, f.json}) {
      // A key the item lacks reads as an invalid node: asked anything but whether it is there,
      // yaml-cpp throws.
      if (const YAML::Node v = item[key]; v && v.IsScalar()) value = v.Scalar();
    }
    if (value != (d.*f.get)()) return false;
  }
  return true;
}

Result<DeviceTextResult> place(std::string_view policy_text, const v1::Device& d, MacAddress mac) {
  auto root = loadMapping(policy_text);
  if (!root.ok()) return root.status();
  const YAML::Node devices = root->IsMap() ? (*root)["devices"] : YAML::Node();
  if (devices.IsDefined() && !devices.IsNull() && !devices.IsSequence()) {
    return Status::error(StatusCode::kInvalidArgument, "devices: is not a list; write it as one");
  }
  const int index = devices.IsSequence() ? findItem(devices, mac) : -1;
  const size_t count = (devices.IsSequence() ? devices.size() : 0) + (index < 0 ? 1 : 0);
  DeviceTextResult r;
  if (root->IsMap() && root->Style() == YAML::EmitterStyle::Flow) {
    r = reformatted(*root, index, d);
  } else {
    std::vector<std::string> lines = ownedLines(policy_text);
    r.added = index < 0;
    auto section = findSection(*root, "devices", lines);
    if (!section) {
      lines.push_back("devices:");
      for (const std::string& l : indented(entryText(d), 2)) lines.push_back(l);
    } else if (section->flow) {
      // `devices: [...]` (often `devices: []`): that list alone is written again, as a block.
      splice(lines, section->key_line, section->end, blockList(devices, index, d));
      r.reformatted = true;
    } else if (index < 0) {
      const size_t dash = section->entries.empty()
                              ? 2
                              : dashColumn(lines[section->entries.back().second], section->indent);
      splice(lines, section->end, section->end, indented(entryText(d), dash));
    } else {
      const size_t begin = section->entries[static_cast<size_t>(index)].second;
      const size_t end = entryEnd(*section, begin, lines);
      const YAML::Node item = devices[static_cast<size_t>(index)];
      auto fields = editedFields(item, lines, begin, end, d);
      std::vector<std::string> tried = lines;
      if (fields) {
        splice(tried, begin, end, *fields);
        if (holds(joinLines(tried), mac, d, count)) {
          r.text = joinLines(tried);
          return r;
        }
      }
      // The whole entry, written again where it was.
      splice(lines, begin, end, indented(entryText(d), dashColumn(lines[begin], section->indent)));
    }
    r.text = joinLines(lines);
  }
  if (!holds(r.text, mac, d, count)) {
    return Status::error(
        StatusCode::kInvalidArgument,
        "the device " + d.mac() + " could not be written into the policy text; edit it by hand");
  }
  return r;
}

}  // namespace

Result<DeviceTextResult> withDevice(std::string_view policy_text, const v1::Device& device) {
  const auto mac = MacAddress::parse(device.mac());
  if (!mac) {
    return Status::error(StatusCode::kInvalidArgument,
                         "mac: \"" + device.mac() + "\" is not an Ethernet address");
  }
  // yaml-cpp reports with exceptions (a node of an unexpected kind, say): none leaves here.
  try {
    return place(policy_text, device, *mac);
  } catch (const YAML::Exception& e) {
    const std::string why = e.what();
    return Status::error(StatusCode::kInvalidArgument,
                         "the device " + device.mac() +
                             " could not be written into the policy text (" + why +
                             "); edit it by hand");
  }
}

}  // namespace muzzle
