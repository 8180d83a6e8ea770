// The console's request bodies and query strings (application/x-www-form-urlencoded).
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace muzzle::web {

// An application/x-www-form-urlencoded body as name -> value (the last one wins); bounded by
// the server's body limit. Percent-escapes and '+' decoded.
std::map<std::string, std::string> parseForm(std::string_view body);
std::string percentDecode(std::string_view text);

}  // namespace muzzle::web
