// Who muzzled runs as. The shipped systemd unit starts it as the unprivileged user `muzzle`
// holding CAP_NET_ADMIN alone. Started as root any other way (by hand, from a script, in the
// test lab), muzzled makes itself that same process: it becomes the user (`--user`, default
// `muzzle`) and keeps CAP_NET_ADMIN and nothing else. Staying root is never silent: it must be
// asked for with `--user root`, and is logged as a warning.
//
// planRunAs() is the decision and makes no system call (tested without root);
// dropPrivileges() carries a kDrop plan out, and checkAccess() then tells, with what to do,
// which of the files muzzled needs the user cannot read or write.
//
// What a drop leaves: real, effective and saved uid and gid = the user's, supplementary groups
// = the user's groups (as systemd's User= gives them), permitted = effective = {CAP_NET_ADMIN},
// inheritable and ambient empty, every other capability gone from the bounding set,
// no_new_privs set. The kernel then marks the process non-dumpable, so other processes of the
// same user cannot ptrace it or read its memory.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/common/status.h"

namespace muzzle {

inline constexpr char kDefaultRunAsUser[] = "muzzle";

struct UserEntry {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct RunAsPlan {
  enum class Action {
    kKeep,      // not root: stay who we are (e.g. systemd's User= already did it)
    kStayRoot,  // root, and `--user root` (or a user with uid 0) asked for it
    kDrop,      // root: become `user`, keep CAP_NET_ADMIN only
  };
  Action action = Action::kKeep;
  UserEntry user;  // kDrop: whom to become
};

// `euid`: the effective uid muzzled started with. `requested`: the `--user` value, empty when
// not given (then kDefaultRunAsUser). `target`: that user's passwd entry, nullopt when there is
// no such user. Errors (kFailedPrecondition) say what to do: create the user, or pass
// `--user root` to stay root on purpose.
Result<RunAsPlan> planRunAs(uid_t euid, std::string_view requested,
                            const std::optional<UserEntry>& target);

// The passwd entry of `name` (getpwnam_r); nullopt when there is none.
std::optional<UserEntry> lookupUser(const std::string& name);

// Carries a kDrop plan out, then reads the result back and fails unless it is exactly what the
// header comment says. Must run while the process has one thread: capabilities are kept per
// thread, so a thread started earlier would keep root's. Needs root (CAP_SETUID, CAP_SETGID,
// CAP_SETPCAP). On failure the process may be half-way: the caller must exit.
Status dropPrivileges(const UserEntry& user);

// Makes `path` a folder that `user` owns (mode 0750) if it does not exist yet, as systemd's
// StateDirectory=/RuntimeDirectory= would; its missing parents are created as root's (0755).
// An existing folder is left as it is: checkAccess() says whether the user can use it. As root,
// before dropPrivileges().
Status prepareDirectory(const std::string& path, const UserEntry& user);

struct PathNeed {
  enum class Kind {
    kReadFile,  // read a file (policy, certificates)
    kCreateIn,  // create and replace files in a folder (the socket's folder)
    kOwnTree,   // the folder and its subfolders: list and create in them; every file in them:
                // read (state_dir; muzzled replaces files by rename)
  };
  std::string path;
  Kind kind = Kind::kReadFile;
  std::string what;  // the config key that names it, for the message: "management.tcp.key"
};

// Checks `needs` as the current (real = effective) user, and reports every path denied to it
// (EACCES/EPERM) in one error naming the user and the command that fixes it. A missing path is
// not reported here: what opens it says so in its own words. At most kMaxEntriesChecked files
// are looked at below each kOwnTree folder.
inline constexpr size_t kMaxEntriesChecked = 4096;
Status checkAccess(const std::vector<PathNeed>& needs);

}  // namespace muzzle
