#include "mgmt/fleet/fleet_dir.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <unordered_map>

#include "fw/common/confined_file.h"
#include "fw/common/excerpt.h"
#include "fw/common/sha256.h"
#include "fw/config/source_map.h"
#include "fw/config/yaml_proto.h"
#include "fw/config/yaml_sections.h"

namespace muzzle::fleet {
namespace {

constexpr char kFleetFile[] = "fleet.yaml";

bool validName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
  });
}

// A relative path that stays in the fleet directory: no "..", not absolute.
bool insideName(const std::string& name) {
  if (name.empty() || name.front() == '/') return false;
  size_t start = 0;
  while (start <= name.size()) {
    const size_t slash = std::min(name.find('/', start), name.size());
    if (name.compare(start, slash - start, "..") == 0 && slash - start == 2) return false;
    start = slash + 1;
  }
  return true;
}

std::string quoted(const std::string& s) {
  YAML::Emitter out;
  out << YAML::DoubleQuoted << s;
  return out.c_str();
}

// An override as the one-line flow value written after "name: ".
std::string flowValue(const v1::AddressGroup& group) {
  std::string list = "[";
  for (int i = 0; i < group.entries_size(); ++i) {
    if (i) list += ", ";
    list += quoted(group.entries(i));
  }
  list += "]";
  if (group.file().empty()) return list;
  if (group.entries_size() == 0) return "{file: " + quoted(group.file()) + "}";
  return "{entries: " + list + ", file: " + quoted(group.file()) + "}";
}

// Whether `list` (a list of scalars, or absent) holds exactly `entries`.
bool sameEntries(const YAML::Node& list,
                 const google::protobuf::RepeatedPtrField<std::string>& entries) {
  if (!list.IsDefined() || list.IsNull()) return entries.empty();
  if (!list.IsSequence() || list.size() != static_cast<size_t>(entries.size())) return false;
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].IsScalar() || list[i].Scalar() != entries[static_cast<int>(i)]) return false;
  }
  return true;
}

// Whether `node` (the policy's addresses.NAME after the edit) reads as `group`. (A yaml-cpp key
// a map lacks reads as an invalid node: only asked whether it is defined, it does not throw.)
bool reads(const YAML::Node& node, const v1::AddressGroup& group) {
  if (!node.IsDefined()) return false;
  if (!node.IsMap()) return group.file().empty() && sameEntries(node, group.entries());
  const YAML::Node file = node["file"];
  const std::string file_text = file.IsDefined() && file.IsScalar() ? file.Scalar() : "";
  return file_text == group.file() && sameEntries(node["entries"], group.entries());
}

// One override to write: the address group's name, its value, and where it was written.
struct Override {
  std::string name;
  v1::AddressGroup group;
  LineOrigin origin;
};

// The policy text with `overrides` written into its `addresses:` section; `origins` follow the
// lines. kInvalidArgument saying why when the text cannot take them.
Status writeOverrides(std::string& text, std::vector<LineOrigin>& origins,
                      const std::vector<Override>& overrides) {
  if (overrides.empty()) return Status();
  auto parsed = loadMapping(text);
  if (!parsed.ok()) return parsed.status();
  // yaml-cpp nodes are handles: reset() points this one at a new tree (assignment would write
  // into the old one).
  YAML::Node root;
  root.reset(*parsed);
  if (root.IsMap() && root.Style() == YAML::EmitterStyle::Flow) {
    return Status::error(StatusCode::kInvalidArgument,
                         "the policy is written in flow style (JSON); address overrides need "
                         "block YAML");
  }
  std::vector<std::string> lines = ownedLines(text);
  auto section = findSection(root, "addresses", lines);
  if (section && (section->flow || section->list)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "its addresses: section is not a block mapping; write it as one "
                         "(one group a line) so overrides can replace entries");
  }
  for (const Override& o : overrides) {
    const std::string line_text = o.name + ": " + flowValue(o.group);
    if (!section) {
      lines.push_back("addresses:");
      origins.push_back(o.origin);
      lines.push_back("  " + line_text);
      origins.push_back(o.origin);
    } else {
      auto found = std::find_if(section->entries.begin(), section->entries.end(),
                                [&](const auto& e) { return e.first == o.name; });
      const std::string written = std::string(section->indent, ' ') + line_text;
      if (found != section->entries.end()) {
        const size_t begin = found->second;
        const size_t end = entryEnd(*section, begin, lines);
        splice(lines, begin, end, {written});
        origins.erase(origins.begin() + static_cast<long>(begin) + 1,
                      origins.begin() + static_cast<long>(end));
        origins[begin] = o.origin;
      } else {
        splice(lines, section->end, section->end, {written});
        origins.insert(origins.begin() + static_cast<long>(section->end), o.origin);
      }
    }
    // Positions moved: find the section again in the edited lines.
    auto edited = loadMapping(joinLines(lines));
    if (!edited.ok()) return edited.status();
    root.reset(*edited);
    section = findSection(root, "addresses", lines);
  }
  text = joinLines(lines);
  const YAML::Node& whole = root;
  const YAML::Node addresses = whole["addresses"];
  for (const Override& o : overrides) {
    if (!addresses || !addresses.IsMap() || !reads(addresses[o.name], o.group)) {
      return Status::error(StatusCode::kInvalidArgument,
                           "the address group " + o.name +
                               " could not be written into the policy text");
    }
  }
  return Status();
}

