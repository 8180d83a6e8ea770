// UTF-8 validation for text users send (policies, muzzled.yaml). Protobuf refuses to carry a
// `string` field that is not UTF-8, so text that is not is refused up front, with the place of
// its first bad byte, rather than deep inside a parser.
#pragma once

#include <cstddef>
#include <string_view>

namespace muzzle {

// The offset of the first byte of `text` that does not belong to a well-formed UTF-8 sequence
// (overlong forms, surrogates and code points past U+10FFFF are not well-formed), or npos.
size_t firstInvalidUtf8(std::string_view text);

// The length (1 to 4) of the well-formed UTF-8 sequence `text` starts with, or 0 when it does
// not start with one (or is empty). For code that escapes what is not: metrics labels, syslog.
size_t utf8SequenceLength(std::string_view text);

inline bool isUtf8(std::string_view text) {
  return firstInvalidUtf8(text) == std::string_view::npos;
}

// Where a byte offset is, for messages: 1-based line and 1-based byte column in that line.
struct TextPosition {
  int line = 1;
  size_t column = 1;
};
TextPosition positionOf(std::string_view text, size_t offset);

}  // namespace muzzle
