// YAML -> protobuf with protobuf's JSON-mapping rules, and line numbers. Used for both the
// policy and the daemon config. One walk over the YAML, alongside the message's descriptor,
// fills the message by reflection and reports unknown keys, wrong shapes and bad values with the
// line they are on. Names are the proto's or their lowerCamel JSON form; enums go by name;
// integers are checked against their type's range (64-bit ones may be quoted); a bare list may
// stand for a message whose schema names a `list_shorthand` field (options.proto). Text that is
// not UTF-8 is refused with the line and byte column of its first bad byte; a second document
// is refused with its line. The SourceMap (source_map.h) remembers the line of field paths so
// that later validation errors can name the line too. The walk itself is yaml_walker.h.
#pragma once

#include <google/protobuf/message.h>

#include <string>
#include <string_view>
#include <vector>

#include "fw/common/status.h"
#include "fw/config/diagnostics.h"
#include "fw/config/source_map.h"

namespace muzzle {

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
// The same, with the errors kept structured: they go to `*sink` (labelled with its file; start
// with an empty sink) and the result says whether there were none. The Status forms above are
// this, rendered (statusOf).
bool yamlToProto(std::string_view yaml_text, google::protobuf::Message* out, SourceMap* map,
                 const YamlToProtoOptions& options, DiagnosticSink* sink);

}  // namespace muzzle
