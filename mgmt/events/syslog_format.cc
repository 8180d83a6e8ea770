#include "mgmt/events/syslog_format.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "fw/common/utf8.h"

namespace muzzle {
namespace {

constexpr std::string_view kAppName = "muzzled";
// Room kept for `cut="NNNNN"` while SD-PARAMs are added.
constexpr size_t kCutReserve = 16;
constexpr size_t kMinMessageBytes = 480;

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

// Valid UTF-8 without control characters: others as "\xNN". In SD-PARAM values (`sd`) '"',
// '\' and ']' also get a backslash.
void appendClean(std::string_view value, bool sd, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < value.size();) {
    const uint8_t c = static_cast<uint8_t>(value[i]);
    const size_t n = utf8SequenceLength(value.substr(i));
    if (n == 0 || c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
      ++i;
      continue;
    }
    if (sd && (c == '"' || c == '\\' || c == ']')) out += '\\';
    out.append(value.substr(i, n));
    i += n;
  }
}

// A header field (HOSTNAME, MSGID): printable ASCII without spaces, at most `max` bytes, "-"
// when nothing is left.
std::string headerField(std::string_view text, size_t max) {
  std::string out;
  for (char c : text) {
    if (out.size() == max) break;
    if (c > 32 && c < 127) out += c;
  }
  return out.empty() ? "-" : out;
}

// An SD-NAME (RFC 5424 §6.3.3): printable ASCII but '=', ' ', ']' and '"', at most 32 bytes.
std::string sdName(std::string_view key) {
  std::string out;
  for (char c : key.substr(0, 32)) {
    out += (c > 32 && c < 127 && c != '=' && c != ']' && c != '"') ? c : '_';
  }
  return out.empty() ? "_" : out;
}

}  // namespace

SyslogSeverity syslogSeverity(std::string_view event) {
  // A stalled queue thread drops every new flow of its queues until systemd restarts muzzled.
  if (event == "fatal" || event == "start-failed" || event == "queue-stalled") {
    return SyslogSeverity::kCritical;
  }
  if (endsWith(event, "-failed") || contains(event, "error") || event == "audit-broken" ||
      event == "state-damaged" || event == "state-unwritable") {
    return SyslogSeverity::kError;
  }
  if (event == "deny" || event == "spoof" || event == "warning" || endsWith(event, "-refused") ||
      endsWith(event, "-dropped") || event == "log-suppressed" || event == "syslog-down" ||
      contains(event, "malformed") || event == "address-moved" || event == "dns-unsolicited" ||
      event == "dhcp-mac-mismatch" || event == "device-reassign-limited" ||
      event == "flood-guard" || event == "connection-limit" || event == "segment-guard" ||
      event == "queue-resumed") {
    return SyslogSeverity::kWarning;
  }
  // New devices refused on a segment: something forges source MACs, or more devices joined
  // at once than the segment's admission lets in (fw/device/device_admission.h).
  if (event == "device-flood") return SyslogSeverity::kWarning;
  if (event == "new-device" || event.substr(0, 7) == "policy-" || event.substr(0, 4) == "mud-" ||
      event == "device-reassigned" || event.substr(0, 6) == "learn-") {
    return SyslogSeverity::kNotice;
  }
  return SyslogSeverity::kInfo;
}

std::string syslogTimestamp(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto since = t.time_since_epoch();
  auto secs = duration_cast<seconds>(since);
  auto micros = duration_cast<microseconds>(since - secs).count();
  if (micros < 0) {  // before 1970: floor, so the fraction stays positive
    secs -= seconds(1);
    micros += 1000000;
  }
  const std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];  // room for any int the compiler can imagine in each field
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long>(micros));
  return buf;
}

void appendSdValue(std::string_view value, std::string& out) { appendClean(value, true, out); }

std::string formatSyslog(const LogLine& line, const SyslogOrigin& origin, size_t max_bytes) {
  max_bytes = std::max(max_bytes, kMinMessageBytes);
  const unsigned pri = origin.facility * 8u + static_cast<unsigned>(syslogSeverity(line.event()));
  std::string out;
  out.reserve(std::min<size_t>(max_bytes, 512));
  out += '<';
  out += std::to_string(pri);
  out += ">1 ";
  out += syslogTimestamp(line.time());
  out += ' ';
  out += headerField(origin.hostname, 255);
  out += ' ';
  out += kAppName;
  out += ' ';
  out += std::to_string(origin.procid);
  out += ' ';
  out += headerField(line.event(), 32);
  out += " [";
  out += kSyslogSdId;

  // `event` first, then the line's own pairs in their order.
  const auto& fields = line.fields();
  size_t cut = 0;
  std::string param;
  for (size_t i = 0; i <= fields.size(); ++i) {
    const std::string_view key = i == 0 ? std::string_view("event") : fields[i - 1].first;
    const std::string_view value = i == 0 ? line.event() : fields[i - 1].second;
    param.clear();
    param += ' ';
    param += sdName(key);
    param += "=\"";
    appendSdValue(value, param);
    param += '"';
    const size_t reserve = i == fields.size() ? 1 : 1 + kCutReserve;
    if (cut > 0 || out.size() + param.size() + reserve > max_bytes) {
      ++cut;
      continue;
    }
    out += param;
  }
  if (cut > 0) out += " cut=\"" + std::to_string(cut) + "\"";
  out += ']';

  if (out.size() + 1 < max_bytes) {
    std::string msg;
    appendClean(line.text(), false, msg);
    const size_t room = max_bytes - out.size() - 1;
    if (msg.size() > room) {
      size_t end = room;
      // Back to the start of a character: continuation bytes are 10xxxxxx.
      while (end > 0 && (static_cast<uint8_t>(msg[end]) & 0xc0) == 0x80) --end;
      msg.resize(end);
    }
    if (!msg.empty()) {
      out += ' ';
      out += msg;
    }
  }
  return out;
}

void appendOctetCounted(std::string_view message, std::string& out) {
  out += std::to_string(message.size());
  out += ' ';
  out.append(message);
}

}  // namespace muzzle
