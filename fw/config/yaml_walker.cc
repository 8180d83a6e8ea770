#include "fw/config/yaml_walker.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/wrappers.pb.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <unordered_map>
#include <vector>

#include "fw/common/excerpt.h"
#include "fw/common/utf8.h"
#include "fw/config/proto_fields.h"
#include "fw/config/proto_slot.h"
#include "fw/config/yaml_document.h"

namespace muzzle {
namespace {

namespace pb = google::protobuf;

int lineOf(const YamlNode& node) { return node.line(); }

std::string describe(const YamlNode& node) {
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  if (node.IsScalar()) return quotedExcerpt(node.Scalar());
  return "nothing";
}

class Walker {
 public:
  Walker(DiagnosticSink* sink, SourceMap* map, const YamlToProtoOptions& options)
      : sink_(sink), map_(map), options_(options) {}

  // The sink bounds how many are kept (kMaxReportedErrors), so a text of nothing but mistakes
  // cannot make a huge message.
  void error(int line, const std::string& path, std::string message) {
    sink_->add(line, path, std::move(message));
  }

  // Keys become field paths, repeated in every error and source-map entry below them, and are
  // compared with field names: a long one would make all of that cost its length again.
  bool keyTooLong(const YamlNode& key, const std::string& path) {
    if (key.Scalar().size() <= kMaxYamlKeyBytes) return false;
    error(lineOf(key), path,
          "the key " + quotedExcerpt(key.Scalar()) + " is longer than " +
              std::to_string(kMaxYamlKeyBytes) + " bytes; use a shorter name");
    return true;
  }

  // Remembers the line of `path`; `parent_line` is where its parent is. A path on its parent's
  // line is left out: SourceMap::lineOf falls back to the parent and finds the same line, and a
  // flow-style list or mapping on one line then costs one entry, not one per element.
  // Returns the line of `path` for its own children.
  int record(const std::string& path, int line, int parent_line) {
    if (line <= 0) return parent_line;
    if (map_ != nullptr && line != parent_line) map_->record(path, line);
    return line;
  }

  // `line` is where `path` is (0 for the document).
  void message(const YamlNode& node, pb::Message* out, const std::string& path, int line) {
    const pb::Descriptor* descriptor = out->GetDescriptor();
    if (node.IsSequence()) {
      if (const pb::FieldDescriptor* list = listShorthand(descriptor)) {
        // The list's elements keep the message's own path ("addresses.nvr[0]"), as users
        // wrote them.
        listElements(node, ProtoSlot{out, list}, path, line);
        return;
      }
    }
    if (!node.IsMap()) {
      if (listShorthand(descriptor) != nullptr) {
        error(lineOf(node), path,
              "expected a list or a mapping of fields (" + fieldNames(descriptor) + "), found " +
                  describe(node));
      } else {
        error(lineOf(node), path, "expected a mapping of fields, found " + describe(node));
      }
      return;
    }
    // (field, line of its key); a message has few fields, so a list beats a hash map here.
    std::vector<std::pair<const pb::FieldDescriptor*, int>> seen;
    for (uint32_t i = 0; i < node.size(); ++i) {
      const YamlNode key = node.key(i);
      const YamlNode value = node.value(i);
      const int key_line = lineOf(key);
      if (!key.IsScalar()) {
        error(key_line, path, "a key must be a plain name, found " + describe(key));
        continue;
      }
      if (keyTooLong(key, path)) continue;
      const pb::FieldDescriptor* field = findField(descriptor, key.Scalar());
      if (field == nullptr) {
        error(key_line, path, unknownFieldMessage(key.Scalar(), descriptor));
        continue;
      }
      const std::string field_path = childPath(path, field->name());
      const auto prev = std::find_if(seen.begin(), seen.end(),
                                     [field](const auto& entry) { return entry.first == field; });
      if (prev != seen.end()) {
        error(key_line, path,
              "duplicate key " + quotedExcerpt(key.Scalar()) + " (first at line " +
                  std::to_string(prev->second) + ")");
        continue;
      }
      seen.emplace_back(field, key_line);
      const int field_line = record(field_path, key_line, line);
      // A key with no value ("defaults:") means "not set", as in JSON's null.
      if (value.IsNull()) continue;
      fieldValue(value, ProtoSlot{out, field}, field_path, field_line);
    }
  }

 private:
  void fieldValue(const YamlNode& value, const ProtoSlot& slot, const std::string& path, int line) {
    const pb::FieldDescriptor* field = slot.field;
    if (field->is_map()) {
      mapValue(value, slot, path, line);
    } else if (field->is_repeated()) {
      if (value.IsScalar() && field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE &&
          std::find(options_.scalar_as_list.begin(), options_.scalar_as_list.end(), path) !=
              options_.scalar_as_list.end()) {
        element(value, slot, indexPath(path, 0), line);
        return;
      }
      if (!value.IsSequence()) {
        error(lineOf(value), path, "expected a list, found " + describe(value));
        return;
      }
      listElements(value, slot, path, line);
    } else {
      element(value, slot, path, line);
    }
  }

