#include "fw/config/yaml_proto.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <limits>
#include <unordered_map>
#include <vector>

namespace muzzle {
namespace {

namespace pb = google::protobuf;

// yaml-cpp marks are 0-based and -1 when unknown (e.g. for nodes it synthesised).
int lineOf(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.line >= 0 ? mark.line + 1 : 0;
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "\"" + node.Scalar() + "\"";
    default:
      return "nothing";
  }
}

std::string childPath(const std::string& parent, std::string_view name) {
  if (parent.empty()) return std::string(name);
  std::string path = parent;
  path += '.';
  path += name;
  return path;
}

std::string indexPath(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

void appendJsonString(std::string_view text, std::string* json) {
  static constexpr char kHex[] = "0123456789abcdef";
  json->push_back('"');
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      json->push_back('\\');
      json->push_back(c);
    } else if (u < 0x20) {
      json->append("\\u00");
      json->push_back(kHex[u >> 4]);
      json->push_back(kHex[u & 0xf]);
    } else {
      json->push_back(c);
    }
  }
  json->push_back('"');
}

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "unknown field "egres" (did you mean "egress"?)", or the list of valid names when nothing is
// close: either way the user learns what to type.
std::string unknownFieldMessage(const std::string& key, const pb::Descriptor* descriptor) {
  std::string best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  std::string names;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const std::string& name = descriptor->field(i)->name();
    // A longer spelling of a field ("protocol" for "proto") is a near miss too.
    const bool extends = name.size() >= 4 && key.starts_with(name);
    const size_t distance = extends ? 1 : editDistance(key, name);
    if (distance < best_distance) {
      best_distance = distance;
      best = name;
    }
    if (!names.empty()) names += ", ";
    names += name;
  }
  std::string message = "unknown field \"" + key + "\"";
  if (!best.empty() && best_distance <= std::max<size_t>(2, key.size() / 3)) {
    message += " (did you mean \"" + best + "\"?)";
  } else if (!names.empty()) {
    message += " (expected one of: " + names + ")";
  }
  return message;
}

const pb::FieldDescriptor* findField(const pb::Descriptor* descriptor, const std::string& key) {
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const pb::FieldDescriptor* field = descriptor->field(i);
    if (field->name() == key || field->json_name() == key) return field;
  }
  return nullptr;
}

bool isListValue(const pb::Descriptor* d) { return d->full_name() == "google.protobuf.ListValue"; }

// Well-known types whose JSON form is a single string.
bool isStringLikeWellKnown(const pb::Descriptor* d) {
  const std::string& n = d->full_name();
  return n == "google.protobuf.Duration" || n == "google.protobuf.Timestamp" ||
         n == "google.protobuf.FieldMask";
}

bool isWrapper(const pb::Descriptor* d) {
  return d->file()->name() == "google/protobuf/wrappers.proto";
}

// Walks the YAML tree alongside the message descriptor, collecting every error and building the
// JSON text that protobuf's JSON parser then maps onto the message.
class Walker {
 public:
  Walker(std::string_view file_label, SourceMap* map, const YamlToProtoOptions& options)
      : file_label_(file_label), map_(map), options_(options) {}

  const std::vector<std::string>& errors() const { return errors_; }

  void error(int line, const std::string& path, const std::string& message) {
    std::string text(file_label_);
    if (line > 0) text += ":" + std::to_string(line);
    text += ": ";
    if (!path.empty()) text += path + ": ";
    text += message;
    errors_.push_back(std::move(text));
  }

  void record(const std::string& path, int line) {
    if (map_ != nullptr && line > 0) map_->record(path, line);
  }

