#include "mgmt/web/form.h"

#include <charconv>

#include "fw/common/net.h"
#include "fw/common/utf8.h"

namespace muzzle::web {
namespace {

constexpr std::string_view kDevicesPrefix = "/devices/";
// UINT64_MAX has 20 digits.
constexpr size_t kMaxDigits = 20;

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && hexValue(text[i + 1]) >= 0 &&
               hexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(text[i + 1]) * 16 + hexValue(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parseForm(std::string_view body) {
  std::map<std::string, std::string> out;
  while (!body.empty()) {
    const size_t amp = body.find('&');
    const std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    out[percentDecode(pair.substr(0, eq))] = percentDecode(pair.substr(eq + 1));
  }
  return out;
}

std::optional<uint64_t> parseDecimal(std::string_view text) {
  if (text.empty() || text.size() > kMaxDigits) return std::nullopt;
  // from_chars takes digits only into an unsigned type (no sign, no space) and says when the
  // value does not fit; it must take every byte.
  uint64_t n = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

std::optional<EventPosition> parseEventId(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto epoch = parseDecimal(text.substr(0, colon));
  auto sequence = parseDecimal(text.substr(colon + 1));
  if (!epoch || !sequence) return std::nullopt;
  return EventPosition{*epoch, *sequence};
}

std::optional<DeviceTarget> parseDeviceTarget(std::string_view path) {
  if (!path.starts_with(kDevicesPrefix)) return std::nullopt;
  const std::string_view rest = path.substr(kDevicesPrefix.size());
  const size_t slash = rest.find('/');
  // A MAC is 17 characters, 51 with every one percent-escaped: anything longer is not one.
  const std::string_view mac_text = rest.substr(0, slash);
  if (mac_text.size() > 3 * 17) return std::nullopt;
  auto mac = MacAddress::parse(percentDecode(mac_text));
  if (!mac) return std::nullopt;
  DeviceTarget target;
  target.mac = mac->toString();
  if (slash != std::string_view::npos) target.action = std::string(rest.substr(slash + 1));
  return target;
}

std::optional<std::string> formName(std::string_view value) {
  if (value.size() > kMaxFormName) return std::nullopt;
  for (size_t i = 0; i < value.size();) {
    const size_t n = utf8SequenceLength(value.substr(i));
    if (n == 0) return std::nullopt;
    const auto first = static_cast<unsigned char>(value[i]);
    const auto second = n > 1 ? static_cast<unsigned char>(value[i + 1]) : 0;
    const bool c0 = n == 1 && (first < 0x20 || first == 0x7f);
    const bool c1 = first == 0xc2 && second >= 0x80 && second <= 0x9f;  // U+0080..U+009F
    if (c0 || c1) return std::nullopt;
    i += n;
  }
  return std::string(value);
}

}  // namespace muzzle::web
