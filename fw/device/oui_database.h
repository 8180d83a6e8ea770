// OuiDatabase: Ethernet address -> vendor, from Debian's ieee-data files (the IEEE registries
// MA-L, MA-M, MA-S and the older IAB). Longest prefix wins: a 36-bit MA-S/IAB block inside a
// 24-bit MA-L assignment names the smaller organisation. Locally administered (randomised)
// addresses carry no vendor. Immutable after load; any thread may read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fw/common/net.h"
#include "fw/common/status.h"

namespace muzzle {

class OuiDatabase {
 public:
  static constexpr const char* kDefaultDir = "/usr/share/ieee-data";

  // Reads oui.csv, mam.csv, oui36.csv and iab.csv from `dir`. A missing file is skipped (the
  // database is then smaller, and `loadedFiles()` says so); a file that exists but cannot be
  // parsed at all is an error naming it. Malformed lines are skipped and counted.
  static Result<OuiDatabase> load(const std::string& dir = kDefaultDir);
  // Parses one registry CSV text (for tests and for load()).
  void addCsv(std::string_view csv_text);

  // The vendor of `mac`, or nullopt (unknown block, or a locally administered address).
  std::optional<std::string_view> vendorOf(MacAddress mac) const;

  size_t size() const { return by24_.size() + by28_.size() + by36_.size(); }
  size_t skippedLines() const { return skipped_lines_; }
  const std::vector<std::string>& loadedFiles() const { return loaded_files_; }

 private:
  uint32_t intern(std::string_view name);

  std::vector<std::string> names_;  // vendor names, deduplicated
  std::unordered_map<std::string, uint32_t> name_index_;
  std::unordered_map<uint32_t, uint32_t> by24_;  // top 24 bits -> names_ index
  std::unordered_map<uint32_t, uint32_t> by28_;  // top 28 bits
  std::unordered_map<uint64_t, uint32_t> by36_;  // top 36 bits
  size_t skipped_lines_ = 0;
  std::vector<std::string> loaded_files_;
};

}  // namespace muzzle
