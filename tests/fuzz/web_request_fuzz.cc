// libFuzzer target for what the web console reads from a browser's request itself, past
// Boost.Beast (which splits the request line, headers and body): the form body and the query
// string (parseForm, percentDecode), the numbers in them (parseDecimal), Last-Event-ID
// (parseEventId), the device a path names (parseDeviceTarget), the names a form hands to the API
// (formName), and the Cookie header (Sessions::find) and CSRF token (Sessions::csrfMatches).
// A browser on the LAN, signed in or not, may send any bytes in each.
//
// Input: sections separated by a line "----": the path, the query, the Cookie header, the body,
// Last-Event-ID (missing sections are empty).
// Oracle: the sanitizers, and:
//  - a form holds no more than its text: decoded names and values together are no longer than
//    it, one pair at most per '&'-separated piece; percent-encoding a form and reading it back
//    gives the same form, and decoding the encoding of any bytes gives them back;
//  - a number is read only from 1 to 20 digits and nothing else, exactly (the digits of the value
//    it gives, leading zeros aside), and every such text within 64 bits is read;
//  - a device target names a MAC in canonical form, from a path under /devices/ whose first
//    segment decodes to that MAC; its action is the rest of the path;
//  - a name handed to the API is the value as sent, UTF-8 without control characters, bounded;
//    every such value is handed on;
//  - what a refused login logs of the name is printable ASCII;
//  - a Cookie header finds a session only by its token: random bytes around the live session's
//    cookie still find it (within the header bound), the bytes alone find nothing; a CSRF token
//    matches only itself.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fw/common/clock.h"
#include "fw/common/excerpt.h"
#include "fw/common/net.h"
#include "fw/common/utf8.h"
#include "mgmt/web/form.h"
#include "mgmt/web/sessions.h"
#include "tests/fuzz/sections.h"

namespace {

using muzzle::web::parseForm;
using muzzle::web::percentDecode;

// Five sections, the missing ones empty.
std::vector<std::string_view> sections(std::string_view text) {
  std::vector<std::string_view> out = muzzle::fuzz::splitSections(text);
  out.resize(std::max<size_t>(out.size(), 5));
  return out;
}

// Every byte but letters and digits as %XX: the strictest encoding a browser may send.
std::string percentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')) {
      out += c;
    } else {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
  return out;
}

void checkForm(std::string_view text) {
  const std::map<std::string, std::string> form = parseForm(text);
  size_t bytes = 0;
  for (const auto& [name, value] : form) bytes += name.size() + value.size();
  if (bytes > text.size()) std::abort();
  if (form.size() > static_cast<size_t>(std::count(text.begin(), text.end(), '&')) + 1) {
    std::abort();
  }
  std::string encoded;
  for (const auto& [name, value] : form) {
    if (!encoded.empty()) encoded += '&';
    encoded += percentEncode(name) + "=" + percentEncode(value);
  }
  if (parseForm(encoded) != form) std::abort();
  if (percentDecode(text).size() > text.size()) std::abort();
  if (percentDecode(percentEncode(text)) != text) std::abort();
}

bool allDigits(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void checkDecimal(std::string_view text) {
  const auto n = muzzle::web::parseDecimal(text);
  const bool shape = !text.empty() && text.size() <= 20 && allDigits(text);
  if (n) {
    if (!shape) std::abort();
    std::string_view digits = text.substr(std::min(text.find_first_not_of('0'), text.size()));
    if (digits.empty()) digits = "0";
    if (std::to_string(*n) != digits) std::abort();
    return;
  }
  // Refused although only digits: it must be past 64 bits.
  if (shape) {
    std::string_view digits = text.substr(std::min(text.find_first_not_of('0'), text.size()));
    const std::string_view max = "18446744073709551615";
    if (digits.size() < max.size() || (digits.size() == max.size() && digits <= max)) {
      std::abort();
    }
  }
}

void checkEventId(std::string_view text) {
  const auto id = muzzle::web::parseEventId(text);
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    if (id) std::abort();
    return;
  }
  const auto epoch = muzzle::web::parseDecimal(text.substr(0, colon));
  const auto sequence = muzzle::web::parseDecimal(text.substr(colon + 1));
  if (id.has_value() != (epoch && sequence)) std::abort();
  if (id && (id->epoch != *epoch || id->sequence != *sequence)) std::abort();
}

