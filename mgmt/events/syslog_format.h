// An event line as an RFC 5424 syslog message, and its framing on a stream (RFC 6587 §3.4.1,
// RFC 5425 §4.3: octet counting). Plain functions, no I/O.
//
//   <PRI>1 TIMESTAMP HOSTNAME muzzled PROCID EVENT [muzzle@32473 key="value" ...] MSG
//
// - PRI = facility * 8 + severity; the severity comes from the event (syslogSeverity()).
// - TIMESTAMP: when the event happened (LogLine::time()), UTC, microseconds:
//   2026-12-03T01:36:38.123456Z.
// - MSGID is the event name; the structured data element `muzzle@32473` holds the line's
//   key/value pairs in their order. 32473 is the enterprise number IANA reserves for examples
//   (RFC 5612): Muzzle has no number of its own, and a SIEM keys its parser on the whole SD-ID.
// - MSG is the log line's own logfmt text, for readers that show only MSG.
//
// Values are untrusted (a device's DHCP host name, a DNS name, a MUD URL): in SD-PARAM values
// '"', '\' and ']' are escaped with '\' (RFC 5424 §6.3.3), and bytes that are not valid UTF-8 or
// are control characters become the four characters "\xNN" (a backslash before any other
// character is kept as it is, so a reader sees the text); header fields keep only printable
// ASCII. A message longer than `max_bytes` loses whole SD-PARAMs from the end (counted in a
// last `cut="N"` param, so the element still parses) and then MSG's tail, at a character
// boundary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fw/engine/event_log.h"

namespace muzzle {

// RFC 5424 §6.2.1 severities.
enum class SyslogSeverity : uint8_t {
  kCritical = 2,
  kError = 3,
  kWarning = 4,
  kNotice = 5,
  kInfo = 6,
};

// The severity of an event by its name: fatal and start-failed are critical; errors, failures
// and broken or damaged state are errors; denials, spoofs, refusals, warnings and lost lines are
// warnings; new devices and policy changes are notices; the rest is informational.
SyslogSeverity syslogSeverity(std::string_view event);

struct SyslogOrigin {
  std::string hostname;  // the box's name; "-" when empty
  uint32_t procid = 0;   // muzzled's pid
  uint8_t facility = 16;
};

inline constexpr char kSyslogSdId[] = "muzzle@32473";
// Messages a UDP collector must accept (RFC 5426 §3.2 allows 480; 2048 is the common floor).
inline constexpr size_t kSyslogUdpMaxBytes = 2048;
// Messages a TLS collector must accept (RFC 5425 §4.3.1 asks for 2048, and 8192 should work).
inline constexpr size_t kSyslogStreamMaxBytes = 8192;

// The message, at most `max_bytes` long (at least 480: the header and the SD-ID must fit).
std::string formatSyslog(const LogLine& line, const SyslogOrigin& origin, size_t max_bytes);

// "2026-12-03T01:36:38.123456Z".
std::string syslogTimestamp(std::chrono::system_clock::time_point t);

// Appends `value` as an SD-PARAM value would hold it (without the quotes).
void appendSdValue(std::string_view value, std::string& out);

// Appends "LEN SP MSG" (octet counting) to `out`.
void appendOctetCounted(std::string_view message, std::string& out);

}  // namespace muzzle