// The overrides of `groups` (a map from fleet.yaml at `path`), with their fleet.yaml lines.
void addOverrides(const google::protobuf::Map<std::string, v1::AddressGroup>& groups,
                  const std::string& path, const SourceMap& map, std::vector<Override>& out) {
  std::vector<std::string> names;
  for (const auto& [name, group] : groups) names.push_back(name);
  std::sort(names.begin(), names.end());  // proto maps have no order; the text must be stable
  for (const std::string& name : names) {
    const int line = map.lineOf(path + "." + name);
    auto same = std::find_if(out.begin(), out.end(), [&](const Override& o) { return o.name == name; });
    Override o{name, groups.at(name), LineOrigin{kFleetFile, line}};
    if (same != out.end()) {
      *same = o;  // the box's wins over its group's
    } else {
      out.push_back(std::move(o));
    }
  }
}

}  // namespace

// Reads fleet.yaml and composes the members (a friend of FleetDir).
class FleetLoader {
 public:
  explicit FleetLoader(std::string dir) : dir_(std::move(dir)) {}

  Result<FleetDir> load(FleetDir fleet);

 private:
  void problem(int line, const std::string& field, const std::string& message) {
    problems_.push_back(Diagnostic{kFleetFile, line, field, message});
  }
  bool matches(const v1::FleetGroup& g, const v1::FleetBox& b) const {
    for (const auto& [label, value] : g.select()) {
      auto it = b.labels().find(label);
      if (it == b.labels().end() || it->second != value) return false;
    }
    return true;
  }
  // The policy file `name` (relative), read once; null (and a problem) when it cannot be.
  const std::string* policyText(const std::string& name, int line, const std::string& field);

  std::string dir_;
  SourceMap map_;
  std::vector<Diagnostic> problems_;
  std::unordered_map<std::string, std::string> policies_;
  std::unordered_map<std::string, Member> composed_;  // by policy file + overrides
};

const std::string* FleetLoader::policyText(const std::string& name, int line,
                                      const std::string& field) {
  if (auto it = policies_.find(name); it != policies_.end()) return &it->second;
  if (!insideName(name)) {
    problem(line, field,
            "policy " + quotedExcerpt(name) + " must be a path inside the fleet directory");
    return nullptr;
  }
  auto text = readRegularFile(dir_ + "/" + name, kMaxFleetFileBytes);
  if (!text.ok()) {
    problem(line, field, std::string(text.status().message()));
    return nullptr;
  }
  return &policies_.emplace(name, std::move(*text)).first->second;
}

