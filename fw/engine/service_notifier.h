// ServiceNotifier: how muzzled tells its service manager how it is doing. Under systemd
// (Type=notify) that is READY=1 once the ruleset is installed and the queues are bound — so
// `systemctl start` returns only when muzzled enforces — WATCHDOG=1 from the engine loop while
// every queue thread turns too, so a stuck engine or a hung queue thread gets muzzled restarted
// (fw/engine/daemon.h), and STOPPING=1.
//
// SystemdNotifier speaks the notify protocol itself: one datagram to $NOTIFY_SOCKET. systemd
// documents the protocol as its stable interface and shows a standalone implementation in
// sd_notify(3) ("Standalone Implementations") for programs that need nothing else from
// libsystemd. Measured in the lab (tests/bench/HISTORY.md): linking libsystemd for this one call
// kept ~0.85 MB resident in muzzled (libsystemd itself, and the libgcrypt, libgpg-error, zstd,
// lz4 and lzma it loads), ~3.5 % of the daemon, and put those libraries' code in a process
// holding CAP_NET_ADMIN. The service_notifier tests pin the bytes systemd receives.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fw/common/status.h"

namespace muzzle {

class ServiceNotifier {
 public:
  virtual ~ServiceNotifier() = default;
  // Sends one state message (see formatNotifyState). Engine thread only. A failure is returned
  // for the caller to log; it never stops the engine: a firewall that enforces but cannot tell
  // systemd is better than one that stops enforcing.
  virtual Status notify(std::string_view state) = 0;
  // How often WATCHDOG=1 must arrive; zero when no watchdog is armed.
  virtual std::chrono::microseconds watchdogInterval() const = 0;
};

// "KEY=VALUE\nKEY=VALUE". A newline inside a value would start a new field (a STATUS carrying
// "\nREADY=1" would claim readiness), so newlines in values become spaces.
std::string formatNotifyState(const std::vector<std::pair<std::string, std::string>>& fields);

// The watchdog interval systemd asks for, from the values of $WATCHDOG_USEC and $WATCHDOG_PID
// (either may be null). Zero when unset or malformed, or when WATCHDOG_PID names another process
// (the variables were inherited, not meant for us).
std::chrono::microseconds parseWatchdogInterval(const char* usec, const char* pid, pid_t self);

// Reads $NOTIFY_SOCKET on every notify() (sd_notify's rule): a path, or '@' + an abstract name.
// Unset means "not started by a service manager": notify() then does nothing and succeeds.
class SystemdNotifier : public ServiceNotifier {
 public:
  explicit SystemdNotifier(std::chrono::microseconds watchdog_interval);
  // The watchdog interval from $WATCHDOG_USEC and $WATCHDOG_PID.
  static std::unique_ptr<SystemdNotifier> fromEnvironment();

  // `state` is sent as is (formatNotifyState makes it).
  Status notify(std::string_view state) override;
  std::chrono::microseconds watchdogInterval() const override { return watchdog_interval_; }

 private:
  std::chrono::microseconds watchdog_interval_;
};

}  // namespace muzzle
