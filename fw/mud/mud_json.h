// The JSON of a MUD file, read under bounds. A MUD file comes from a manufacturer (or from a web
// server the box fetches it from), so its bytes are untrusted: the reader refuses, with a message
// naming the line and the JSON path, a file over kMaxMudBytes, nesting deeper than kMaxMudDepth,
// more than kMaxMudValues values, a key given twice in one object, and anything that is not one
// JSON document (RFC 8259, UTF-8, no comments). It never throws: nlohmann's SAX parser reports to
// a handler that builds the tree and stops at the first bound, so a deep document is refused
// before it is built. Pure; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fw/common/status.h"

namespace muzzle {

inline constexpr size_t kMaxMudBytes = 256 * 1024;
inline constexpr size_t kMaxMudDepth = 32;        // real files nest about 12 deep
inline constexpr size_t kMaxMudValues = 100'000;  // objects, arrays and scalars together

// The document, or kInvalidArgument: "line 3: acls.acl[0]: ...".
Result<nlohmann::json> parseMudJson(std::string_view bytes);

// A JSON path as errors and reports spell it: `ietf-access-control-list:acls.acl[0].name`.
std::string joinPath(std::string_view parent, std::string_view key);
std::string indexPath(std::string_view parent, size_t index);

}  // namespace muzzle
