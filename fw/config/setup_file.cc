#include "fw/config/setup_file.h"

#include "fw/common/confined_file.h"
#include "fw/config/yaml_proto.h"

namespace muzzle {

Result<SetupChoice> parseSetupFile(std::string_view text, std::string_view label,
                                   std::string_view state_dir) {
  v1::SetupFile file;
  SourceMap map;
  YamlToProtoOptions options;
  options.scalar_as_list = {"uplink"};
  if (Status s = yamlToProto(text, label, &file, &map, options); !s.ok()) return s;
  if (file.segments_size() == 0) {
    return Status::error(std::string(label) +
                         ": segments: none named; run `muzzlectl setup` again, or remove the "
                         "file to leave the box idle");
  }
  // The same message muzzled.yaml is read into, so the same checks and the same field paths.
  v1::DaemonConfig as_config;
  *as_config.mutable_segments() = file.segments();
  *as_config.mutable_uplink() = file.uplink();
  as_config.set_policy(file.policy());
  auto config = daemonConfigOf(as_config, map, label, state_dir);
  if (!config.ok()) return config.status();
  return SetupChoice{std::move(config->segments), std::move(config->uplinks),
                     std::move(config->policy_path)};
}

Result<std::optional<SetupChoice>> readSetupFile(const std::string& state_dir) {
  auto text = readConfinedFile({state_dir}, kSetupFileName, kMaxSetupFileBytes);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return std::optional<SetupChoice>();
    return text.status().withContext(state_dir + ": ");
  }
  auto choice = parseSetupFile(*text, state_dir + "/" + kSetupFileName, state_dir);
  if (!choice.ok()) return choice.status();
  return std::optional<SetupChoice>(std::move(choice).value());
}

namespace {

// A YAML double-quoted scalar: the names are checked interface names, but quoting keeps any
// byte from being read as YAML syntax.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string setupFileText(const SetupChoice& choice) {
  std::string out =
      "# Written by muzzled for `muzzlectl setup`. Used only while muzzled.yaml names no segment;\n"
      "# remove this file (and restart muzzled) to make the box idle again.\n"
      "segments:\n";
  for (const DaemonSegment& s : choice.segments) {
    out += "  - {name: " + quoted(s.name) + ", interface: " + quoted(s.ifname) + "}\n";
  }
  out += "uplink: [";
  for (size_t i = 0; i < choice.uplinks.size(); ++i) {
    out += (i == 0 ? "" : ", ") + quoted(choice.uplinks[i]);
  }
  out += "]\npolicy: " + quoted(choice.policy_path) + "\n";
  return out;
}

void applySetup(const SetupChoice& choice, const std::string& from, DaemonConfig* config) {
  config->segments = choice.segments;
  config->uplinks = choice.uplinks;
  config->policy_path = choice.policy_path;
  config->segments_from = from;
  config->setup_problem.clear();
}

}  // namespace muzzle
