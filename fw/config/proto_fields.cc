#include "fw/config/proto_fields.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <vector>

#include "fw/common/excerpt.h"
#include "muzzle/v1/options.pb.h"

namespace muzzle {

namespace pb = google::protobuf;

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

bool isStringLikeWellKnown(const pb::Descriptor* d) {
  const std::string& n = d->full_name();
  return n == "google.protobuf.Duration" || n == "google.protobuf.Timestamp" ||
         n == "google.protobuf.FieldMask";
}

bool isWrapper(const pb::Descriptor* d) {
  return d->file()->name() == "google/protobuf/wrappers.proto";
}

const pb::FieldDescriptor* listShorthand(const pb::Descriptor* d) {
  const std::string& name = d->options().GetExtension(v1::list_shorthand);
  if (name.empty()) return nullptr;
  const pb::FieldDescriptor* field = d->FindFieldByName(name);
  return field != nullptr && field->is_repeated() && !field->is_map() ? field : nullptr;
}

}  // namespace muzzle
