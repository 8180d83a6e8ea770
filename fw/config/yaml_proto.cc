#include "fw/config/yaml_proto.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/wrappers.pb.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <unordered_map>
#include <vector>

#include "fw/common/excerpt.h"
#include "fw/common/utf8.h"
#include "fw/config/yaml_document.h"
#include "muzzle/v1/options.pb.h"

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

std::string childPath(const std::string& parent, std::string_view name) {
  if (parent.empty()) return std::string(name);
  std::string path;
  path.reserve(parent.size() + 1 + name.size());
  path += parent;
  path += '.';
  path += name;
  return path;
}

std::string indexPath(const std::string& parent, size_t index) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, index);
  std::string path;
  path.reserve(parent.size() + 2 + static_cast<size_t>(end - digits));
  path += parent;
  path += '[';
  path.append(digits, end);
  path += ']';
  return path;
}

std::string quotedJson(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string json;
  json.reserve(text.size() + 2);
  json.push_back('"');
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      json.push_back('\\');
      json.push_back(c);
    } else if (u < 0x20) {
      json.append("\\u00");
      json.push_back(kHex[u >> 4]);
      json.push_back(kHex[u & 0xf]);
    } else {
      json.push_back(c);
    }
  }
  json.push_back('"');
  return json;
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
  std::string message = "unknown field " + quotedExcerpt(key);
  if (!best.empty() && best_distance <= std::max<size_t>(2, key.size() / 3)) {
    message += " (did you mean \"" + best + "\"?)";
  } else if (!names.empty()) {
    message += " (expected one of: " + names + ")";
  }
  return message;
}

std::string fieldNames(const pb::Descriptor* descriptor) {
  std::string names;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    if (!names.empty()) names += ", ";
    names += descriptor->field(i)->name();
  }
  return names;
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

// The repeated field a bare list fills for this message (options.proto), or null.
const pb::FieldDescriptor* listShorthand(const pb::Descriptor* d) {
  const std::string& name = d->options().GetExtension(v1::list_shorthand);
  if (name.empty()) return nullptr;
  const pb::FieldDescriptor* field = d->FindFieldByName(name);
  return field != nullptr && field->is_repeated() && !field->is_map() ? field : nullptr;
}

// Where one value goes: a singular field, one more element of a repeated field (maps included:
// their entries are a repeated message), and how to put it there through reflection.
struct Slot {
  pb::Message* message;
  const pb::FieldDescriptor* field;

  bool repeated() const { return field->is_repeated(); }
  const pb::Reflection* reflection() const { return message->GetReflection(); }
  pb::Message* mutableMessage() const {
    return repeated() ? reflection()->AddMessage(message, field)
                      : reflection()->MutableMessage(message, field);
  }
  void setInt32(int32_t v) const {
    repeated() ? reflection()->AddInt32(message, field, v)
               : reflection()->SetInt32(message, field, v);
  }
  void setInt64(int64_t v) const {
    repeated() ? reflection()->AddInt64(message, field, v)
               : reflection()->SetInt64(message, field, v);
  }
  void setUInt32(uint32_t v) const {
    repeated() ? reflection()->AddUInt32(message, field, v)
               : reflection()->SetUInt32(message, field, v);
  }
  void setUInt64(uint64_t v) const {
    repeated() ? reflection()->AddUInt64(message, field, v)
               : reflection()->SetUInt64(message, field, v);
  }
  void setFloat(float v) const {
    repeated() ? reflection()->AddFloat(message, field, v)
               : reflection()->SetFloat(message, field, v);
  }
  void setDouble(double v) const {
    repeated() ? reflection()->AddDouble(message, field, v)
               : reflection()->SetDouble(message, field, v);
  }
  void setBool(bool v) const {
    repeated() ? reflection()->AddBool(message, field, v)
               : reflection()->SetBool(message, field, v);
  }
  void setEnum(int v) const {
    repeated() ? reflection()->AddEnumValue(message, field, v)
               : reflection()->SetEnumValue(message, field, v);
  }
  void setString(std::string v) const {
    repeated() ? reflection()->AddString(message, field, std::move(v))
               : reflection()->SetString(message, field, std::move(v));
  }
};

