#include "mgmt/server/instance_lock.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace muzzle {
namespace {

// The abstract address for `name`: sun_path starts with a NUL, and the length (not a
// terminator) says where the name ends.
socklen_t abstractAddress(std::string_view name, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  std::memcpy(addr->sun_path + 1, name.data(), name.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
}

// Who listens on `name`: "pid N, uid U", or why that is unknown.
std::string holderOf(std::string_view name) {
  sockaddr_un addr{};
  const socklen_t len = abstractAddress(name, &addr);
  // Non-blocking: the holder never accepts, and a full backlog must not hang the start.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return "pid unknown";
  std::string who = "pid unknown";
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0) {
    ucred cred{};
    socklen_t cred_len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0) {
      who = "pid " + std::to_string(cred.pid) + ", uid " + std::to_string(cred.uid);
    }
  }
  ::close(fd);
  return who;
}

}  // namespace

Result<InstanceLock> InstanceLock::acquire(std::string_view name) {
  sockaddr_un addr{};
  if (name.empty() || name.size() + 1 > sizeof(addr.sun_path)) {
    return Status::error(StatusCode::kInvalidArgument, "instance lock name of bad length");
  }
  const socklen_t len = abstractAddress(name, &addr);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::error(std::string("instance lock: socket: ") + std::strerror(errno));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EADDRINUSE) {
      return Status::error(
          StatusCode::kFailedPrecondition,
          "another muzzled (" + holderOf(name) +
              ") runs in this network namespace: "
              "it owns table inet muzzle, the queues and the management socket; stop it "
              "first (systemctl stop muzzled), or run this one in another namespace");
    }
    return Status::error("instance lock @" + std::string(name) + ": bind: " + std::strerror(err));
  }
  // A small backlog: a second muzzled connects only to read our credentials.
  if (::listen(fd, 4) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::error("instance lock @" + std::string(name) + ": listen: " + std::strerror(err));
  }
  return InstanceLock(fd);
}

InstanceLock& InstanceLock::operator=(InstanceLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

InstanceLock::~InstanceLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace muzzle
