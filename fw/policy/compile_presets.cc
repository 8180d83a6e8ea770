// Presets by name (policy.proto, Profile.preset): a profile built on a shipped or local preset
// without copying it. The preset file is found by name only, in the preset folders, read with
// the same confinement and limits as every other file a policy names (confined_file.h), and
// parsed as a policy file; of it, only the profile of its own name is used. Its rules name the
// site's address groups: the preset's own `addresses` (there so the file is a whole policy on
// its own) are never defaults, so a placeholder recorder address is never allowed by surprise.
#include <algorithm>

#include "fw/common/confined_file.h"
#include "fw/common/excerpt.h"
#include "fw/config/yaml_proto.h"
#include "fw/policy/policy_compiler.h"
#include "fw/policy/policy_syntax.h"

namespace muzzle {
namespace {

// Long enough for any real preset name, short enough to keep file names and errors short.
constexpr size_t kMaxPresetName = 64;

// Lowercase letters, digits and '-': a name, never a path (no '/', no '.', so no "..").
bool isPresetName(std::string_view name) {
  return !name.empty() && name.size() <= kMaxPresetName &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
         });
}

std::string folderList(const std::vector<std::string>& folders) {
  std::string text;
  for (const std::string& folder : folders) text += (text.empty() ? "" : ", ") + folder;
  return text.empty() ? "no folder (set preset_dirs or shipped_policies in muzzled.yaml)" : text;
}

}  // namespace

Result<std::string> PolicyCompiler::readPreset(const std::string& file_name, std::string* folder) {
  // One folder at a time, to know which one it came from (the rules' origin): the first that
  // has it wins, as readConfinedFile's own search would, and a refusal is not retried further.
  for (const std::string& dir : preset_folders_) {
    auto text = readConfinedFile({dir}, file_name);
    if (text.ok() || text.status().code() != StatusCode::kNotFound) {
      *folder = dir;
      return text;
    }
  }
  return Status::error(StatusCode::kNotFound, "");
}

const PolicyCompiler::Preset* PolicyCompiler::preset(const std::string& name,
                                                     const std::string& field) {
  if (!isPresetName(name)) {
    fail(field, inQuotes(name) +
                    " is not a preset name; a preset is named, never a path (lowercase letters, "
                    "digits and -, e.g. camera-nvr-only)");
    return nullptr;
  }
  if (auto it = presets_.find(name); it != presets_.end()) return it->second.get();
  std::unique_ptr<Preset>& slot = presets_[name];  // stays null when it fails: reported once

  const std::string file_name = name + ".yaml";
  std::string folder;
  auto text = readPreset(file_name, &folder);
  if (!text.ok()) {
    if (folder.empty()) {
      fail(field, "no preset " + inQuotes(name) + ": " + file_name + " is in none of " +
                      folderList(preset_folders_) +
                      "; check the name, or add a folder to preset_dirs in muzzled.yaml");
    } else {
      fail(field, "preset " + inQuotes(name) + ": " + text.status().message());
    }
    return nullptr;
  }
  if (!spend(file_bytes_, text->size(), field)) return nullptr;

  auto loaded = std::make_unique<Preset>();
  loaded->name = name;
  loaded->file = folder + "/" + file_name;
  loaded->origin = std::make_shared<const RuleOrigin::File>(RuleOrigin::File{loaded->file, name});
  DiagnosticSink preset_sink(loaded->file);
  const bool parsed =
      yamlToProto(*text, &loaded->policy, &loaded->map, YamlToProtoOptions{}, &preset_sink);
  for (Diagnostic& d : preset_sink.take()) sink_->addDiagnostic(std::move(d));
  preset_files_.push_back(IncludedFile{name, std::move(text).value()});
  if (!parsed) return nullptr;

  in_preset_ = loaded.get();
  bool usable = true;
  for (const auto& [path, message] : countProblems(loaded->policy)) {
    fail(path, message);
    usable = false;
  }
  in_preset_ = nullptr;
  auto profile = loaded->policy.profiles().find(name);
  if (profile == loaded->policy.profiles().end()) {
    fail(field, "preset " + inQuotes(name) + " (" + loaded->file + ") has no profile " +
                    inQuotes(name) + "; a preset file holds the profile of its own name");
    return nullptr;
  }
  if (!profile->second.preset().empty()) {
    in_preset_ = loaded.get();
    fail("profiles." + name + ".preset",
         "a preset cannot be built on another preset; copy that preset's rules here");
    in_preset_ = nullptr;
    return nullptr;
  }
  if (!usable) return nullptr;
  loaded->profile = &profile->second;
  slot = std::move(loaded);
  return slot.get();
}

void PolicyCompiler::missingPresetGroup(const std::string& group, const std::string& rule_path) {
  if (!missing_groups_.insert(preset_field_ + "\n" + group).second) return;
  const std::string where =
      in_preset_->file + ":" + std::to_string(in_preset_->map.lineOf(rule_path));
  sink_->add(map_.lineOf(preset_field_), preset_field_,
             "preset " + inQuotes(in_preset_->name) + " needs the address group " +
                 inQuotes(group) + " (" + where + ", " + printablePath(rule_path) +
                 "); define it under addresses in this policy");
}

}  // namespace muzzle
