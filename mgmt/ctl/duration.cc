#include "mgmt/ctl/duration.h"

#include <charconv>

namespace muzzle::ctl {

Result<uint32_t> parseDuration(const std::string& option, const std::string& text) {
  uint64_t unit = 1;
  std::string_view digits = text;
  if (!digits.empty()) {
    const char last = digits.back();
    unit = last == 'h' ? 3600 : last == 'm' ? 60 : 1;
    if (last == 'h' || last == 'm' || last == 's') digits.remove_suffix(1);
  }
  const std::string what = option + " \"" + text + "\"";
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return Status::error(StatusCode::kInvalidArgument,
                         what +
                             " is not a duration: write a whole number with s, m or h, like "
                             "90s, 5m or 1h");
  }
  uint64_t n = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  // Digits only, so the one possible failure is a number too large for 64 bits.
  if (error != std::errc() || end != digits.data() + digits.size() ||
      n > kMaxDurationSeconds / unit) {
    return Status::error(StatusCode::kInvalidArgument,
                         what + " is too long: the most is " + std::to_string(kMaxDurationSeconds) +
                             " seconds (" + std::to_string(kMaxDurationSeconds / 3600) +
                             "h); give a shorter duration, like 5m");
  }
  return static_cast<uint32_t>(n * unit);
}

}  // namespace muzzle::ctl
