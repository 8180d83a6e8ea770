// HelperMudFetcher: each MUD fetch in a process of its own, the program `muzzle-mud-fetch`
// (mgmt/mud_fetch_main.cc, which runs CurlMudFetcher), spoken to as mud_helper_protocol.h says.
//
// Why a process: the server is one a device named, so its TLS handshake, HTTP answers and
// redirects are hostile input, parsed by libcurl and OpenSSL. In the helper a flaw there reaches
// a short-lived process with no capability (it drops them all, ambient ones included, and sets
// no_new_privs before it reads anything), no netfilter or management socket and no view of
// muzzled's memory. And muzzled does not link libcurl: its ~25 libraries (GnuTLS, Kerberos,
// LDAP, SSH, ...) cost 5.6 MB of resident memory in every muzzled, fetching or not.
//
// Two ways to reach the helper (MudHelper):
// - kSpawn: muzzled starts the program, its stdin and stdout one end of a socket pair, stderr a
//   pipe, nothing else open, an empty environment, every signal at its default.
// - kSocket: muzzled connects to a unix socket where systemd starts one helper per connection
//   (image/systemd/muzzle-mud-fetch.socket) in a sandbox of its own: its own user, IP sockets
//   allowed, while muzzled's own unit keeps IP sockets forbidden.
// Either way muzzled sends the request, reads the answer to its end, and trusts nothing in it:
// at most maxHelperAnswerBytes(max_bytes) (more is kTooLarge, and a spawned helper is killed),
// at most kMaxHelperErrorBytes of a spawned helper's stderr (for the message when it breaks the
// protocol), and no longer than `total_time` + `start_allowance` (kTimeout). The CA file
// (`limits.ca_file`) is read here, by muzzled, and sent in the request.
//
// Threads: as every MudFetcher; get() blocks (a poll on the helper's socket) for up to
// total_time + start_allowance. Any number of fetchers may run at once.
#pragma once

#include <chrono>
#include <string>
#include <variant>

#include "fw/common/status.h"
#include "fw/mud/mud_fetch.h"

namespace muzzle {

inline constexpr std::chrono::milliseconds kHelperStartAllowance{3'000};
inline constexpr size_t kMaxHelperErrorBytes = 2048;

struct MudHelper {
  enum class Via { kSpawn, kSocket };
  Via via = Via::kSpawn;
  std::string path;  // the program (kSpawn: mudFetchHelperPath()), or the socket
};

class HelperMudFetcher : public MudFetcher {
 public:
  // `start_allowance`: how much longer than `limits.total_time` the helper may take (its start,
  // TLS setup; tests make it short).
  HelperMudFetcher(MudHelper helper, MudFetchLimits limits,
                   std::chrono::milliseconds start_allowance = kHelperStartAllowance);
  std::variant<std::string, MudFailure> get(const std::string& url) override;

 private:
  MudHelper helper_;
  MudFetchLimits limits_;
  std::chrono::milliseconds start_allowance_;
};

// Where muzzled finds `muzzle-mud-fetch`: beside its own program when it is there (a build tree,
// where muzzled is build/mgmt/muzzled), else in the package's folder (/usr/lib/muzzle). Only
// folders that muzzled's own installer writes to; never a path from the environment.
std::string mudFetchHelperPath();

// The helper's first step, before it reads anything: every capability gone (effective,
// permitted, inheritable, ambient) and no_new_privs set, so nothing it runs can gain one back.
// Under systemd muzzled's ambient CAP_NET_ADMIN would otherwise pass to a spawned helper.
Status shedHelperPrivileges();

}  // namespace muzzle