// Walks the YAML tree alongside the message descriptor and fills the message through
// reflection, with protobuf's JSON-mapping rules (proto or lowerCamel names, enums by name,
// 64-bit integers from text), collecting every error instead of stopping at the first.
class Walker {
 public:
  Walker(std::string_view file_label, SourceMap* map, const YamlToProtoOptions& options)
      : file_label_(file_label), map_(map), options_(options) {}

  const std::vector<std::string>& errors() const { return errors_; }

  // Past kMaxReportedErrors, errors are only counted (the caller adds one line saying how
  // many more there were), so a text of nothing but mistakes cannot make a huge message.
  void error(int line, const std::string& path, const std::string& message) {
    if (errors_.size() >= kMaxReportedErrors) {
      ++more_errors_;
      return;
    }
    std::string text(file_label_);
    if (line > 0) text += ":" + std::to_string(line);
    text += ": ";
    if (!path.empty()) text += printablePath(path) + ": ";
    text += message;
    errors_.push_back(std::move(text));
  }
  size_t moreErrors() const { return more_errors_; }

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
        listElements(node, Slot{out, list}, path, line);
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
      fieldValue(value, Slot{out, field}, field_path, field_line);
    }
  }

 private:
  void fieldValue(const YamlNode& value, const Slot& slot, const std::string& path, int line) {
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
  void listElements(const YamlNode& list, const Slot& slot, const std::string& path, int line) {
    for (uint32_t i = 0; i < list.size(); ++i) {
      const YamlNode item = list.item(i);
      const std::string item_path = indexPath(path, i);
      element(item, slot, item_path, record(item_path, lineOf(item), line));
    }
  }

  void mapValue(const YamlNode& value, const Slot& slot, const std::string& path, int line) {
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
      element(key, Slot{entry, key_field}, item_path, item_line);
      if (item.IsNull() && value_field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        // "quarantine:" with nothing under it: an empty message (or an empty list).
        entry->GetReflection()->MutableMessage(entry, value_field);
      } else {
        element(item, Slot{entry, value_field}, item_path, item_line);
      }
    }
  }

  // One value of the slot's type (an element, for repeated fields).
  void element(const YamlNode& value, const Slot& slot, const std::string& path, int line) {
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
      scalar(value, Slot{wrapper, type->FindFieldByName("value")}, path);
    } else if (value.IsNull()) {
      slot.mutableMessage();
    } else {
      message(value, slot.mutableMessage(), path, line);
    }
  }

  // A google.protobuf.ListValue written as a YAML list of scalars; every element becomes a
  // string value, so later validation sees exactly the text the user wrote.
  void listOfStrings(const YamlNode& value, const Slot& slot, const std::string& path, int line) {
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

  void scalar(const YamlNode& value, const Slot& slot, const std::string& path) {
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

  std::string_view file_label_;
  SourceMap* map_;
  const YamlToProtoOptions& options_;
  std::vector<std::string> errors_;
  size_t more_errors_ = 0;
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
    text += printablePath(path);
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
  // Protobuf carries only UTF-8 in string fields, and a message quoting the text must be
  // UTF-8 too: refuse other bytes up front, saying where the first one is.
  if (const size_t bad = firstInvalidUtf8(yaml_text); bad != std::string_view::npos) {
    const TextPosition at = positionOf(yaml_text, bad);
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(yaml_text[bad]));
    return Status::error(label + ":" + std::to_string(at.line) + ": byte " +
                         std::to_string(at.column) + " of this line (" + hex +
                         ") is not UTF-8; save the file as UTF-8");
  }
  YamlDocument document;
  if (Status s = document.parse(yaml_text, label); !s.ok()) return s;
  if (document.root() < 0 || YamlNode(document, static_cast<uint32_t>(document.root())).IsNull()) {
    return Status::error(label + ": the file is empty (expected a mapping of fields)");
  }
  out->Clear();
  Walker walker(file_label, map, options);
  try {
    walker.message(YamlNode(document, static_cast<uint32_t>(document.root())), out, "", 0);
  } catch (const std::exception& e) {
    return Status::error(label + ": " + excerpt(e.what(), 200));
  }
  if (walker.errors().empty()) return Status();
  std::string joined = joinLines(walker.errors());
  if (walker.moreErrors() > 0) {
    joined += "\n" + label + ": " + std::to_string(walker.moreErrors()) +
              " more errors not shown; fix these first";
  }
  return Status::error(std::move(joined));
}

}  // namespace muzzle
