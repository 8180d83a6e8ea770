// YAML -> protobuf with protobuf's JSON-mapping rules, and line numbers. Used for both the
// policy and the daemon config. One walk over the YAML, alongside the message's descriptor,
// fills the message by reflection and reports unknown keys, wrong shapes and bad values with the
// line they are on. Names are the proto's or their lowerCamel JSON form; enums go by name;
// integers are checked against their type's range (64-bit ones may be quoted); a bare list may
// stand for a message whose schema names a `list_shorthand` field (options.proto). Text that is
// not UTF-8 is refused with the line and byte column of its first bad byte; a second document
// is refused with its line. The SourceMap remembers the line of field paths so that later
// validation errors can name the line too.
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

// Errors past this many are counted, not listed: a text of nothing but mistakes still makes a
// message of bounded size.
inline constexpr size_t kMaxReportedErrors = 100;
// A longer map key is an error: keys are repeated in every field path below them.
inline constexpr size_t kMaxYamlKeyBytes = 256;

struct YamlToProtoOptions {
  // Paths of repeated scalar fields ("uplink") where a single scalar means a one-element list,
  // for keys people naturally write either way.
  std::vector<std::string> scalar_as_list;
};

// Parses `yaml_text`, which must be UTF-8 and one YAML document, into `*out` (cleared first).
// Errors are "file:line: path: message", one per line, all of them in one pass (up to
// kMaxReportedErrors, then a count); on error `*out` is left unspecified. `map` may be null.
// The document's expanded size is bounded (yaml_document.h); what errors quote of the text is
// escaped and shortened (excerpt.h). Never throws: yaml-cpp's exceptions stay inside.
Status yamlToProto(std::string_view yaml_text, std::string_view file_label,
                   google::protobuf::Message* out, SourceMap* map);
Status yamlToProto(std::string_view yaml_text, std::string_view file_label,
                   google::protobuf::Message* out, SourceMap* map,
                   const YamlToProtoOptions& options);

}  // namespace muzzle
