// InstanceLock: one muzzled per network namespace. Table `inet muzzle`, the netfilter queues and
// the management socket belong to one process; a second muzzled that went ahead would replace
// the first one's ruleset, fight over its queues and take over its socket. muzzled takes this
// lock before it touches any of them and refuses to start without it.
//
// The lock is an abstract unix socket name (`@muzzled`): abstract names live in the network
// namespace, not the file system, and vanish with the process, so a crash or kill -9 leaves no
// stale lock and no clean-up is needed. The holder also listens on it (and never accepts) so a
// second muzzled can learn who holds it (SO_PEERCRED) and say so.
//
// Known limit: any local process in the namespace may bind an abstract name; one that takes
// `@muzzled` first keeps muzzled from starting, and the error names its pid and uid.
#pragma once

#include <string>
#include <string_view>

#include "fw/common/status.h"

namespace muzzle {

inline constexpr char kInstanceLockName[] = "muzzled";

class InstanceLock {
 public:
  // Takes the lock named `name` (an abstract socket name, without the leading NUL). Fails with
  // kFailedPrecondition, naming the holder's pid and uid, when another process holds it.
  static Result<InstanceLock> acquire(std::string_view name = kInstanceLockName);

  InstanceLock(InstanceLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  InstanceLock& operator=(InstanceLock&& other) noexcept;
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;
  ~InstanceLock();

 private:
  explicit InstanceLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace muzzle
