// Text from a request or a file, made safe to put in an error message. An error echoes only
// what its reader wrote themselves (their own policy text, the name they gave a file), never the
// contents of a file the box read for them; and even that is escaped and cut short, so a message
// stays one printable line of valid UTF-8 (it travels in proto `string` fields and log lines)
// and a huge or binary value cannot make it huge.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace muzzle {

// At most this many bytes of input are shown; longer text ends in "...".
inline constexpr size_t kMaxExcerptBytes = 40;

// `text` cut to `max_bytes` (then "..." added), every byte outside printable ASCII as \xNN and
// a backslash or double quote escaped with a backslash.
std::string excerpt(std::string_view text, size_t max_bytes = kMaxExcerptBytes);

// excerpt(text) in double quotes: how an error quotes a value the user wrote.
std::string quotedExcerpt(std::string_view text);

// A field path ("profiles.<name>.egress[0]") whose map keys came from the user: every byte
// escaped as excerpt() does, each component (between '.', '[' and ']') cut to kMaxExcerptBytes.
std::string printablePath(std::string_view path);

}  // namespace muzzle
