// What the console reads from a request itself (Boost.Beast splits the request into its line,
// headers and body; https_server.cc): form bodies and query strings
// (application/x-www-form-urlencoded), numbers, the Last-Event-ID of a server-sent-events stream,
// the device a path names, and the names a form hands to the API.
//
// Everything here reads text a browser on the LAN sent, so any bytes at all. Each reader is
// bounded by its input, which the server bounds (ServerOptions: request line and headers 8 KiB,
// a body 64 KiB). A value goes on to the management API or a log line only through a checked
// reader below: the API's proto `string` fields must be UTF-8 (a request with a field that is
// not fails to parse; a log line with one becomes an event that no watcher can read), and a
// path's device becomes part of a Location header. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace muzzle::web {

// An application/x-www-form-urlencoded body as name -> value (the last one wins); bounded by
// the server's body limit. Percent-escapes and '+' decoded; the names and values are raw bytes
// (any byte, NUL included), for the readers below to check. Pairs without '=' are skipped.
std::map<std::string, std::string> parseForm(std::string_view body);
// '+' as a space, "%XX" as the byte; a '%' not followed by two hex digits stays as it is. Never
// longer than `text`.
std::string percentDecode(std::string_view text);

// A decimal number as the console's forms and queries carry it (a revision, seconds): 1 to 20
// digits and nothing else (no sign, no space, no fraction), within uint64_t. nullopt otherwise.
std::optional<uint64_t> parseDecimal(std::string_view text);

// Last-Event-ID as the console writes it in a stream's "id:" lines, "EPOCH:SEQUENCE", both
// parseDecimal numbers. nullopt for anything else (the stream then starts from the ring's
// oldest event, as a browser that never had one).
struct EventPosition {
  uint64_t epoch = 0;
  uint64_t sequence = 0;
};
std::optional<EventPosition> parseEventId(std::string_view text);

// The device a console path names: "/devices/MAC" or "/devices/MAC/ACTION". The MAC is
// percent-decoded and read as MacAddress::parse reads it (':' or '-', either case), and given
// back in canonical form ("44:47:cc:00:00:21"); the action is the rest of the path after the
// slash, as sent (the console compares it with its own words only). nullopt when the path does
// not start with "/devices/" or names no Ethernet address.
struct DeviceTarget {
  std::string mac;
  std::string action;
};
std::optional<DeviceTarget> parseDeviceTarget(std::string_view path);

// A name a form or query hands to the API for it to look up (a profile): at most kMaxFormName
// bytes of UTF-8 without a control character (C0, DEL, C1). The API decides whether such a name
// exists; this only keeps what it cannot carry, or should not echo, away from it. Empty is a
// name here (the API says what it means). nullopt otherwise.
inline constexpr size_t kMaxFormName = 256;
std::optional<std::string> formName(std::string_view value);

}  // namespace muzzle::web
