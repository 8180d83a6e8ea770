#include "fw/config/yaml_proto.h"

#include <cstdio>
#include <exception>

#include "fw/common/excerpt.h"
#include "fw/common/utf8.h"
#include "fw/config/yaml_document.h"
#include "fw/config/yaml_walker.h"

namespace muzzle {

Status yamlToProto(std::string_view yaml_text, std::string_view file_label,
                   google::protobuf::Message* out, SourceMap* map) {
  return yamlToProto(yaml_text, file_label, out, map, YamlToProtoOptions{});
}

Status yamlToProto(std::string_view yaml_text, std::string_view file_label,
                   google::protobuf::Message* out, SourceMap* map,
                   const YamlToProtoOptions& options) {
  DiagnosticSink sink(file_label);
  if (yamlToProto(yaml_text, out, map, options, &sink)) return Status();
  return statusOf(sink.take());
}

bool yamlToProto(std::string_view yaml_text, google::protobuf::Message* out, SourceMap* map,
                 const YamlToProtoOptions& options, DiagnosticSink* sink) {
  // Protobuf carries only UTF-8 in string fields, and a message quoting the text must be
  // UTF-8 too: refuse other bytes up front, saying where the first one is.
  if (const size_t bad = firstInvalidUtf8(yaml_text); bad != std::string_view::npos) {
    const TextPosition at = positionOf(yaml_text, bad);
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(yaml_text[bad]));
    sink->addForFile(at.line, "byte " + std::to_string(at.column) + " of this line (" + hex +
                                  ") is not UTF-8; save the file as UTF-8");
    return false;
  }
  YamlDocument document;
  if (!document.parse(yaml_text, sink->file()).ok()) {
    sink->addForFile(document.problem().line, document.problem().message);
    return false;
  }
  if (document.root() < 0 || YamlNode(document, static_cast<uint32_t>(document.root())).IsNull()) {
    sink->addForFile(0, "the file is empty (expected a mapping of fields)");
    return false;
  }
  out->Clear();
  try {
    walkYaml(YamlNode(document, static_cast<uint32_t>(document.root())), out, map, options, sink);
  } catch (const std::exception& e) {
    // What was collected before the throw is dropped: the text names only this failure, as it
    // always has.
    sink->take();
    sink->addForFile(0, excerpt(e.what(), 200));
    return false;
  }
  return sink->empty();
}

}  // namespace muzzle
