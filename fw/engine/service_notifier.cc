#include "fw/engine/service_notifier.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace muzzle {
namespace {

// Parses a whole decimal string; false on anything else (empty, sign, trailing bytes, overflow).
template <typename T>
bool parseDecimal(const char* text, T* out) {
  if (text == nullptr || *text == '\0') return false;
  const char* end = text + std::strlen(text);
  auto [ptr, ec] = std::from_chars(text, end, *out);
  return ec == std::errc() && ptr == end;
}

}  // namespace

std::string formatNotifyState(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [key, value] : fields) {
    if (!out.empty()) out += '\n';
    out += key;
    out += '=';
    for (char c : value) out += c == '\n' ? ' ' : c;
  }
  return out;
}

std::chrono::microseconds parseWatchdogInterval(const char* usec, const char* pid, pid_t self) {
  uint64_t interval = 0;
  if (!parseDecimal(usec, &interval) || interval == 0) return std::chrono::microseconds(0);
  if (pid != nullptr) {
    pid_t owner = 0;
    if (!parseDecimal(pid, &owner) || owner != self) return std::chrono::microseconds(0);
  }
  return std::chrono::microseconds(interval);
}

SystemdNotifier::SystemdNotifier(std::chrono::microseconds watchdog_interval)
    : watchdog_interval_(watchdog_interval) {}

std::unique_ptr<SystemdNotifier> SystemdNotifier::fromEnvironment() {
  return std::make_unique<SystemdNotifier>(
      parseWatchdogInterval(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"), getpid()));
}

Status SystemdNotifier::notify(std::string_view state) {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (env == nullptr || *env == '\0') return Status();  // nobody to tell
  const std::string name = env;
  // systemd names a filesystem socket (an absolute path) or an abstract one ('@' + name); its
  // other kinds (vsock, for virtual machines) never reach a service on the box.
  if (name[0] != '/' && name[0] != '@') {
    return Status::error("NOTIFY_SOCKET \"" + name +
                         "\" is neither a path nor an abstract socket name ('@...')");
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (name.size() >= sizeof(addr.sun_path)) {
    return Status::error("NOTIFY_SOCKET \"" + name + "\" is too long for a unix socket");
  }
  std::memcpy(addr.sun_path, name.data(), name.size());
  // An abstract name has no terminating NUL: its length is part of the address.
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  if (name[0] == '@') {
    addr.sun_path[0] = '\0';
  } else {
    len += 1;
  }
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::error(std::string("sd_notify: socket: ") + std::strerror(errno));
  ssize_t sent;
  do {
    sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&addr), len);
  } while (sent < 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (sent < 0) {
    return Status::error("sd_notify: sending to NOTIFY_SOCKET " + name + ": " +
                         std::strerror(err));
  }
  return Status();
}

}  // namespace muzzle
