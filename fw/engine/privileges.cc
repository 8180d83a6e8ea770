#include "fw/engine/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

namespace muzzle {
namespace {

namespace fs = std::filesystem;

// The one capability muzzled keeps: nftables and the netfilter queues need nothing else.
constexpr cap_value_t kKeptCapability = CAP_NET_ADMIN;
// Paths named per need in an error; the rest are counted.
constexpr size_t kPathsNamed = 4;

Status failed(const std::string& what) {
  return Status::error("dropping root: " + what + ": " + std::strerror(errno));
}

struct CapFree {
  void operator()(void* p) const { cap_free(p); }
};
using CapPtr = std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree>;

// The threads of this process, from /proc/self/task; 0 when it cannot be read.
size_t threadCount() {
  std::error_code ec;
  size_t n = 0;
  for (fs::directory_iterator it("/proc/self/task", ec), end; !ec && it != end; it.increment(ec))
    ++n;
  return ec ? 0 : n;
}

// Permitted and effective = {CAP_NET_ADMIN}, inheritable empty.
CapPtr keptCapabilities() {
  CapPtr caps(cap_init());
  if (caps) {
    const cap_value_t kept[] = {kKeptCapability};
    cap_set_flag(caps.get(), CAP_PERMITTED, 1, kept, CAP_SET);
    cap_set_flag(caps.get(), CAP_EFFECTIVE, 1, kept, CAP_SET);
  }
  return caps;
}

// What the process holds now, checked against what dropPrivileges promises.
Status verifyDropped(const UserEntry& user) {
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0) {
    return failed("reading back the user ids");
  }
  if (ruid != user.uid || euid != user.uid || suid != user.uid || rgid != user.gid ||
      egid != user.gid || sgid != user.gid) {
    return Status::error("dropping root: the user ids did not all change to " + user.name);
  }
  CapPtr now(cap_get_proc());
  CapPtr want = keptCapabilities();
  if (!now || !want || cap_compare(now.get(), want.get()) != 0) {
    return Status::error("dropping root: the capability sets are not CAP_NET_ADMIN alone");
  }
  for (cap_value_t c = 0; c < cap_max_bits(); ++c) {
    if (c != kKeptCapability && cap_get_bound(c) == 1) {
      return Status::error("dropping root: capability " + std::to_string(c) +
                           " is still in the bounding set");
    }
    if (cap_get_ambient(c) == 1) {
      return Status::error("dropping root: capability " + std::to_string(c) + " is ambient");
    }
  }
  if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
    return Status::error("dropping root: no_new_privs is not set");
  }
  return Status();
}

// "muzzle (uid 999, gid 999)" for the user this process runs as.
std::string currentUser() {
  const uid_t uid = geteuid();
  std::string name = std::to_string(uid);
  struct passwd pw;
  struct passwd* found = nullptr;
  char buf[4096];
  if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found != nullptr) name = pw.pw_name;
  return name + " (uid " + std::to_string(uid) + ", gid " + std::to_string(getegid()) + ")";
}

// Only what a chown or chmod fixes. A read-only file system (EROFS) is not refused here: a box
// whose state folder is read-only or full still enforces its configured policy, and the state
// layer reports the folder (event=state-unwritable) and refuses changes.
bool denied(int err) { return err == EACCES || err == EPERM; }

// Appends "PATH (reason)" for `path` when `mode` is denied to this user.
void checkOne(const std::string& path, int mode, std::vector<std::string>& problems) {
  if (::access(path.c_str(), mode) != 0 && denied(errno)) {
    problems.push_back(path + " (" + std::strerror(errno) + ")");
  }
}

}  // namespace

Result<RunAsPlan> planRunAs(uid_t euid, std::string_view requested,
                            const std::optional<UserEntry>& target) {
  const bool given = !requested.empty();
  const std::string name = given ? std::string(requested) : std::string(kDefaultRunAsUser);
  RunAsPlan plan;
  if (euid != 0) {
    // systemd's User= (or a developer's own account) already chose who muzzled is.
    if (given && (!target || target->uid != euid)) {
      return Status::error(StatusCode::kFailedPrecondition,
                           "--user " + name + ": muzzled runs as uid " + std::to_string(euid) +
                               ", not root, so it cannot become another user; start it as "
                               "root, or leave --user out");
    }
    return plan;
  }
  if (!target) {
    return Status::error(
        StatusCode::kFailedPrecondition,
        "user \"" + name + "\" does not exist. Started as root, muzzled becomes that user and " +
            "keeps CAP_NET_ADMIN alone: create it (as the package does: systemd-sysusers " +
            "/usr/lib/sysusers.d/muzzle.conf, or useradd --system --user-group --home-dir " +
            "/var/lib/muzzle --shell /usr/sbin/nologin " + name +
            "), or pass --user root to stay root on purpose");
  }
  if (target->uid == 0) {
    if (!given) {
      return Status::error(StatusCode::kFailedPrecondition,
                           "user \"" + name + "\" has uid 0, so becoming it would keep every " +
                               "privilege; give it its own uid, or pass --user root to stay " +
                               "root on purpose");
    }
    plan.action = RunAsPlan::Action::kStayRoot;
    plan.user = *target;
    return plan;
  }
  plan.action = RunAsPlan::Action::kDrop;
  plan.user = *target;
  return plan;
}

