#include "fw/engine/service_notifier.h"

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <charconv>
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
  const int r = sd_notify(/*unset_environment=*/0, std::string(state).c_str());
  if (r >= 0) return Status();  // 0: no $NOTIFY_SOCKET, nobody to tell
  const char* socket = std::getenv("NOTIFY_SOCKET");
  return Status::error(std::string("sd_notify: sending to NOTIFY_SOCKET ") +
                       (socket != nullptr ? socket : "") + ": " + std::strerror(-r));
}

}  // namespace muzzle
