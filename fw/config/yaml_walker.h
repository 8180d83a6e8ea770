// The walk behind yamlToProto (yaml_proto.h): over a parsed YAML document alongside a message's
// descriptor, filling the message by reflection with protobuf's JSON-mapping rules (proto or
// lowerCamel names, enums by name, 64-bit integers from text, a bare list for a message with a
// `list_shorthand` field). It collects every error instead of stopping at the first: unknown
// keys (with the nearest name), duplicate keys, wrong shapes, values out of range, keys longer
// than kMaxYamlKeyBytes.
#pragma once

#include <google/protobuf/message.h>

#include "fw/config/diagnostics.h"
#include "fw/config/source_map.h"
#include "fw/config/yaml_proto.h"

namespace muzzle {

class YamlNode;

// Fills `*out` (not cleared here) from `root`; errors go to `*sink`, with the line of the node
// they are about and the field path; `map` (may be null) learns the line of each field path.
// May throw what protobuf or the allocator throws; yamlToProto catches it.
void walkYaml(const YamlNode& root, google::protobuf::Message* out, SourceMap* map,
              const YamlToProtoOptions& options, DiagnosticSink* sink);

}  // namespace muzzle
