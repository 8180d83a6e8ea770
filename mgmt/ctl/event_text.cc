#include "mgmt/ctl/event_text.h"

#include <charconv>
#include <string_view>

#include "mgmt/ctl/invocation.h"
#include "mgmt/ctl/output.h"

namespace muzzle::ctl {

std::string eventLine(const v1::Event& e, bool json) {
  std::string line;
  if (json) {
    line = toJson(e, false);
  } else if (e.has_gap() && e.gap().restarted()) {
    line = "gap: " + e.gap().reason();
  } else if (e.has_gap()) {
    line = "gap: events " + std::to_string(e.gap().first_missing()) + ".." +
           std::to_string(e.gap().first_available() - 1) + " are lost (" + e.gap().reason() + ")";
  } else {
    line = std::to_string(e.sequence()) + " " + timeText(e.time()) + " " + e.text();
  }
  if (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

std::optional<std::pair<uint64_t, uint64_t>> parseResumeToken(const std::string& text) {
  auto number = [](std::string_view s, uint64_t* out) {
    if (s.empty() || s.size() > 20) return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && end == s.data() + s.size();
  };
  const size_t colon = text.find(':');
  uint64_t epoch = 0, sequence = 0;
  if (colon == std::string::npos) {
    if (!number(text, &sequence)) return std::nullopt;
  } else if (!number(std::string_view(text).substr(0, colon), &epoch) ||
             !number(std::string_view(text).substr(colon + 1), &sequence)) {
    return std::nullopt;
  }
  return std::make_pair(epoch, sequence);
}

}  // namespace muzzle::ctl
