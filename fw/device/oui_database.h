// OuiDatabase: Ethernet address -> vendor, from Debian's ieee-data files (the IEEE registries
// MA-L, MA-M, MA-S and the older IAB). Longest prefix wins: a 36-bit MA-S/IAB block inside a
// 24-bit MA-L assignment names the smaller organisation. Locally administered (randomised)
// addresses carry no vendor. Immutable after load; any thread may read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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
  // Heap bytes the tables hold (capacity, not size), for the memory budget.
  size_t memoryBytes() const;

 private:
  // One assignment: the top 24, 28 or 36 bits of an address, and its vendor (index into
  // name_start_). Kept sorted by prefix for binary search: ~46k blocks as flat records take a
  // fifth of what hash maps of them did.
  template <typename Prefix>
  struct Block {
    Prefix prefix;
    uint32_t name;
  };
  template <typename Prefix>
  static void sortUnique(std::vector<Block<Prefix>>* blocks);
  template <typename Prefix>
  std::optional<std::string_view> find(const std::vector<Block<Prefix>>& blocks,
                                       Prefix prefix) const;
  std::string_view name(uint32_t index) const {
    return std::string_view(names_).substr(name_start_[index],
                                           name_start_[index + 1] - name_start_[index]);
  }

  // Vendor names, deduplicated, back to back in one pool; name i is
  // names_[name_start_[i], name_start_[i + 1]).
  std::string names_;
  std::vector<uint32_t> name_start_{0};
  std::vector<Block<uint32_t>> by24_;  // top 24 bits
  std::vector<Block<uint32_t>> by28_;  // top 28 bits
  std::vector<Block<uint64_t>> by36_;  // top 36 bits
  size_t skipped_lines_ = 0;
  std::vector<std::string> loaded_files_;
};

}  // namespace muzzle
