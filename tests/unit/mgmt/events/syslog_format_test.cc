// RFC 5424 formatting of event lines: golden lines, PRI, the timestamp, hostile values, cuts,
// and octet-counting framing.
#include "mgmt/events/syslog_format.h"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

const std::chrono::system_clock::time_point kWhen =
    std::chrono::system_clock::time_point(std::chrono::seconds(1'790'000'000)) +
    std::chrono::microseconds(123456);

LogLine at(LogLine line) {
  line.setTime(kWhen);
  return line;
}

const SyslogOrigin kOrigin{"gw1", 4242, 16};

TEST_CASE("a deny line, golden") {
  const LogLine line = at(LogLine("deny")
                              .add("device", "lobby-cam")
                              .add("mac", "44:47:cc:00:00:11")
                              .add("dst", "203.0.113.10:443")
                              .add("rule", "otherwise"));
  // local0 (16) * 8 + warning (4) = 132.
  CHECK(formatSyslog(line, kOrigin, kSyslogUdpMaxBytes) ==
        "<132>1 2026-09-21T14:13:20.123456Z gw1 muzzled 4242 deny [muzzle@32473 event=\"deny\" "
        "device=\"lobby-cam\" mac=\"44:47:cc:00:00:11\" dst=\"203.0.113.10:443\" "
        "rule=\"otherwise\"] event=deny device=lobby-cam mac=44:47:cc:00:00:11 "
        "dst=203.0.113.10:443 rule=otherwise");
}

TEST_CASE("a line without fields, another facility, no hostname") {
  const LogLine line = at(LogLine("ready"));
  const SyslogOrigin origin{"", 7, 3};  // daemon
  // daemon (3) * 8 + info (6) = 30.
  CHECK(formatSyslog(line, origin, kSyslogUdpMaxBytes) ==
        "<30>1 2026-09-21T14:13:20.123456Z - muzzled 7 ready [muzzle@32473 event=\"ready\"] "
        "event=ready");
}

TEST_CASE("PRI: facility * 8 + the event's severity") {
  CHECK(syslogSeverity("fatal") == SyslogSeverity::kCritical);
  CHECK(syslogSeverity("start-failed") == SyslogSeverity::kCritical);
  // A queue thread that hangs: its queues' new flows are dropped until muzzled restarts.
  CHECK(syslogSeverity("queue-stalled") == SyslogSeverity::kCritical);
  CHECK(syslogSeverity("queue-resumed") == SyslogSeverity::kWarning);
  CHECK(syslogSeverity("rollback-failed") == SyslogSeverity::kError);
  CHECK(syslogSeverity("policy-error") == SyslogSeverity::kError);
  CHECK(syslogSeverity("state-damaged") == SyslogSeverity::kError);
  CHECK(syslogSeverity("deny") == SyslogSeverity::kWarning);
  CHECK(syslogSeverity("spoof") == SyslogSeverity::kWarning);
  CHECK(syslogSeverity("flood-guard") == SyslogSeverity::kWarning);  // a device past its rate
  // A segment past its rate: a device there forging source addresses.
  CHECK(syslogSeverity("segment-guard") == SyslogSeverity::kWarning);
  CHECK(syslogSeverity("device-flood") == SyslogSeverity::kWarning);      // new devices refused
  CHECK(syslogSeverity("connection-limit") == SyslogSeverity::kWarning);  // at its connections
  CHECK(syslogSeverity("flood-guard-error") == SyslogSeverity::kError);
  CHECK(syslogSeverity("events-dropped") == SyslogSeverity::kWarning);
  CHECK(syslogSeverity("syslog-down") == SyslogSeverity::kWarning);
  CHECK(syslogSeverity("management-refused") == SyslogSeverity::kWarning);
  CHECK(syslogSeverity("new-device") == SyslogSeverity::kNotice);
  CHECK(syslogSeverity("policy-applied") == SyslogSeverity::kNotice);
  CHECK(syslogSeverity("allow") == SyslogSeverity::kInfo);
  CHECK(syslogSeverity("ready") == SyslogSeverity::kInfo);

  auto pri = [](const char* event, uint8_t facility) {
    const std::string m = formatSyslog(at(LogLine(event)), SyslogOrigin{"h", 1, facility}, 2048);
    return m.substr(0, m.find('>') + 1);
  };
  CHECK(pri("fatal", 0) == "<2>");
  CHECK(pri("new-device", 23) == "<189>");  // local7: 23 * 8 + 5
  CHECK(pri("policy-error", 10) == "<83>");
}

TEST_CASE("timestamps: UTC, six fractional digits, also before 1970") {
  CHECK(syslogTimestamp(kWhen) == "2026-09-21T14:13:20.123456Z");
  CHECK(syslogTimestamp(std::chrono::system_clock::time_point{}) == "1970-01-01T00:00:00.000000Z");
  CHECK(syslogTimestamp(std::chrono::system_clock::time_point{} - std::chrono::microseconds(1)) ==
        "1969-12-31T23:59:59.999999Z");
}

TEST_CASE("SD-PARAM values: '\"', '\\' and ']' escaped; control bytes and bad UTF-8 as \\xNN") {
  std::string out;
  appendSdValue("a\"b\\c]d", out);
  CHECK(out == "a\\\"b\\\\c\\]d");
  out.clear();
  appendSdValue(std::string("cam\n\r\x01\x7f", 7), out);
  CHECK(out == "cam\\x0a\\x0d\\x01\\x7f");
  out.clear();
  appendSdValue("caf\xc3\xa9 \xe2\x82\xac", out);  // é €: valid UTF-8 stays
  CHECK(out == "caf\xc3\xa9 \xe2\x82\xac");
  out.clear();
  appendSdValue("\xff\xc0\xaf\xed\xa0\x80", out);  // invalid, overlong, a surrogate
  CHECK(out == "\\xff\\xc0\\xaf\\xed\\xa0\\x80");
  out.clear();
  appendSdValue("\xe2\x82", out);  // a character cut short
  CHECK(out == "\\xe2\\x82");
}

TEST_CASE("a hostile DHCP host name cannot end the element or the message") {
  const LogLine line = at(LogLine("new-device")
                              .add("mac", "02:00:00:00:00:01")
                              .add("dhcp_hostname", "x\"] [fake@1 a=\"b\"]\nevil"));
  const std::string m = formatSyslog(line, kOrigin, kSyslogUdpMaxBytes);
  CHECK(m.find("dhcp_hostname=\"x\\\"\\] [fake@1 a=\\\"b\\\"\\]\\x0aevil\"]") != std::string::npos);
  CHECK(m.find('\n') == std::string::npos);
  // Exactly one unescaped ']' closes exactly one element.
  size_t closes = 0;
  bool in_value = false;
  const std::string sd = m.substr(m.find(" [") + 1, m.find("] event=") - m.find(" [") + 1);
  for (size_t i = 0; i < sd.size(); ++i) {
    if (sd[i] == '\\') {
      ++i;
    } else if (sd[i] == '"') {
      in_value = !in_value;
    } else if (sd[i] == ']' && !in_value) {
      ++closes;
    }
  }
  CHECK(closes == 1);
}

TEST_CASE("header fields keep printable ASCII only; SD names lose '=', ' ', ']' and '\"'") {
  const LogLine line = at(LogLine("deny").add("we ird=]\"", "v"));
  const std::string m = formatSyslog(line, SyslogOrigin{"gw 1\xc3\xa9", 1, 16}, 2048);
  CHECK(m.find(" gw1 muzzled ") != std::string::npos);
  CHECK(m.find(" we_ird___=\"v\"") != std::string::npos);
}

TEST_CASE("a long message is cut: whole SD-PARAMs from the end (counted), then MSG") {
  LogLine line("deny");
  for (int i = 0; i < 40; ++i) line.add("k" + std::to_string(i), std::string(60, 'v'));
  const std::string m = formatSyslog(at(std::move(line)), kOrigin, kSyslogUdpMaxBytes);
  CHECK(m.size() <= kSyslogUdpMaxBytes);
  CHECK(m.find(" k0=\"") != std::string::npos);
  CHECK(m.find(" k39=\"") == std::string::npos);
  const size_t cut = m.find(" cut=\"");
  REQUIRE(cut != std::string::npos);
  CHECK(m.find("\"]", cut) != std::string::npos);  // the element still ends

  // MSG is cut at a character boundary: 'é' is never split.
  LogLine wide("deny");
  wide.add("name", "x");
  std::string text;
  for (int i = 0; i < 600; ++i) text += "\xc3\xa9";
  wide.add("other", text);
  const std::string w = formatSyslog(at(std::move(wide)), kOrigin, 1500);
  CHECK(w.size() <= 1500);
  const std::string tail = w.substr(w.size() - 2);
  CHECK((tail == "\xc3\xa9" || static_cast<uint8_t>(tail[1]) < 0x80));
}

// Reads the SD element of `m` the way RFC 5424 §6.3 defines it; false if it does not parse.
// `*values` gets the unescaped PARAM-VALUEs.
bool parseElement(const std::string& m, std::vector<std::string>* values) {
  size_t i = m.find(" [muzzle@32473");
  if (i == std::string::npos) return false;
  i += 14;
  while (i < m.size() && m[i] == ' ') {
    const size_t eq = m.find("=\"", i);
    if (eq == std::string::npos) return false;
    for (size_t k = i + 1; k < eq; ++k) {
      const char c = m[k];
      if (c <= 32 || c >= 127 || c == '=' || c == ']' || c == '"') return false;
    }
    std::string value;
    size_t k = eq + 2;
    for (;; ++k) {
      if (k >= m.size()) return false;
      const char c = m[k];
      if (c == '\\' && k + 1 < m.size() &&
          (m[k + 1] == '"' || m[k + 1] == '\\' || m[k + 1] == ']')) {
        value += m[++k];
      } else if (c == '"') {
        break;
      } else if (c == ']') {
        return false;  // RFC 5424 §6.3.3: ']' in a value must be escaped
      } else {
        value += c;
      }
    }
    values->push_back(value);
    i = k + 1;
  }
  return i < m.size() && m[i] == ']' && (i + 1 == m.size() || m[i + 1] == ' ');
}

// RFC 3629 UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF), checked by decoding,
// and no control characters.
bool validUtf8WithoutControls(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x20 || c == 0x7f) return false;
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) {
      const auto b = static_cast<uint8_t>(s[i + k]);
      if ((b & 0xc0) != 0x80) return false;
      cp = cp << 6 | (b & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n;
  }
  return true;
}

TEST_CASE("any bytes in values: the message stays one parseable element of clean UTF-8") {
  std::mt19937 random(20261203);  // fixed: the same cases every run
  const std::string alphabet = "ab ]\"\\=\n\r\x01\x7f\xc3\xa9\xe2\x82\xac\xff\xed\xa0";
  for (int round = 0; round < 2000; ++round) {
    LogLine line("deny");
    std::vector<std::string> written;
    const int fields = static_cast<int>(random() % 6);
    for (int f = 0; f < fields; ++f) {
      std::string value;
      const size_t length = random() % 120;
      for (size_t k = 0; k < length; ++k) {
        value +=
            random() % 2 ? alphabet[random() % alphabet.size()] : static_cast<char>(random() % 256);
      }
      line.add("k" + std::to_string(f), value);
      written.push_back(value);
    }
    const size_t max = round % 2 ? 600 : kSyslogUdpMaxBytes;
    const std::string m = formatSyslog(at(std::move(line)), kOrigin, max);
    CAPTURE(m);
    REQUIRE(m.size() <= max);
    REQUIRE(validUtf8WithoutControls(m));
    std::vector<std::string> values;
    REQUIRE(parseElement(m, &values));
    REQUIRE(!values.empty());
    CHECK(values[0] == "deny");
    // What was kept reads back as written, for values that were clean to begin with.
    for (size_t v = 1; v < values.size() && v - 1 < written.size(); ++v) {
      if (validUtf8WithoutControls(written[v - 1])) CHECK(values[v] == written[v - 1]);
    }
  }
}

TEST_CASE("octet counting: the length in bytes, a space, the message") {
  std::string out;
  appendOctetCounted("<30>1 - - - - - -", out);
  appendOctetCounted("caf\xc3\xa9", out);
  CHECK(out == "17 <30>1 - - - - - -5 caf\xc3\xa9");
}

}  // namespace
}  // namespace muzzle
