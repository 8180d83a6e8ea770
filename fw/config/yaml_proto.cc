#include "fw/config/yaml_proto.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/wrappers.pb.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <limits>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "muzzle/v1/options.pb.h"

namespace muzzle {
namespace {

namespace pb = google::protobuf;

// One YAML document as the walk needs it: each node's kind, line, scalar text and children.
// Built from yaml-cpp's parser events rather than with YAML::Load, whose node tree costs ~60
// bytes of heap per byte of input (12 MB for the bench's 200 KB policy, all of it transient
// garbage that fragments the heap the compiled policy then lands in) and a fifth of the parse
// time. An alias shares the node its anchor names, as in yaml-cpp's tree.
class YamlDocument : public YAML::EventHandler {
 public:
  enum class Kind : uint8_t { kNull, kScalar, kSequence, kMap };

  struct NodeData {
    Kind kind = Kind::kNull;
    bool complete = false;  // a container's end was seen
    int line = 0;           // 1-based; 0 when unknown
    uint32_t first = 0;     // scalar: index into scalars_; container: into children_
    uint32_t count = 0;     // container: children (a map's are key, value, key, value, ...)
  };

  // The document's root node, or -1 when the text held no document. Throws YAML::Exception
  // (the caller contains it).
  int64_t parse(std::string_view text) {
    std::istringstream stream{std::string(text)};
    YAML::Parser parser(stream);
    if (!parser.HandleNextDocument(*this) || root_ < 0) return -1;
    return root_;
  }

  const NodeData& node(uint32_t index) const { return nodes_[index]; }
  const std::string& scalar(uint32_t index) const { return scalars_[nodes_[index].first]; }
  uint32_t child(uint32_t index, uint32_t i) const { return children_[nodes_[index].first + i]; }
  // Line of an alias that names a node containing it (a cycle), or 0.
  int cycleLine() const { return cycle_line_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    const uint32_t index = push(Kind::kNull, mark, anchor);
    nodes_[index].complete = true;
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    uint32_t target = 0;
    if (anchor < anchors_.size() && anchors_[anchor] != kNone) {
      target = anchors_[anchor];
    }
    if (anchor >= anchors_.size() || anchors_[anchor] == kNone || !nodes_[target].complete) {
      // yaml-cpp's tree would hold a cycle here, which no walk finishes; refuse it instead.
      if (cycle_line_ == 0) cycle_line_ = mark.line >= 0 ? mark.line + 1 : 0;
      OnNull(mark, YAML::NullAnchor);
      return;
    }
    attach(target);
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    const uint32_t index = push(Kind::kScalar, mark, anchor);
    nodes_[index].first = static_cast<uint32_t>(scalars_.size());
    nodes_[index].complete = true;
    scalars_.push_back(value);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(push(Kind::kSequence, mark, anchor));
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(push(Kind::kMap, mark, anchor));
  }
  void OnMapEnd() override { close(); }

 private:
  static constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

  // A new node, attached to the open container (or the document's root).
  uint32_t push(Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
    const auto index = static_cast<uint32_t>(nodes_.size());
    NodeData& data = nodes_.emplace_back();
    data.kind = kind;
    data.line = mark.line >= 0 ? mark.line + 1 : 0;
    if (anchor != YAML::NullAnchor) {
      if (anchor >= anchors_.size()) anchors_.resize(anchor + 1, kNone);
      anchors_[anchor] = index;
    }
    attach(index);
    return index;
  }

  void attach(uint32_t index) {
    if (open_.empty()) {
      if (root_ < 0) root_ = index;
      return;
    }
    pending_.push_back(index);
  }

  // Children arrive interleaved with their own children; each container's are collected in
  // `pending_` and moved, contiguous, into `children_` when it ends.
  void open(uint32_t index) { open_.push_back({index, pending_.size()}); }
  void close() {
    const auto [index, start] = open_.back();
    open_.pop_back();
    NodeData& data = nodes_[index];
    data.first = static_cast<uint32_t>(children_.size());
    data.count = static_cast<uint32_t>(pending_.size() - start);
    data.complete = true;
    children_.insert(children_.end(), pending_.begin() + static_cast<std::ptrdiff_t>(start),
                     pending_.end());
    pending_.resize(start);
  }

  std::vector<NodeData> nodes_;
  std::vector<std::string> scalars_;
  std::vector<uint32_t> children_;
  std::vector<uint32_t> pending_;
  std::vector<std::pair<uint32_t, size_t>> open_;  // (container, its first entry in pending_)
  std::vector<uint32_t> anchors_;                  // anchor -> node
  int64_t root_ = -1;
  int cycle_line_ = 0;
};

// A node of a YamlDocument: what the walk asks of it. Cheap to copy; valid while the document
// lives.
class YamlNode {
 public:
  YamlNode(const YamlDocument& doc, uint32_t index) : doc_(&doc), index_(index) {}