  void message(const YAML::Node& node, const pb::Descriptor* descriptor, const std::string& path,
               std::string* json) {
    if (!node.IsMap()) {
      error(lineOf(node), path, "expected a mapping of fields, found " + describe(node));
      json->append("{}");
      return;
    }
    json->push_back('{');
    bool first = true;
    std::unordered_map<const pb::FieldDescriptor*, int> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      const int key_line = lineOf(key);
      if (!key.IsScalar()) {
        error(key_line, path, "a key must be a plain name, found " + describe(key));
        continue;
      }
      const pb::FieldDescriptor* field = findField(descriptor, key.Scalar());
      if (field == nullptr) {
        error(key_line, path, unknownFieldMessage(key.Scalar(), descriptor));
        continue;
      }
      const std::string field_path = childPath(path, field->name());
      if (auto [prev, inserted] = seen.emplace(field, key_line); !inserted) {
        error(key_line, path,
              "duplicate key \"" + key.Scalar() + "\" (first at line " +
                  std::to_string(prev->second) + ")");
        continue;
      }
      record(field_path, key_line);
      // A key with no value ("defaults:") means "not set", as in JSON's null.
      if (value.IsNull()) continue;
      std::string field_json;
      fieldValue(value, field, field_path, &field_json);
      if (!first) json->push_back(',');
      first = false;
      appendJsonString(field->json_name(), json);
      json->push_back(':');
      json->append(field_json);
    }
    json->push_back('}');
  }

 private:
  void fieldValue(const YAML::Node& value, const pb::FieldDescriptor* field,
                  const std::string& path, std::string* json) {
    if (field->is_map()) {
      mapValue(value, field, path, json);
    } else if (field->is_repeated()) {
      if (value.IsScalar() && field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE &&
          std::find(options_.scalar_as_list.begin(), options_.scalar_as_list.end(), path) !=
              options_.scalar_as_list.end()) {
        json->push_back('[');
        element(value, field, indexPath(path, 0), json);
        json->push_back(']');
        return;
      }
      if (!value.IsSequence()) {
        error(lineOf(value), path, "expected a list, found " + describe(value));
        json->append("[]");
        return;
      }
      json->push_back('[');
      for (size_t i = 0; i < value.size(); ++i) {
        const YAML::Node item = value[i];
        const std::string item_path = indexPath(path, i);
        record(item_path, lineOf(item));
        if (i > 0) json->push_back(',');
        element(item, field, item_path, json);
      }
      json->push_back(']');
    } else {
      element(value, field, path, json);
    }
  }

  void mapValue(const YAML::Node& value, const pb::FieldDescriptor* field, const std::string& path,
                std::string* json) {
    if (!value.IsMap()) {
      error(lineOf(value), path, "expected a mapping, found " + describe(value));
      json->append("{}");
      return;
    }
    const pb::FieldDescriptor* key_field = field->message_type()->map_key();
    const pb::FieldDescriptor* value_field = field->message_type()->map_value();
    std::unordered_map<std::string, int> seen;
    json->push_back('{');
    bool first = true;
    for (auto it = value.begin(); it != value.end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Node item = it->second;
      const int key_line = lineOf(key);
      if (!key.IsScalar()) {
        error(key_line, path, "a key must be a plain name, found " + describe(key));
        continue;
      }
      const std::string& name = key.Scalar();
      const std::string item_path = childPath(path, name);
      if (auto [prev, inserted] = seen.emplace(name, key_line); !inserted) {
        error(
            key_line, path,
            "duplicate key \"" + name + "\" (first at line " + std::to_string(prev->second) + ")");
        continue;
      }
      record(item_path, key_line);
      if (key_field->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING) {
        std::string ignored;
        scalar(key, key_field, item_path, &ignored);
      }
      std::string item_json;
      if (item.IsNull() && value_field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        // "quarantine:" with nothing under it: an empty message (or an empty list).
        item_json = isListValue(value_field->message_type()) ? "[]" : "{}";
      } else {
        element(item, value_field, item_path, &item_json);
      }
      if (!first) json->push_back(',');
      first = false;
      appendJsonString(name, json);
      json->push_back(':');
      json->append(item_json);
    }
    json->push_back('}');
  }

  // One value of `field`'s type (an element, for repeated fields).
  void element(const YAML::Node& value, const pb::FieldDescriptor* field, const std::string& path,
               std::string* json) {
    if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      scalar(value, field, path, json);
      return;
    }
    const pb::Descriptor* type = field->message_type();
    if (isListValue(type)) {
      listOfStrings(value, path, json);
    } else if (isStringLikeWellKnown(type)) {
      if (!value.IsScalar()) {
        error(lineOf(value), path, "expected a value, found " + describe(value));
        json->append("null");
        return;
      }
      appendJsonString(value.Scalar(), json);
    } else if (isWrapper(type)) {
      scalar(value, type->FindFieldByName("value"), path, json);
    } else if (value.IsNull()) {
      json->append("{}");
    } else {
      message(value, type, path, json);
    }
  }

  // A google.protobuf.ListValue written as a YAML list of scalars; every element becomes a
  // JSON string, so later validation sees exactly the text the user wrote.
  void listOfStrings(const YAML::Node& value, const std::string& path, std::string* json) {
    if (!value.IsSequence()) {
      error(lineOf(value), path, "expected a list, found " + describe(value));
      json->append("[]");
      return;
    }
    json->push_back('[');
    for (size_t i = 0; i < value.size(); ++i) {
      const YAML::Node item = value[i];
      const std::string item_path = indexPath(path, i);
      record(item_path, lineOf(item));
      if (i > 0) json->push_back(',');
      if (!item.IsScalar()) {
        error(lineOf(item), item_path, "expected a value, found " + describe(item));
        json->append("\"\"");
        continue;
      }
      appendJsonString(item.Scalar(), json);
    }
    json->push_back(']');
  }

  template <typename Int>
  void integer(const std::string& text, int line, const std::string& path, std::string* json) {
    Int parsed{};
    const char* begin = text.data();
    const char* end = text.data() + text.size();
    // from_chars rejects a leading '+', which YAML allows.
    if (begin != end && *begin == '+') ++begin;
    const auto [ptr, ec] = std::from_chars(begin, end, parsed);
    if (ec == std::errc::result_out_of_range) {
      error(line, path,
            text + " is out of range (" + std::to_string(std::numeric_limits<Int>::min()) + ".." +
                std::to_string(std::numeric_limits<Int>::max()) + ")");
      json->append("0");
      return;
    }
    if (ec != std::errc() || ptr != end || begin == end) {
      const bool negative_unsigned = !std::numeric_limits<Int>::is_signed && !text.empty() &&
                                     text[0] == '-' && text.size() > 1 &&
                                     std::isdigit(static_cast<unsigned char>(text[1]));
      error(line, path,
            negative_unsigned ? text + " is out of range (must not be negative)"
                              : "expected a whole number, found \"" + text + "\"");
      json->append("0");
      return;
    }
    // Quoted: the JSON mapping takes 64-bit integers as strings, and it costs nothing for 32-bit.
    appendJsonString(std::to_string(parsed), json);
  }

  void scalar(const YAML::Node& value, const pb::FieldDescriptor* field, const std::string& path,
              std::string* json) {
    const int line = lineOf(value);
    if (!value.IsScalar()) {
      error(line, path, "expected a value, found " + describe(value));
      json->append("null");
      return;
    }
    const std::string& text = value.Scalar();
    switch (field->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT32:
        integer<int32_t>(text, line, path, json);
        return;
      case pb::FieldDescriptor::CPPTYPE_INT64:
        integer<int64_t>(text, line, path, json);
        return;
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        integer<uint32_t>(text, line, path, json);
        return;
      case pb::FieldDescriptor::CPPTYPE_UINT64:
        integer<uint64_t>(text, line, path, json);
        return;
      case pb::FieldDescriptor::CPPTYPE_FLOAT:
      case pb::FieldDescriptor::CPPTYPE_DOUBLE: {
        char* end = nullptr;
        const double parsed = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(parsed)) {
          error(line, path, "expected a number, found \"" + text + "\"");
          json->append("0");
          return;
        }
        appendJsonString(text, json);
        return;
      }
      case pb::FieldDescriptor::CPPTYPE_BOOL:
        // Emitted as JSON literals: the only spellings accepted are YAML 1.2's.
        if (text == "true" || text == "True" || text == "TRUE") {
          json->append("true");
        } else if (text == "false" || text == "False" || text == "FALSE") {
          json->append("false");
        } else {
          error(line, path, "expected true or false, found \"" + text + "\"");
          json->append("false");
        }
        return;
      case pb::FieldDescriptor::CPPTYPE_ENUM: {
        const pb::EnumDescriptor* type = field->enum_type();
        if (type->FindValueByName(text) == nullptr) {
          std::string names;
          for (int i = 0; i < type->value_count(); ++i) {
            if (!names.empty()) names += ", ";
            names += type->value(i)->name();
          }
          error(line, path, "\"" + text + "\" is not one of " + names);
          json->append("0");
          return;
        }
        appendJsonString(text, json);
        return;
      }
      case pb::FieldDescriptor::CPPTYPE_STRING:
        appendJsonString(text, json);
        return;
      case pb::FieldDescriptor::CPPTYPE_MESSAGE:
        break;  // handled by element()
    }
    json->append("null");
  }

  std::string_view file_label_;
  SourceMap* map_;
  const YamlToProtoOptions& options_;
  std::vector<std::string> errors_;
};

