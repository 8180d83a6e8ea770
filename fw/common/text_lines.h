// A text's lines, without their '\n'; a last line without one counts, an empty text has none.
// The views point into `text`, which must outlive them.
#pragma once

#include <string_view>
#include <vector>

namespace muzzle {

inline std::vector<std::string_view> splitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

}  // namespace muzzle