  bool IsNull() const { return data().kind == YamlDocument::Kind::kNull; }
  bool IsScalar() const { return data().kind == YamlDocument::Kind::kScalar; }
  bool IsSequence() const { return data().kind == YamlDocument::Kind::kSequence; }
  bool IsMap() const { return data().kind == YamlDocument::Kind::kMap; }
  const std::string& Scalar() const { return doc_->scalar(index_); }
  int line() const { return data().line; }
  // Sequence items, or a map's pairs.
  uint32_t size() const { return IsMap() ? data().count / 2 : data().count; }
  YamlNode item(uint32_t i) const { return YamlNode(*doc_, doc_->child(index_, i)); }
  YamlNode key(uint32_t i) const { return YamlNode(*doc_, doc_->child(index_, 2 * i)); }
  YamlNode value(uint32_t i) const { return YamlNode(*doc_, doc_->child(index_, 2 * i + 1)); }

 private:
  const YamlDocument::NodeData& data() const { return doc_->node(index_); }
  const YamlDocument* doc_;
  uint32_t index_;
};

int lineOf(const YamlNode& node) { return node.line(); }

std::string describe(const YamlNode& node) {
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  if (node.IsScalar()) return "\"" + node.Scalar() + "\"";
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

// Protobuf refuses to serialize a string field that is not UTF-8, and its JSON parser refused
// such text outright; checking here keeps that refusal, now with a line.
bool isUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t extra = 0;
    uint32_t code = 0;
    if ((c & 0xe0) == 0xc0) {
      extra = 1;
      code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = code << 6 | (next & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMin[extra] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
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

  void error(int line, const std::string& path, const std::string& message) {
    std::string text(file_label_);
    if (line > 0) text += ":" + std::to_string(line);
    text += ": ";
    if (!path.empty()) text += path + ": ";
    text += message;
    errors_.push_back(std::move(text));
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
              "duplicate key \"" + key.Scalar() + "\" (first at line " +
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
      const std::string& name = key.Scalar();
      const std::string item_path = childPath(path, name);
      if (auto [prev, inserted] = seen.emplace(name, key_line); !inserted) {
        error(
            key_line, path,
            "duplicate key \"" + name + "\" (first at line " + std::to_string(prev->second) + ")");
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
      if (!status.ok()) error(lineOf(value), path, std::string(status.message()));
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
            text + " is out of range (" + std::to_string(std::numeric_limits<Int>::min()) + ".." +
                std::to_string(std::numeric_limits<Int>::max()) + ")");
      return false;
    }
    if (ec != std::errc() || ptr != end || begin == end) {
      const bool negative_unsigned = !std::numeric_limits<Int>::is_signed && !text.empty() &&
                                     text[0] == '-' && text.size() > 1 &&
                                     std::isdigit(static_cast<unsigned char>(text[1]));
      error(line, path,
            negative_unsigned ? text + " is out of range (must not be negative)"
                              : "expected a whole number, found \"" + text + "\"");
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
          error(line, path, "expected a number, found \"" + text + "\"");
          return;
        }
        if (slot.field->cpp_type() == pb::FieldDescriptor::CPPTYPE_DOUBLE) {
          slot.setDouble(parsed);
        } else if (std::fabs(parsed) > std::numeric_limits<float>::max()) {
          error(line, path, text + " is out of range for a 32-bit float");
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
          error(line, path, "expected true or false, found \"" + text + "\"");
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
          error(line, path, "\"" + text + "\" is not one of " + names);
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
            error(line, path, "expected base64, found \"" + text + "\"");
            return;
          }
          slot.setString(std::move(*bytes.mutable_value()));
          return;
        }
        if (!isUtf8(text)) {
          error(line, path, "the text is not valid UTF-8");
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
    YamlDocument document;
    int64_t root = -1;
    try {
      root = document.parse(yaml_text);
    } catch (const YAML::ParserException& e) {
      std::string where = label;
      if (e.mark.line >= 0) where += ":" + std::to_string(e.mark.line + 1);
      return Status::error(where + ": YAML syntax error: " + e.msg);
    }
    if (root < 0 || YamlNode(document, static_cast<uint32_t>(root)).IsNull()) {
      return Status::error(label + ": the file is empty (expected a mapping of fields)");
    }
    if (document.cycleLine() != 0) {
      return Status::error(label + ":" + std::to_string(document.cycleLine()) +
                           ": an alias names a node that contains it; that never ends");
    }
    out->Clear();
    Walker walker(file_label, map, options);
    walker.message(YamlNode(document, static_cast<uint32_t>(root)), out, "", 0);
    if (!walker.errors().empty()) return Status::error(joinLines(walker.errors()));
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
