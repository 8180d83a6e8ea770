// Policy text edited line by line, the rest of it kept byte for byte: the machinery shared by
// the edits that place one entry into an admin's policy (fw/mud/policy_text.h `withProfile`,
// fw/policy/device_text.h `withDevice`). yaml-cpp parses the text only to find where things
// are (the line of each key and list item); the lines themselves are cut and spliced as
// strings, so comments and spelling outside the edited entry stay as they were.
//
// A flow-style (JSON) document has no comments to keep; such a document is emitted again whole
// (`blockStyle`, then YAML::Emitter). Pure; any thread. yaml-cpp reports with exceptions:
// `loadMapping` catches its parse errors; the callers catch the rest at their boundary.
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fw/common/status.h"

namespace muzzle {

// The text's lines without their '\n', as strings to edit in place, and back to text (every
// line, the last one included, ends in '\n').
std::vector<std::string> ownedLines(std::string_view text);
std::string joinLines(const std::vector<std::string>& lines);
// An empty line, or one holding only a comment.
bool blankOrComment(const std::string& line);
// `block`'s lines, each prefixed with `indent` spaces.
std::vector<std::string> indented(const std::string& block, size_t indent);
// Lines [begin, end) of `lines` replaced by `with` (begin == end: inserted before `begin`).
void splice(std::vector<std::string>& lines, size_t begin, size_t end,
            const std::vector<std::string>& with);

// The text parsed; kInvalidArgument (saying so, with yaml-cpp's message) when it does not parse
// or is neither a mapping nor empty (null).
Result<YAML::Node> loadMapping(std::string_view text);

// Block style for mappings and for lists of lists or mappings; lists of scalars and empty
// mappings stay on one line. For a whole document emitted again.
void blockStyle(YAML::Node node);

// Where a top-level key's value is, in lines (0-based), when that value is a block mapping or
// a block list; `flow` otherwise (`devices: [...]`, `profiles: {...}`, a scalar), and then the
// entries are not read.
struct Section {
  size_t key_line = 0;  // "profiles:"
  size_t end = 0;       // one past its last line (comments before the next key excluded)
  bool flow = false;
  bool list = false;  // a block list
  size_t indent = 2;  // of its entries' keys (a mapping) or of their first key (a list of maps)
  // (key, line) of each entry; a list's items have an empty key.
  std::vector<std::pair<std::string, size_t>> entries;
};
std::optional<Section> findSection(const YAML::Node& root, const std::string& key,
                                   const std::vector<std::string>& lines);

// The end (exclusive) of the entry starting at `line` inside `s`: the next entry's line, less
// the comment and blank lines just before it (they belong to the next entry).
size_t entryEnd(const Section& s, size_t line, const std::vector<std::string>& lines);

}  // namespace muzzle
