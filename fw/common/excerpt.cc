#include "fw/common/excerpt.h"

namespace muzzle {
namespace {

void appendEscaped(std::string* out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\\' || c == '"') {
      out->push_back('\\');
      out->push_back(c);
    } else if (u < 0x20 || u >= 0x7f) {
      out->append("\\x");
      out->push_back(kHex[u >> 4]);
      out->push_back(kHex[u & 0xf]);
    } else {
      out->push_back(c);
    }
  }
}

}  // namespace

std::string excerpt(std::string_view text, size_t max_bytes) {
  std::string out;
  const bool cut = text.size() > max_bytes;
  appendEscaped(&out, cut ? text.substr(0, max_bytes) : text);
  if (cut) out += "...";
  return out;
}

std::string quotedExcerpt(std::string_view text) { return "\"" + excerpt(text) + "\""; }

std::string printablePath(std::string_view path) {
  std::string out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find_first_of(".[]", start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view component = path.substr(start, end - start);
    // The common case, a path of plain names, comes back unchanged.
    out += excerpt(component);
    if (end == path.size()) break;
    out.push_back(path[end]);
    start = end + 1;
  }
  return out;
}

}  // namespace muzzle
