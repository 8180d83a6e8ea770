#include "fw/device/oui_database.h"

#include <fstream>
#include <sstream>

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
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  return v;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

uint32_t OuiDatabase::intern(std::string_view name) {
  auto it = name_index_.find(std::string(name));
  if (it != name_index_.end()) return it->second;
  uint32_t index = static_cast<uint32_t>(names_.size());
  names_.emplace_back(name);
  name_index_.emplace(names_.back(), index);
  return index;
}

void OuiDatabase::addCsv(std::string_view text) {
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
    std::string_view name = trim(fields[2]);
    if (!prefix || name.empty()) {
      ++skipped_lines_;
      continue;
    }
    uint32_t index = intern(name);
    switch (trim(fields[1]).size()) {
      case 6: by24_[static_cast<uint32_t>(*prefix)] = index; break;
      case 7: by28_[static_cast<uint32_t>(*prefix)] = index; break;
      case 9: by36_[*prefix] = index; break;
      default: ++skipped_lines_; break;
    }
  }
}

Result<OuiDatabase> OuiDatabase::load(const std::string& dir) {
  OuiDatabase db;
  for (const char* file : {"oui.csv", "mam.csv", "oui36.csv", "iab.csv"}) {
    std::string path = dir + "/" + file;
    std::ifstream in(path, std::ios::binary);
    if (!in) continue;
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return Status::error("reading " + path + " failed; reinstall the ieee-data package");
    db.addCsv(text.str());
    db.loaded_files_.push_back(path);
  }
  return db;
}

std::optional<std::string_view> OuiDatabase::vendorOf(MacAddress mac) const {
  if (mac.locallyAdministered()) return std::nullopt;
  if (auto it = by36_.find(mac.value >> 12); it != by36_.end()) return names_[it->second];
  if (auto it = by28_.find(static_cast<uint32_t>(mac.value >> 20)); it != by28_.end()) return names_[it->second];
  if (auto it = by24_.find(static_cast<uint32_t>(mac.value >> 24)); it != by24_.end()) return names_[it->second];
  return std::nullopt;
}

}  // namespace muzzle