std::string joinLines(const std::vector<std::string>& lines) {
  std::string joined;
  for (const std::string& line : lines) {
    if (!joined.empty()) joined += '\n';
    joined += line;
  }
  return joined;
}

}  // namespace

int SourceMap::lineOf(std::string_view path) const {
  std::string key(path);
  while (!key.empty()) {
    if (auto it = lines_.find(key); it != lines_.end()) return it->second;
    // Strip the last component: "[3]" or ".name".
    const size_t cut = key.find_last_of(".[");
    if (cut == std::string::npos) break;
    key.resize(cut);
  }
  return 0;
}

std::string located(std::string_view file_label, const SourceMap& map, std::string_view path,
                    std::string_view message) {
  std::string text(file_label);
  if (const int line = map.lineOf(path); line > 0) text += ":" + std::to_string(line);
  text += ": ";
  if (!path.empty()) {
    text += path;
    text += ": ";
  }
  text += message;
  return text;
}

Status yamlToProto(std::string_view yaml_text, std::string_view file_label,
                   google::protobuf::Message* out, SourceMap* map) {
  return yamlToProto(yaml_text, file_label, out, map, YamlToProtoOptions{});
}

Status yamlToProto(std::string_view yaml_text, std::string_view file_label,
                   google::protobuf::Message* out, SourceMap* map,
                   const YamlToProtoOptions& options) {
  const std::string label(file_label);
  // yaml-cpp reports everything by exception; none may leave this function.
  try {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(yaml_text));
    } catch (const YAML::ParserException& e) {
      std::string where = label;
      if (e.mark.line >= 0) where += ":" + std::to_string(e.mark.line + 1);
      return Status::error(where + ": YAML syntax error: " + e.msg);
    }
    if (!root.IsDefined() || root.IsNull()) {
      return Status::error(label + ": the file is empty (expected a mapping of fields)");
    }
    Walker walker(file_label, map, options);
    std::string json;
    walker.message(root, out->GetDescriptor(), "", &json);
    if (!walker.errors().empty()) return Status::error(joinLines(walker.errors()));

    out->Clear();
    google::protobuf::util::JsonParseOptions json_options;
    json_options.ignore_unknown_fields = false;
    const auto status = google::protobuf::util::JsonStringToMessage(json, out, json_options);
    if (!status.ok()) {
      // The walk should have caught everything; this names the file at least.
      return Status::error(label + ": " + std::string(status.message()));
    }
    return Status();
  } catch (const YAML::Exception& e) {
    std::string where = label;
    if (e.mark.line >= 0) where += ":" + std::to_string(e.mark.line + 1);
    return Status::error(where + ": " + e.msg);
  } catch (const std::exception& e) {
    return Status::error(label + ": " + e.what());
  } catch (...) {
    return Status::error(label + ": unexpected error while reading YAML");
  }
}

}  // namespace muzzle