  // Every element of a YAML list into repeated `slot`.
  void listElements(const YamlNode& list, const ProtoSlot& slot, const std::string& path,
                    int line) {
    for (uint32_t i = 0; i < list.size(); ++i) {
      const YamlNode item = list.item(i);
      const std::string item_path = indexPath(path, i);
      element(item, slot, item_path, record(item_path, lineOf(item), line));
    }
  }

  void mapValue(const YamlNode& value, const ProtoSlot& slot, const std::string& path, int line) {
    if (!value.IsMap()) {
      error(lineOf(value), path, "expected a mapping, found " + describe(value));
      return;
    }
    const pb::Descriptor* entry_type = slot.field->message_type();
    const pb::FieldDescriptor* key_field = entry_type->map_key();
    const pb::FieldDescriptor* value_field = entry_type->map_value();
    std::unordered_map<std::string, int> seen;
    for (uint32_t i = 0; i < value.size(); ++i) {
      const YamlNode key = value.key(i);
      const YamlNode item = value.value(i);
      const int key_line = lineOf(key);
      if (!key.IsScalar()) {
        error(key_line, path, "a key must be a plain name, found " + describe(key));
        continue;
      }
      if (keyTooLong(key, path)) continue;
      const std::string& name = key.Scalar();
      const std::string item_path = childPath(path, name);
      if (auto [prev, inserted] = seen.emplace(name, key_line); !inserted) {
        error(key_line, path,
              "duplicate key " + quotedExcerpt(name) + " (first at line " +
                  std::to_string(prev->second) + ")");
        continue;
      }
      const int item_line = record(item_path, key_line, line);
      pb::Message* entry = slot.mutableMessage();
      element(key, ProtoSlot{entry, key_field}, item_path, item_line);
      if (item.IsNull() && value_field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        // "quarantine:" with nothing under it: an empty message (or an empty list).
        entry->GetReflection()->MutableMessage(entry, value_field);
      } else {
        element(item, ProtoSlot{entry, value_field}, item_path, item_line);
      }
    }
  }

  // One value of the slot's type (an element, for repeated fields).
  void element(const YamlNode& value, const ProtoSlot& slot, const std::string& path, int line) {
    if (slot.field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      scalar(value, slot, path);
      return;
    }
    const pb::Descriptor* type = slot.field->message_type();
    if (isListValue(type)) {
      listOfStrings(value, slot, path, line);
    } else if (isStringLikeWellKnown(type)) {
      if (!value.IsScalar()) {
        error(lineOf(value), path, "expected a value, found " + describe(value));
        return;
      }
      // These have a text form only protobuf's JSON parser knows ("1.5s", RFC 3339 times).
      const auto status =
          pb::util::JsonStringToMessage(quotedJson(value.Scalar()), slot.mutableMessage());
      if (!status.ok()) {
        error(lineOf(value), path,
              quotedExcerpt(value.Scalar()) + " is not a valid " + type->name() + " (" +
                  excerpt(std::string(status.message()), 100) + ")");
      }
    } else if (isWrapper(type)) {
      pb::Message* wrapper = slot.mutableMessage();
      scalar(value, ProtoSlot{wrapper, type->FindFieldByName("value")}, path);
    } else if (value.IsNull()) {
      slot.mutableMessage();
    } else {
      message(value, slot.mutableMessage(), path, line);
    }
  }

  // A google.protobuf.ListValue written as a YAML list of scalars; every element becomes a
  // string value, so later validation sees exactly the text the user wrote.
  void listOfStrings(const YamlNode& value, const ProtoSlot& slot, const std::string& path,
                     int line) {
    if (!value.IsSequence()) {
      error(lineOf(value), path, "expected a list, found " + describe(value));
      return;
    }
    auto* list = static_cast<pb::ListValue*>(slot.mutableMessage());
    for (uint32_t i = 0; i < value.size(); ++i) {
      const YamlNode item = value.item(i);
      const std::string item_path = indexPath(path, i);
      record(item_path, lineOf(item), line);
      if (!item.IsScalar()) {
        error(lineOf(item), item_path, "expected a value, found " + describe(item));
        continue;
      }
      list->add_values()->set_string_value(item.Scalar());
    }
  }

