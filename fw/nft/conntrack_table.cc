#include "fw/nft/conntrack_table.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "fw/common/text_lines.h"

namespace muzzle {
namespace {

// One row per CPU: more than this is not the file we know.
constexpr size_t kMaxRows = 1024;

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::vector<std::string_view> fieldsOf(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && isSpace(line[i])) ++i;
    const size_t start = i;
    while (i < line.size() && !isSpace(line[i])) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::optional<uint64_t> hexOf(std::string_view field) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value, 16);
  if (ec != std::errc() || end != field.data() + field.size()) return std::nullopt;
  return value;
}

Status badLine(std::string_view label, size_t line_no, std::string_view line, const char* why) {
  return Status::error(StatusCode::kInvalidArgument,
                       std::string(label) + ":" + std::to_string(line_no) + ": " + why + ": \"" +
                           std::string(line.substr(0, 200)) + "\"");
}

// A whole /proc or /proc/sys file (they report size 0: read to the end).
Result<std::string> readProcFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    const int err = errno;
    return Status::error(err == ENOENT ? StatusCode::kNotFound : StatusCode::kUnknown,
                         "cannot read the conntrack table's numbers from " + path + ": " +
                             std::strerror(err) +
                             (err == ENOENT ? " (is the nf_conntrack module loaded?)" : ""));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::error("cannot read " + path + ": read failed");
  return text.str();
}

}  // namespace

Result<uint64_t> readNetfilterSysctl(std::string_view name, const std::string& proc) {
  const std::string path = proc + "/sys/net/netfilter/" + std::string(name);
  Result<std::string> text = readProcFile(path);
  if (!text.ok()) return text.status();
  const std::vector<std::string_view> f = fieldsOf(text.value());
  uint64_t value = 0;
  if (f.size() != 1) return Status::error(StatusCode::kInvalidArgument, path + ": not one number");
  const auto [end, ec] = std::from_chars(f[0].data(), f[0].data() + f[0].size(), value);
  if (ec != std::errc() || end != f[0].data() + f[0].size()) {
    return Status::error(StatusCode::kInvalidArgument, path + ": not a number");
  }
  return value;
}

Result<ConntrackTableStats> parseConntrackStat(std::string_view text, std::string_view label) {
  ConntrackTableStats out;
  std::optional<size_t> early_drop, drop;
  size_t width = 0, rows = 0, line_no = 0;
  for (const std::string_view line : splitLines(text)) {
    ++line_no;
    const std::vector<std::string_view> fields = fieldsOf(line);
    if (fields.empty()) continue;  // a blank line is no row
    if (width == 0) {              // the first line names the columns
      width = fields.size();
      for (size_t i = 0; i < fields.size(); ++i) {
        if (fields[i] == "early_drop") early_drop = i;
        if (fields[i] == "drop") drop = i;
      }
      if (!early_drop || !drop) {
        return badLine(label, line_no, line, "the header names no early_drop or no drop column");
      }
      continue;
    }
    if (++rows > kMaxRows) return badLine(label, line_no, line, "more rows than CPUs could be");
    if (fields.size() != width) {
      return badLine(label, line_no, line, "a row of another width than the header");
    }
    const std::optional<uint64_t> e = hexOf(fields[*early_drop]);
    const std::optional<uint64_t> d = hexOf(fields[*drop]);
    if (!e || !d) return badLine(label, line_no, line, "a counter that is not hex");
    out.early_drops += *e;
    out.drops += *d;
  }
  if (width == 0)
    return Status::error(StatusCode::kInvalidArgument, std::string(label) + ": empty");
  return out;
}

Result<ConntrackTableStats> readConntrackTable(const std::string& proc) {
  const std::string stat_path = proc + "/net/stat/nf_conntrack";
  Result<std::string> text = readProcFile(stat_path);
  if (!text.ok()) return text.status();
  Result<ConntrackTableStats> stats = parseConntrackStat(text.value(), stat_path);
  if (!stats.ok()) return stats.status();
  Result<uint64_t> entries = readNetfilterSysctl("nf_conntrack_count", proc);
  if (!entries.ok()) return entries.status();
  Result<uint64_t> max = readNetfilterSysctl("nf_conntrack_max", proc);
  if (!max.ok()) return max.status();
  ConntrackTableStats out = stats.value();
  out.entries = entries.value();
  out.max = max.value();
  return out;
}

}  // namespace muzzle
