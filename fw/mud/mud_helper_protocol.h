// What muzzled and the helper program `muzzle-mud-fetch` say to each other (mud_helper_fetcher.h
// says why the fetch runs there). One request, then one answer, on a byte stream: the helper's
// stdin and stdout when muzzled starts it, or one connection of the socket systemd hands it
// (image/systemd/muzzle-mud-fetch.socket). Each side reads the other's message to its end
// (EOF), bounded, and trusts nothing in it.
//
//   request:  "muzzle-mud-fetch 1\n" "url URL\n" "max-bytes N\n" "timeout-ms N\n"
//             "ca-pem N\n" then N bytes of PEM (0: the system's CAs)
//   answer:   "ok N\n" then the N bytes of the body
//           | "refused REASON MESSAGE\n"   (REASON as mudRefusalName says it)
//
// The request carries the CA certificates themselves, not a path: the helper opens no file of
// the box (under systemd it runs as a user of its own that could not read /etc/muzzle).
// Pure; any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "fw/common/status.h"
#include "fw/mud/mud_fetch.h"

namespace muzzle {

inline constexpr size_t kMaxHelperCaBytes = 1u << 20;
inline constexpr size_t kMaxHelperRequestBytes = kMaxHelperCaBytes + 8192;
inline constexpr size_t kMaxHelperMessageBytes = 600;
// The longest answer for a body of `max_bytes`.
inline size_t maxHelperAnswerBytes(size_t max_bytes) { return max_bytes + 64; }

struct MudHelperRequest {
  std::string url;
  size_t max_bytes = kMaxMudBytes;
  std::chrono::milliseconds total_time{10'000};
  std::string ca_pem;  // empty: the system's CAs
};

std::string encodeHelperRequest(const MudHelperRequest& request);
// kInvalidArgument naming what is wrong: another version, a missing or repeated field, a number
// out of range (max-bytes 1..16 MiB, timeout-ms 1..600,000), a CA over kMaxHelperCaBytes, bytes
// after the CA.
Result<MudHelperRequest> decodeHelperRequest(std::string_view text);

std::string encodeHelperAnswer(const std::variant<std::string, MudFailure>& outcome);
// The body, the refusal the helper reported, or kNetwork for an answer that is neither (cut
// short, longer than `max_bytes`: kTooLarge, an unknown reason, ...). A refusal's message is
// shown as sent only when it is one printable line of at most kMaxHelperMessageBytes, else
// escaped (excerpt). Messages of failures found here start with `who` ("the MUD fetch helper
// /usr/lib/muzzle/muzzle-mud-fetch").
std::variant<std::string, MudFailure> decodeHelperAnswer(std::string_view text, size_t max_bytes,
                                                         std::string_view url,
                                                         std::string_view who);

}  // namespace muzzle
