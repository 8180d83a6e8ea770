#include "fw/policy/policy_syntax.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "fw/common/excerpt.h"

namespace muzzle {

std::string inQuotes(std::string_view text) { return quotedExcerpt(text); }

bool isValidName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

bool isReservedGroupName(std::string_view name) {
  return name == "gateway" || name == "local" || name == "internet" || name == "any";
}

bool looksLikeDomain(std::string_view target) {
  if (target.starts_with("*.")) return true;
  const bool has_dot = target.find('.') != std::string_view::npos;
  const bool has_letter = std::any_of(target.begin(), target.end(), [](char c) {
    return std::isalpha(static_cast<unsigned char>(c));
  });
  return has_dot && has_letter;
}

std::optional<NamePattern> parseNamePattern(std::string_view target) {
  NamePattern pattern;
  std::string_view rest = target;
  if (rest.starts_with("*.")) {
    pattern.wildcard = true;
    rest.remove_prefix(2);
  }
  if (rest.empty() || rest.size() > 253 || rest.back() == '.') return std::nullopt;
  std::string lower;
  size_t label = 0;
  for (const char c : rest) {
    if (c == '.') {
      if (label == 0) return std::nullopt;
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') {
      if (++label > 63) return std::nullopt;
    } else {
      return std::nullopt;
    }
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  pattern.suffix = pattern.wildcard ? "." + lower : lower;
  return pattern;
}

std::optional<uint16_t> parsePort(std::string_view text) {
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  if (value < 1 || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

std::string cidrProblem(const std::string& text) {
  if (text.find('/') != std::string::npos) {
    return inQuotes(text) +
           " is not a valid CIDR (a network address with no host bits set, e.g. 198.18.1.0/24)";
  }
  return inQuotes(text) + " is not an IP address or CIDR";
}

}  // namespace muzzle
