// CurlMudFetcher: the HTTPS transfer of a MUD file with libcurl (Debian's OpenSSL flavour), under
// the rules of mud_fetch.h: https:// only (redirects too, at most 3), `max_bytes`, `total_time`,
// the server verified against `ca_pem`, `ca_file` or the system's CAs, and only public addresses
// connected to (checked in libcurl's open-socket callback, so after resolving and for every
// redirect).
//
// It runs in the program `muzzle-mud-fetch` (mgmt/mud_fetch_main.cc), which muzzled starts for
// each fetch (HelperMudFetcher): muzzled itself never links libcurl. Its own library,
// `muzzle_mud_curl`. Threads: one CurlMudFetcher per thread (libcurl handles are not shared);
// get() blocks for up to `total_time`.
#pragma once

#include <string>
#include <variant>

#include "fw/mud/mud_fetch.h"

namespace muzzle {

class CurlMudFetcher : public MudFetcher {
 public:
  explicit CurlMudFetcher(MudFetchLimits limits);
  std::variant<std::string, MudFailure> get(const std::string& url) override;

 private:
  MudFetchLimits limits_;
};

}  // namespace muzzle
