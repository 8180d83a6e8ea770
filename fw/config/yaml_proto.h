// YAML -> protobuf through protobuf's JSON mapping, with line numbers. Used for both the policy
// and the daemon config. A schema walk over the YAML reports unknown keys and wrong shapes with
// the line they are on; the JSON mapping then fills the message. The SourceMap remembers the line
// of every field path so that later validation errors can name the line too.
#pragma once

#include <google/protobuf/message.h>

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fw/common/status.h"

namespace muzzle {

// Field path ("profiles.camera.egress[1].ports[0]") -> 1-based line in the source file.
class SourceMap {
 public:
  void record(std::string path, int line) { lines_.emplace(std::move(path), line); }
  // Line of `path`, or of its nearest recorded ancestor; 0 when nothing is known.
  int lineOf(std::string_view path) const;

 private:
  std::unordered_map<std::string, int> lines_;
};

// Formats "file:line: path: message" (line omitted when unknown, path omitted when empty).
std::string located(std::string_view file_label, const SourceMap& map, std::string_view path,
                    std::string_view message);

struct YamlToProtoOptions {
  // Paths of repeated scalar fields ("uplink") where a single scalar means a one-element list,
  // for keys people naturally write either way.
  std::vector<std::string> scalar_as_list;
};

// Parses `yaml_text` into `*out`. Errors are "file:line: path: message", one per line; on error
// `*out` is left unspecified. `map` may be null. Never throws.
Status yamlToProto(std::string_view yaml_text, std::string_view file_label,
                   google::protobuf::Message* out, SourceMap* map);
Status yamlToProto(std::string_view yaml_text, std::string_view file_label,
                   google::protobuf::Message* out, SourceMap* map,
                   const YamlToProtoOptions& options);

}  // namespace muzzle
