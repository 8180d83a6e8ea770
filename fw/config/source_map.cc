#include "fw/config/source_map.h"

#include "fw/common/excerpt.h"

namespace muzzle {

int SourceMap::lineOf(std::string_view path) const {
  std::string key(path);
  while (!key.empty()) {
    if (auto it = lines_.find(key); it != lines_.end()) return it->second;
    // Strip the last component: "[3]" or ".name".
    const size_t cut = key.find_last_of(".[");
    if (cut == std::string::npos) break;
    key.resize(cut);
  }
  return 0;
}

std::string located(std::string_view file_label, const SourceMap& map, std::string_view path,
                    std::string_view message) {
  std::string text(file_label);
  if (const int line = map.lineOf(path); line > 0) text += ":" + std::to_string(line);
  text += ": ";
  if (!path.empty()) {
    text += printablePath(path);
    text += ": ";
  }
  text += message;
  return text;
}

}  // namespace muzzle