void checkDeviceTarget(std::string_view path) {
  const auto target = muzzle::web::parseDeviceTarget(path);
  if (!target) return;
  if (!path.starts_with("/devices/")) std::abort();
  const auto mac = muzzle::MacAddress::parse(target->mac);
  if (!mac || mac->toString() != target->mac) std::abort();
  const std::string_view rest = path.substr(9);
  const size_t slash = rest.find('/');
  const auto sent = muzzle::MacAddress::parse(percentDecode(rest.substr(0, slash)));
  if (!sent || *sent != *mac) std::abort();
  const std::string_view action =
      slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  if (target->action != action) std::abort();
}

bool nameShape(std::string_view value) {
  if (value.size() > muzzle::web::kMaxFormName || !muzzle::isUtf8(value)) return false;
  for (size_t i = 0; i < value.size(); ++i) {
    const auto b = static_cast<unsigned char>(value[i]);
    if (b < 0x20 || b == 0x7f) return false;
    if (b == 0xc2 && i + 1 < value.size()) {
      const auto next = static_cast<unsigned char>(value[i + 1]);
      if (next >= 0x80 && next <= 0x9f) return false;  // C1 controls
    }
  }
  return true;
}

void checkName(std::string_view value) {
  const auto name = muzzle::web::formName(value);
  if (name.has_value() != nameShape(value)) std::abort();
  if (name && *name != value) std::abort();
}

bool printableAscii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

void checkSessions(std::string_view cookie, std::string_view body) {
  muzzle::ManualClock clock;
  muzzle::web::Sessions sessions(clock, std::chrono::minutes(30), std::chrono::hours(12), 4);
  const muzzle::web::Session s = sessions.create({"op", muzzle::Role::kOperator});
  // The fuzzer cannot know a fresh 256-bit token.
  if (sessions.find(cookie)) std::abort();
  if (muzzle::web::Sessions::csrfMatches(s, body)) std::abort();
  if (!muzzle::web::Sessions::csrfMatches(s, s.csrf)) std::abort();
  // The live cookie among the client's other bytes: found while it lies within the header bound
  // (8 KiB), quoted or not.
  const std::string_view before = cookie.substr(0, 4096);
  for (const std::string& value : {s.token, "\"" + s.token + "\""}) {
    const std::string header =
        std::string(before) + "; muzzle_session=" + value + ";" + std::string(body.substr(0, 2048));
    const auto found = sessions.find(header);
    if (!found || found->token != s.token) std::abort();
  }
  // Idle past its time, the session is gone, however it is asked for.
  clock.advance(std::chrono::minutes(31));
  if (sessions.find("muzzle_session=" + s.token) || sessions.size() != 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string_view> parts =
      sections(std::string_view(reinterpret_cast<const char*>(data), size));
  const std::string_view path = parts[0], query = parts[1], cookie = parts[2], body = parts[3],
                         last_event_id = parts[4];

  checkForm(body);
  checkForm(query);
  checkDeviceTarget(path);
  checkEventId(last_event_id);
  checkDecimal(last_event_id);
  for (std::string_view text : {query, body}) {
    for (const auto& [name, value] : parseForm(text)) {
      checkDecimal(value);
      checkName(value);
      checkName(name);
    }
  }
  // What a refused login logs of the name.
  const auto form = parseForm(body);
  if (auto it = form.find("name"); it != form.end()) {
    const std::string logged = muzzle::excerpt(it->second, 32);
    if (!printableAscii(logged)) std::abort();
  }
  checkSessions(cookie, body);
  return 0;
}
