// The input format of the targets fed several files at once (mud_cache, revision,
// web_request): sections separated by a line "----". Apart from fuzz_support.h, whose policy
// headers a target that links none of the policy libraries cannot include.
#pragma once

#include <string_view>
#include <vector>

namespace muzzle::fuzz {

// The sections of `text`, in order (the last may be empty).
inline std::vector<std::string_view> splitSections(std::string_view text) {
  std::vector<std::string_view> out;
  for (;;) {
    const size_t sep = text.find("\n----\n");
    if (sep == std::string_view::npos) break;
    out.push_back(text.substr(0, sep));
    text.remove_prefix(sep + 6);
  }
  out.push_back(text);
  return out;
}

}  // namespace muzzle::fuzz