  template <typename Int>
  bool integer(const std::string& text, int line, const std::string& path, Int* parsed) {
    const char* begin = text.data();
    const char* end = text.data() + text.size();
    // from_chars rejects a leading '+', which YAML allows.
    if (begin != end && *begin == '+') ++begin;
    const auto [ptr, ec] = std::from_chars(begin, end, *parsed);
    if (ec == std::errc::result_out_of_range) {
      error(line, path,
            excerpt(text) + " is out of range (" + std::to_string(std::numeric_limits<Int>::min()) +
                ".." + std::to_string(std::numeric_limits<Int>::max()) + ")");
      return false;
    }
    if (ec != std::errc() || ptr != end || begin == end) {
      const bool negative_unsigned = !std::numeric_limits<Int>::is_signed && !text.empty() &&
                                     text[0] == '-' && text.size() > 1 &&
                                     std::isdigit(static_cast<unsigned char>(text[1]));
      error(line, path,
            negative_unsigned ? excerpt(text) + " is out of range (must not be negative)"
                              : "expected a whole number, found " + quotedExcerpt(text));
      return false;
    }
    return true;
  }

  void scalar(const YamlNode& value, const ProtoSlot& slot, const std::string& path) {
    const int line = lineOf(value);
    if (!value.IsScalar()) {
      error(line, path, "expected a value, found " + describe(value));
      return;
    }
    const std::string& text = value.Scalar();
    switch (slot.field->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT32:
        if (int32_t v{}; integer(text, line, path, &v)) slot.setInt32(v);
        return;
      case pb::FieldDescriptor::CPPTYPE_INT64:
        if (int64_t v{}; integer(text, line, path, &v)) slot.setInt64(v);
        return;
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        if (uint32_t v{}; integer(text, line, path, &v)) slot.setUInt32(v);
        return;
      case pb::FieldDescriptor::CPPTYPE_UINT64:
        if (uint64_t v{}; integer(text, line, path, &v)) slot.setUInt64(v);
        return;
      case pb::FieldDescriptor::CPPTYPE_FLOAT:
      case pb::FieldDescriptor::CPPTYPE_DOUBLE: {
        char* end = nullptr;
        const double parsed = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(parsed)) {
          error(line, path, "expected a number, found " + quotedExcerpt(text));
          return;
        }
        if (slot.field->cpp_type() == pb::FieldDescriptor::CPPTYPE_DOUBLE) {
          slot.setDouble(parsed);
        } else if (std::fabs(parsed) > std::numeric_limits<float>::max()) {
          error(line, path, excerpt(text) + " is out of range for a 32-bit float");
        } else {
          slot.setFloat(static_cast<float>(parsed));
        }
        return;
      }
      case pb::FieldDescriptor::CPPTYPE_BOOL:
        // The only spellings accepted are YAML 1.2's.
        if (text == "true" || text == "True" || text == "TRUE") {
          slot.setBool(true);
        } else if (text == "false" || text == "False" || text == "FALSE") {
          slot.setBool(false);
        } else {
          error(line, path, "expected true or false, found " + quotedExcerpt(text));
        }
        return;
      case pb::FieldDescriptor::CPPTYPE_ENUM: {
        const pb::EnumDescriptor* type = slot.field->enum_type();
        const pb::EnumValueDescriptor* found = type->FindValueByName(text);
        if (found == nullptr) {
          std::string names;
          for (int i = 0; i < type->value_count(); ++i) {
            if (!names.empty()) names += ", ";
            names += type->value(i)->name();
          }
          error(line, path, quotedExcerpt(text) + " is not one of " + names);
          return;
        }
        slot.setEnum(found->number());
        return;
      }
      case pb::FieldDescriptor::CPPTYPE_STRING:
        if (slot.field->type() == pb::FieldDescriptor::TYPE_BYTES) {
          // The JSON mapping writes bytes as base64; its parser decodes them.
          pb::BytesValue bytes;
          if (!pb::util::JsonStringToMessage(quotedJson(text), &bytes).ok()) {
            error(line, path, "expected base64, found " + quotedExcerpt(text));
            return;
          }
          slot.setString(std::move(*bytes.mutable_value()));
          return;
        }
        if (const size_t bad = firstInvalidUtf8(text); bad != std::string::npos) {
          // Reached only through YAML escapes; raw bytes are refused before parsing.
          error(line, path, "the text is not valid UTF-8 (byte " + std::to_string(bad + 1) + ")");
          return;
        }
        slot.setString(text);
        return;
      case pb::FieldDescriptor::CPPTYPE_MESSAGE:
        break;  // handled by element()
    }
  }

  DiagnosticSink* sink_;
  SourceMap* map_;
  const YamlToProtoOptions& options_;
};

}  // namespace

void walkYaml(const YamlNode& root, google::protobuf::Message* out, SourceMap* map,
              const YamlToProtoOptions& options, DiagnosticSink* sink) {
  Walker(sink, map, options).message(root, out, "", 0);
}

}  // namespace muzzle
