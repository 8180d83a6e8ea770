// What the YAML walk asks of a message's descriptor: which field a key names (and, when none,
// the nearest name to suggest), which well-known types have a one-string JSON form, and the
// field paths the walk builds ("profiles.camera.egress[1]"). Pure functions over protobuf
// descriptors; any thread.
#pragma once

#include <google/protobuf/descriptor.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace muzzle {

// "parent.name", or "name" at the top.
std::string childPath(const std::string& parent, std::string_view name);
// "parent[index]".
std::string indexPath(const std::string& parent, size_t index);
// `text` as a JSON string literal, for protobuf's JSON parser.
std::string quotedJson(std::string_view text);

// Levenshtein distance; both texts are bounded by the caller (kMaxYamlKeyBytes, field names).
size_t editDistance(std::string_view a, std::string_view b);
// "unknown field "egres" (did you mean "egress"?)", or the list of valid names when nothing is
// close: either way the user learns what to type.
std::string unknownFieldMessage(const std::string& key,
                                const google::protobuf::Descriptor* descriptor);
// The message's field names, ", "-separated.
std::string fieldNames(const google::protobuf::Descriptor* descriptor);
// The field `key` names, by proto name or lowerCamel JSON name; null when none.
const google::protobuf::FieldDescriptor* findField(const google::protobuf::Descriptor* descriptor,
                                                   const std::string& key);

bool isListValue(const google::protobuf::Descriptor* d);
// Well-known types whose JSON form is a single string (Duration, Timestamp, FieldMask).
bool isStringLikeWellKnown(const google::protobuf::Descriptor* d);
bool isWrapper(const google::protobuf::Descriptor* d);
// The repeated field a bare list fills for this message (options.proto), or null.
const google::protobuf::FieldDescriptor* listShorthand(const google::protobuf::Descriptor* d);

}  // namespace muzzle
