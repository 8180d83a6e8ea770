#include "fw/device/classifier.h"

#include <cctype>

namespace muzzle {
namespace {

bool sameIgnoringCase(char a, char b) {
  return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
}

bool ruleMatches(const ClassifyRule& rule, const DeviceRecord& d) {
  switch (rule.field) {
    case ClassifyRule::Field::kVendor:
      return !d.vendor.empty() && d.vendor == rule.pattern;
    case ClassifyRule::Field::kVendorPrefix:
      return !d.vendor.empty() && d.vendor.view().starts_with(rule.pattern);
    case ClassifyRule::Field::kDhcpHostname:
      return !d.dhcp_hostname.empty() && globMatch(rule.pattern, d.dhcp_hostname);
    case ClassifyRule::Field::kDhcpVendorClass:
      return !d.dhcp_vendor_class.empty() && globMatch(rule.pattern, d.dhcp_vendor_class);
    case ClassifyRule::Field::kMudUrl:
      return !d.mud_url.empty() && globMatch(rule.pattern, d.mud_url);
  }
  return false;
}

}  // namespace

bool globMatch(std::string_view pattern, std::string_view text) {
  // Iterative matcher with one backtrack point: linear in practice, no recursion on hostile
  // input ("a*a*a*a*b" against a long name).
  size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || sameIgnoringCase(pattern[p], text[t]))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::optional<size_t> classify(const std::vector<ClassifyRule>& rules, const DeviceRecord& device) {
  for (size_t i = 0; i < rules.size(); ++i) {
    if (ruleMatches(rules[i], device)) return i;
  }
  return std::nullopt;
}

}  // namespace muzzle
