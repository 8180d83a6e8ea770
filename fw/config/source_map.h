// Where each field of a parsed file was written: yamlToProto records the line of field paths
// as it walks the YAML, so that checks made later on the message (the policy compiler, the
// daemon config) can still name the line of what they refuse.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

namespace muzzle {

// Field path ("profiles.camera.egress[1].ports[0]") -> 1-based line in the source file.
// A plain value: filled by one walk, then read by any number of threads.
class SourceMap {
 public:
  void record(std::string path, int line) { lines_.emplace(std::move(path), line); }
  // Line of `path`, or of its nearest recorded ancestor; 0 when nothing is known.
  int lineOf(std::string_view path) const;

 private:
  std::unordered_map<std::string, int> lines_;
};

// Formats "file:line: path: message" (line omitted when unknown, path omitted when empty).
std::string located(std::string_view file_label, const SourceMap& map, std::string_view path,
                    std::string_view message);

}  // namespace muzzle
