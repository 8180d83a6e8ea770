// JournalSink: event lines to the systemd journal as structured entries (muzzled.yaml
// `journal:`), so `journalctl MUZZLE_EVENT=deny MUZZLE_MAC=44:47:cc:00:00:11` finds them.
//
// Each line the config wants becomes one datagram of journald's native protocol (documented as
// stable: systemd.io/JOURNAL_NATIVE_PROTOCOL) on /run/systemd/journal/socket:
//   MESSAGE=<the log line>  PRIORITY=<as for syslog: syslog_format.h>  SYSLOG_IDENTIFIER=muzzled
//   MUZZLE_EVENT=<event>    MUZZLE_<KEY>=<value> for each key=value of the line (the key upper
//   case, '-' as '_': MUZZLE_MAC, MUZZLE_DEVICE, MUZZLE_DST, ...), MUZZLE_TIME=<when it was
//   written, RFC 3339 UTC>: journald stamps entries when it receives them.
// A value with a newline is sent in the protocol's length-prefixed form, never as a new field.
//
// onEvent() (the EventLog's delivery thread) sends without waiting (a non-blocking socket): when
// journald does not keep up (its socket's queue is full), is not running, or the entry is
// larger than a datagram may be, the entry is dropped and counted (status()). There is no queue
// of its own: the kernel's socket queue is the bound. Thread-safe.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "fw/common/status.h"
#include "fw/config/syslog_config.h"
#include "fw/engine/event_log.h"

namespace muzzle {

struct JournalStatus {
  uint64_t sent = 0;
  uint64_t dropped = 0;
  std::string last_error;  // empty until a send failed
  bool failing = false;    // the newest entry was dropped (as a UDP collector's "failing")
};

// The entry for `line` in the native protocol (exposed for tests).
std::string formatJournalEntry(const LogLine& line);

class JournalSink final : public EventSink {
 public:
  static constexpr const char* kDefaultSocket = "/run/systemd/journal/socket";

  // Opens the socket (an error names what failed). `socket_path`: journald's (tests: another).
  static Result<std::unique_ptr<JournalSink>> open(JournalConfig config,
                                                   std::string socket_path = kDefaultSocket);
  ~JournalSink() override;
  JournalSink(const JournalSink&) = delete;
  JournalSink& operator=(const JournalSink&) = delete;

  void onEvent(const LogLine& line) override;
  JournalStatus status() const;

 private:
  JournalSink(JournalConfig config, std::string socket_path, int fd);

  const JournalConfig config_;
  const std::string socket_path_;
  sockaddr_un address_{};  // socket_path_'s, made once
  socklen_t address_length_ = 0;
  const int fd_;
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<bool> failing_{false};
  mutable std::mutex error_mu_;
  std::string last_error_;
};

}  // namespace muzzle