Result<FleetDir> FleetLoader::load(FleetDir fleet) {
  const std::string path = dir_ + "/" + kFleetFile;
  auto text = readRegularFile(path, kMaxFleetFileBytes);
  if (!text.ok()) return text.status().withCode(StatusCode::kInvalidArgument);
  v1::Fleet& f = fleet.file_;
  if (Status s = yamlToProto(*text, kFleetFile, &f, &map_); !s.ok()) {
    return s.withCode(StatusCode::kInvalidArgument);
  }
  if (f.version() != 1) problem(map_.lineOf("version"), "version", "must be 1");
  if (f.boxes_size() == 0) problem(0, "boxes", "no boxes listed");
  if (static_cast<size_t>(f.boxes_size()) > kMaxBoxes) {
    problem(map_.lineOf("boxes"), "boxes",
            "more than " + std::to_string(kMaxBoxes) + " boxes; split the fleet");
  }
  if (static_cast<size_t>(f.groups_size()) > kMaxGroups) {
    problem(map_.lineOf("groups"), "groups",
            "more than " + std::to_string(kMaxGroups) + " groups");
  }
  std::unordered_map<std::string, int> group_names;
  for (int g = 0; g < f.groups_size(); ++g) {
    const v1::FleetGroup& group = f.groups(g);
    const std::string at = "groups[" + std::to_string(g) + "]";
    if (!validName(group.name())) {
      problem(map_.lineOf(at + ".name"), at + ".name",
              "a group needs a name of letters, digits, '-', '_' or '.'");
    } else if (auto [it, fresh] = group_names.emplace(group.name(), map_.lineOf(at)); !fresh) {
      problem(map_.lineOf(at + ".name"), at + ".name",
              "group " + group.name() + " is defined twice (first at line " +
                  std::to_string(it->second) + ")");
    }
    if (group.policy().empty()) problem(map_.lineOf(at), at + ".policy", "a group needs a policy file");
  }
  std::unordered_map<std::string, int> box_names;
  for (int b = 0; b < f.boxes_size() && static_cast<size_t>(b) < kMaxBoxes; ++b) {
    const v1::FleetBox& box = f.boxes(b);
    const std::string at = "boxes[" + std::to_string(b) + "]";
    const int line = map_.lineOf(at);
    if (!validName(box.name())) {
      problem(map_.lineOf(at + ".name"), at + ".name",
              "a box needs a name of letters, digits, '-', '_' or '.' (at most 64)");
      continue;
    }
    if (auto [it, fresh] = box_names.emplace(box.name(), line); !fresh) {
      problem(map_.lineOf(at + ".name"), at + ".name",
              "box " + box.name() + " is listed twice (first at line " +
                  std::to_string(it->second) + ")");
      continue;
    }
    if (box.target().empty()) {
      problem(line, at + ".target", "box " + box.name() + " needs a target (host:port or unix:/path)");
    }
    Member m;
    m.name = box.name();
    m.target = box.target();
    m.labels = {box.labels().begin(), box.labels().end()};
    m.line = line;
    std::vector<Override> overrides;
    std::string policy_field = at + ".policy";
    if (!box.policy().empty()) {
      m.policy_file = box.policy();
    } else {
      std::vector<int> matched;
      for (int g = 0; g < f.groups_size(); ++g) {
        if (matches(f.groups(g), box)) matched.push_back(g);
      }
      if (matched.empty()) {
        problem(line, at, "box " + box.name() + " matches no group and names no policy of its own");
        continue;
      }
      if (matched.size() > 1) {
        problem(line, at,
                "box " + box.name() + " matches groups " + f.groups(matched[0]).name() + " and " +
                    f.groups(matched[1]).name() + "; make their selectors exclusive");
        continue;
      }
      const v1::FleetGroup& group = f.groups(matched[0]);
      const std::string gat = "groups[" + std::to_string(matched[0]) + "]";
      m.group = group.name();
      m.policy_file = group.policy();
      policy_field = gat + ".policy";
      addOverrides(group.addresses(), gat + ".addresses", map_, overrides);
    }
    addOverrides(box.addresses(), at + ".addresses", map_, overrides);
    const std::string* policy = policyText(m.policy_file, map_.lineOf(policy_field), policy_field);
    if (policy == nullptr) continue;
    // Boxes with the same policy and overrides share one text (a site of 1,000 boxes with a
    // handful of distinct texts is composed, hashed and checked a handful of times).
    std::string key = m.policy_file;
    for (const Override& o : overrides) key += "\n" + o.name + "=" + o.group.SerializeAsString();
    if (auto same = composed_.find(key); same != composed_.end()) {
      m.text = same->second.text;
      m.sha256 = same->second.sha256;
      m.origins = same->second.origins;
    } else {
      std::string desired = *policy;
      std::vector<LineOrigin> origins;
      const size_t count = ownedLines(desired).size();
      for (size_t i = 0; i < count; ++i) {
        origins.push_back(LineOrigin{m.policy_file, static_cast<int>(i + 1)});
      }
      if (Status s = writeOverrides(desired, origins, overrides); !s.ok()) {
        problem(overrides.front().origin.line, at + ".addresses",
                "box " + box.name() + ": " + m.policy_file + ": " + std::string(s.message()));
        continue;
      }
      m.text = std::make_shared<const std::string>(std::move(desired));
      m.sha256 = sha256Hex(*m.text);
      m.origins = std::make_shared<const std::vector<LineOrigin>>(std::move(origins));
      composed_.emplace(key, m);
    }
    fleet.members_.push_back(std::move(m));
  }
  if (!problems_.empty()) return statusOf(problems_, StatusCode::kInvalidArgument);
  return fleet;
}

Result<FleetDir> FleetDir::load(const std::string& dir) {
  FleetDir fleet;
  fleet.dir_ = dir.empty() ? "." : dir;
  while (fleet.dir_.size() > 1 && fleet.dir_.back() == '/') fleet.dir_.pop_back();
  // yaml-cpp reports with exceptions: none leaves here.
  try {
    return FleetLoader(fleet.dir_).load(std::move(fleet));
  } catch (const YAML::Exception& e) {
    return Status::error(StatusCode::kInvalidArgument,
                         dir + "/" + kFleetFile + ": " + std::string(e.what()));
  }
}

const Member* FleetDir::find(const std::string& name) const {
  for (const Member& m : members_) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

v1::FleetTls FleetDir::tls() const {
  v1::FleetTls t = file_.tls();
  for (std::string* path : {t.mutable_ca(), t.mutable_cert(), t.mutable_key()}) {
    if (!path->empty() && path->front() != '/') *path = dir_ + "/" + *path;
  }
  return t;
}

std::string BoxDiagnostic::text() const { return box + ": " + diagnostic.text(); }

}  // namespace muzzle::fleet
