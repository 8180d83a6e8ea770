// Getting a MUD file and its signature from the web, bounded: the seam and the checks every
// fetcher makes. The URL comes from a device's DHCP request (option 161), so it is untrusted:
// only https:// is fetched, and a redirect may only lead to https:// again (at most 3); the body
// is cut off and refused past `max_bytes` (the MUD parser's own bound, 256 KiB, by default) and
// the whole transfer, connection and redirects included, past `total_time`. The server's
// certificate and name are verified against `ca_file` when it is set, else the system's CAs;
// never disabled.
//
// Only public addresses are connected to (isPublicAddress): a device names the server, and a
// name it controls may resolve to the box itself, the segments it manages or the admin's own
// network. The check is made on every address about to be connected to, after resolving and for
// every redirect, so no name or redirect gets around it (kPrivateAddress).
//
// `MudFetcher` is the seam. Two fetchers implement it:
// - `CurlMudFetcher` (mud_curl_fetcher.h) does the HTTPS transfer with libcurl, in the process
//   that calls it: the program `muzzle-mud-fetch` (mgmt/mud_fetch_main.cc), tests and tools.
// - `HelperMudFetcher` (mud_helper_fetcher.h) runs `muzzle-mud-fetch` for each fetch; muzzled
//   uses it, so neither libcurl nor the TLS and HTTP parsing of a server a device chose ever
//   runs inside the firewall (see there for why).
// retrieveMud and the worker are tested with a fake.
// Threads: get() blocks for up to `total_time` (and a little more for HelperMudFetcher) and must
// run off the engine and packet threads (on the MUD fetch worker).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "fw/mud/mud_json.h"
#include "fw/mud/mud_refusal.h"

namespace muzzle {

struct MudFetchLimits {
  size_t max_bytes = kMaxMudBytes;
  std::chrono::milliseconds total_time{10'000};
  std::string ca_file;  // PEM CA bundle for the servers' certificates; empty: the system's
  std::string ca_pem;   // or its text (the helper gets it so); used before ca_file
};

class MudFetcher {
 public:
  virtual ~MudFetcher() = default;
  // The body of a 200 answer, or why not (kNotHttps, kTls, kNetwork, kTimeout, kHttpError,
  // kTooLarge), the message naming the URL.
  virtual std::variant<std::string, MudFailure> get(const std::string& url) = 0;
};

// The failures every fetcher reports alike: a URL that is not https:// (kNotHttps), and a body
// over `max_bytes` (kTooLarge). The messages name the URL, escaped and cut short.
MudFailure notHttpsFailure(std::string_view url);
MudFailure tooLargeFailure(std::string_view url, size_t max_bytes);

// True when `url` starts with "https://" (any case) and has a host; the check get() makes first.
bool isHttpsUrl(std::string_view url);

// False for what a device must not make the box connect to: unspecified, loopback, private
// (RFC 1918, IPv6 unique local), shared (100.64.0.0/10), link-local, multicast, reserved and
// broadcast, 192.0.0.0/24, the benchmarking range 198.18.0.0/15 (Muzzle's lab segments), and the
// IPv4 forms inside IPv6 (mapped, NAT64 64:ff9b::/96) by their IPv4 address. `address` is an
// IPv4 address (4 bytes, network order) or an IPv6 one (16 bytes).
bool isPublicAddress(const uint8_t* address, size_t length);

}  // namespace muzzle
