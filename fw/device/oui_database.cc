#include "fw/device/oui_database.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>
#include <unordered_map>

namespace muzzle {
namespace {

// Splits one CSV record (RFC 4180 quoting) into at most `max_fields` fields.
std::vector<std::string> splitCsv(std::string_view line, size_t max_fields) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      if (fields.size() == max_fields) break;
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

std::optional<uint64_t> parseHex(std::string_view s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    int d = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                     : -1;
    if (d < 0) return std::nullopt;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  return v;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

template <typename Prefix>
void OuiDatabase::sortUnique(std::vector<Block<Prefix>>* blocks) {
  // Stable, and the last of equal prefixes kept: a block listed again (a later file, a later
  // line) replaces the earlier one, as it always has.
  std::stable_sort(blocks->begin(), blocks->end(),
                   [](const auto& a, const auto& b) { return a.prefix < b.prefix; });
  auto out = blocks->begin();
  for (auto it = blocks->begin(); it != blocks->end(); ++it) {
    if (std::next(it) != blocks->end() && std::next(it)->prefix == it->prefix) continue;
    *out++ = *it;
  }
  blocks->erase(out, blocks->end());
  blocks->shrink_to_fit();
}

template <typename Prefix>
std::optional<std::string_view> OuiDatabase::find(const std::vector<Block<Prefix>>& blocks,
                                                  Prefix prefix) const {
  auto it = std::lower_bound(blocks.begin(), blocks.end(), prefix,
                             [](const auto& block, Prefix p) { return block.prefix < p; });
  if (it == blocks.end() || it->prefix != prefix) return std::nullopt;
  return name(it->name);
}

void OuiDatabase::addCsv(std::string_view text) {
  // New names cannot outgrow the text they come from: with this much room the pool never moves
  // during the call, so the views in `index` stay valid. Trimmed again at the end.
  names_.reserve(names_.size() + text.size());
  std::unordered_map<std::string_view, uint32_t> index;
  index.reserve(name_start_.size());
  for (uint32_t i = 0; i + 1 < name_start_.size(); ++i) index.emplace(name(i), i);
  const auto intern = [&](std::string_view vendor) {
    if (auto it = index.find(vendor); it != index.end()) return it->second;
    const auto id = static_cast<uint32_t>(name_start_.size() - 1);
    names_.append(vendor);
    name_start_.push_back(static_cast<uint32_t>(names_.size()));
    index.emplace(name(id), id);
    return id;
  };

  size_t pos = 0;
  bool header = true;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (header) {  // "Registry,Assignment,Organization Name,Organization Address"
      header = false;
      if (line.rfind("Registry,", 0) == 0) continue;
    }
    if (trim(line).empty()) continue;
    auto fields = splitCsv(line, 4);
    if (fields.size() < 3) {
      ++skipped_lines_;
      continue;
    }
    auto prefix = parseHex(trim(fields[1]));
    std::string_view vendor = trim(fields[2]);
    if (!prefix || vendor.empty()) {
      ++skipped_lines_;
      continue;
    }
    switch (trim(fields[1]).size()) {
      case 6:
        by24_.push_back({static_cast<uint32_t>(*prefix), intern(vendor)});
        break;
      case 7:
        by28_.push_back({static_cast<uint32_t>(*prefix), intern(vendor)});
        break;
      case 9:
        by36_.push_back({*prefix, intern(vendor)});
        break;
      default:
        ++skipped_lines_;
        break;
    }
  }
  sortUnique(&by24_);
  sortUnique(&by28_);
  sortUnique(&by36_);
  names_.shrink_to_fit();
  name_start_.shrink_to_fit();
}

size_t OuiDatabase::memoryBytes() const {
  return names_.capacity() + name_start_.capacity() * sizeof(uint32_t) +
         by24_.capacity() * sizeof(Block<uint32_t>) + by28_.capacity() * sizeof(Block<uint32_t>) +
         by36_.capacity() * sizeof(Block<uint64_t>);
}

Result<OuiDatabase> OuiDatabase::load(const std::string& dir) {
  OuiDatabase db;
  for (const char* file : {"oui.csv", "mam.csv", "oui36.csv", "iab.csv"}) {
    std::string path = dir + "/" + file;
    std::ifstream in(path, std::ios::binary);
    if (!in) continue;
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad())
      return Status::error("reading " + path + " failed; reinstall the ieee-data package");
    db.addCsv(text.str());
    db.loaded_files_.push_back(path);
  }
  return db;
}

std::optional<std::string_view> OuiDatabase::vendorOf(MacAddress mac) const {
  if (mac.locallyAdministered()) return std::nullopt;
  if (auto v = find<uint64_t>(by36_, mac.value >> 12)) return v;
  if (auto v = find<uint32_t>(by28_, static_cast<uint32_t>(mac.value >> 20))) return v;
  return find<uint32_t>(by24_, static_cast<uint32_t>(mac.value >> 24));
}

}  // namespace muzzle