std::optional<UserEntry> lookupUser(const std::string& name) {
  struct passwd pw;
  struct passwd* found = nullptr;
  char buf[4096];
  if (getpwnam_r(name.c_str(), &pw, buf, sizeof(buf), &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  return UserEntry{pw.pw_name, pw.pw_uid, pw.pw_gid};
}

Status dropPrivileges(const UserEntry& user) {
  if (const size_t threads = threadCount(); threads != 1) {
    // A programming error, not a configuration one: something started a thread too early.
    return Status::error("dropping root: the process has " + std::to_string(threads) +
                         " threads (or /proc/self/task is unreadable); it must have one, or "
                         "the others would keep root's capabilities");
  }
  // While root still holds CAP_SETPCAP: nothing this process starts can regain the rest.
  for (cap_value_t c = 0; c < cap_max_bits(); ++c) {
    if (c != kKeptCapability && cap_get_bound(c) == 1 && cap_drop_bound(c) != 0) {
      return failed("dropping capability " + std::to_string(c) + " from the bounding set");
    }
  }
  // The user's supplementary groups, as systemd's User= sets them (initgroups).
  std::vector<gid_t> groups(64);
  int n = static_cast<int>(groups.size());
  if (getgrouplist(user.name.c_str(), user.gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<size_t>(n));
    if (getgrouplist(user.name.c_str(), user.gid, groups.data(), &n) < 0) {
      return Status::error("dropping root: cannot list the groups of " + user.name);
    }
  }
  groups.resize(static_cast<size_t>(n));
  // libcap's cap_setgroups/cap_setuid keep the permitted set across the change of user
  // (PR_SET_KEEPCAPS); the set is cut down to CAP_NET_ADMIN right after.
  if (cap_setgroups(user.gid, groups.size(), groups.data()) != 0) {
    return failed("setting group " + std::to_string(user.gid) + " and the groups of " + user.name);
  }
  if (cap_setuid(user.uid) != 0) return failed("becoming uid " + std::to_string(user.uid));
  CapPtr kept = keptCapabilities();
  if (!kept || cap_set_proc(kept.get()) != 0) return failed("keeping CAP_NET_ADMIN alone");
  if (cap_reset_ambient() != 0) return failed("clearing the ambient capabilities");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return failed("setting no_new_privs");
  return verifyDropped(user);
}

Status prepareDirectory(const std::string& path, const UserEntry& user) {
  std::error_code ec;
  if (path.empty() || fs::exists(path, ec)) return Status();
  const fs::path dir = fs::path(path).lexically_normal();
  if (dir.has_parent_path()) fs::create_directories(dir.parent_path(), ec);
  if (ec) return Status::error("cannot create " + dir.parent_path().string() + ": " + ec.message());
  if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return Status::error("cannot create " + path + ": " + std::strerror(errno));
  }
  // lchown: if someone raced a symlink in, its target is not given away.
  if (::lchown(dir.c_str(), user.uid, user.gid) != 0 || ::chmod(dir.c_str(), 0750) != 0) {
    return Status::error("cannot give " + path + " to " + user.name + ": " + std::strerror(errno));
  }
  return Status();
}

Status checkAccess(const std::vector<PathNeed>& needs) {
  std::string report;
  bool own_tree = false, read_file = false;
  for (const PathNeed& need : needs) {
    std::vector<std::string> problems;
    if (need.path.empty()) continue;
    switch (need.kind) {
      case PathNeed::Kind::kReadFile:
        checkOne(need.path, R_OK, problems);
        read_file = read_file || !problems.empty();
        break;
      case PathNeed::Kind::kCreateIn:
        checkOne(need.path, W_OK | X_OK, problems);
        own_tree = own_tree || !problems.empty();
        break;
      case PathNeed::Kind::kOwnTree: {
        checkOne(need.path, W_OK | X_OK, problems);
        std::error_code ec;
        size_t seen = 0;
        fs::recursive_directory_iterator it(need.path, ec), end;
        for (; !ec && it != end && seen < kMaxEntriesChecked; it.increment(ec), ++seen) {
          const auto type = it->symlink_status(ec).type();
          if (type == fs::file_type::directory) {
            checkOne(it->path().string(), R_OK | W_OK | X_OK, problems);
          } else if (type == fs::file_type::regular) {
            // Read: muzzled replaces its files by rename, which needs the folder alone.
            checkOne(it->path().string(), R_OK, problems);
          }
        }
        // A folder it may not even list is reported by its own access check above.
        own_tree = own_tree || !problems.empty();
        break;
      }
    }
    if (problems.empty()) continue;
    report += report.empty() ? "" : "; ";
    report += need.what + " ";
    for (size_t i = 0; i < problems.size() && i < kPathsNamed; ++i) {
      report += (i == 0 ? "" : ", ") + problems[i];
    }
    if (problems.size() > kPathsNamed) {
      report += " and " + std::to_string(problems.size() - kPathsNamed) + " more";
    }
  }
  if (report.empty()) return Status();
  const std::string user = currentUser();
  const std::string name = user.substr(0, user.find(' '));
  std::string fix;
  if (own_tree) fix += "chown -R " + name + ":" + name + " the folder (state_dir, socket); ";
  if (read_file) fix += "chgrp " + name + " and chmod g+r the files named (g+x their folders); ";
  return Status::error(StatusCode::kFailedPrecondition,
                       "muzzled runs as user " + user + " and may not use: " + report + ". Fix: " +
                           fix + "or, started as root, pass --user root to stay root on purpose");
}

}  // namespace muzzle
