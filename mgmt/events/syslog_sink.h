// SyslogSink: one syslog collector (muzzled.yaml `syslog:`), fed by the EventLog's delivery
// thread and sending on a thread of its own. SyslogSinks: all of them, and their status.
//
// onEvent() (the EventLog's delivery thread) filters the line by the collector's `events`,
// formats it (syslog_format.h) and moves it into the sink's bounded queue (`queue` lines) under
// the sink's mutex, held for that move only; when the queue is full the line is dropped and
// counted; only this collector's own syslog-up and syslog-down lines have kStatusReserve places
// past the bound, so the line that tells the collector about a gap is not lost to that gap. It
// never waits for the network, so a slow or dead collector holds up neither the
// other consumers nor, through them, judging.
//
// The sender thread ("muzzle-syslog", a Boost.Asio loop) owns the socket:
// - udp: one datagram per message, at most 2048 bytes (kSyslogUdpMaxBytes). A send that fails
//   (e.g. ECONNREFUSED after the collector's ICMP port unreachable) drops that message.
// - tcp, tls: octet-counting framing (RFC 6587 §3.4.1, RFC 5425 §4.3), messages at most 8192
//   bytes; several queued messages go out in one write. tls: TLS 1.2 or later, the collector's
//   certificate checked against `ca` and its IP address (an IP SAN), the client certificate
//   sent when configured. A connection that cannot be made, a handshake, connect or write that
//   takes longer than kIoTimeout, or a collector that closes the connection (the sender always
//   has a read pending: a collector never sends, so a read ends only with the connection) counts
//   the messages in flight as dropped and reconnects after a backoff: 1 s, doubling up to 30 s,
//   back to 1 s once connected. Queued messages wait (within the bound) for the reconnect.
// A collector going down writes one `event=syslog-down collector=... error=... dropped=N` line
// (at most one a minute per collector while it stays down), and `event=syslog-up` once it is
// back (`dropped=N`: lost since start, so the collector can tell how big the gap was). `sent`
// counts messages the kernel accepted (a TCP collector that dies may still lose what was in its
// socket buffers: syslog over TCP has no acknowledgements).
//
// Stopping (the destructor): waits up to kDrainOnStop for what is queued to be written (a
// connected collector gets muzzled's last words), then ends the thread.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fw/common/clock.h"
#include "fw/common/status.h"
#include "fw/config/syslog_config.h"
#include "fw/engine/event_log.h"
#include "mgmt/events/syslog_format.h"

namespace muzzle {

// A snapshot of one collector, for GetStatus.
struct SyslogCollectorStatus {
  std::string target;
  // connecting | connected | down (waiting to reconnect) | ready (udp) | failing (udp: the last
  // send failed)
  std::string state;
  uint64_t sent = 0;       // messages handed to the kernel
  uint64_t dropped = 0;    // lost: queue full, a send failed, or in flight when a connection broke
  uint64_t queued = 0;     // waiting or being written now
  std::string last_error;  // empty until something failed
};

// Where the sender connects: the collector's IP address and port, or (unit tests) a unix
// socket path, which needs no network.
struct SyslogEndpoint {
  sockaddr_storage address{};
  socklen_t length = 0;
  int protocol = 0;  // IPPROTO_TCP / IPPROTO_UDP, 0 for unix sockets

  static SyslogEndpoint fromConfig(const SyslogCollectorConfig& config);
  static SyslogEndpoint unixPath(const std::string& path);
};

class SyslogSink final : public EventSink {
 public:
  static constexpr auto kIoTimeout = std::chrono::seconds(10);
  static constexpr auto kMinBackoff = std::chrono::seconds(1);
  static constexpr auto kMaxBackoff = std::chrono::seconds(30);
  static constexpr auto kDownLogInterval = std::chrono::seconds(60);
  static constexpr auto kDrainOnStop = std::chrono::milliseconds(500);
  // Places past `queue` for this collector's own syslog-up / syslog-down lines (at most one of
  // each per outage, and one down line a minute).
  static constexpr size_t kStatusReserve = 2;

  // Reads the TLS files (an error names the field and the file) and starts the sender thread,
  // which connects at once. `*log` and `*clock` must outlive the sink. `origin.facility` is
  // replaced by the config's.
  static Result<std::unique_ptr<SyslogSink>> start(const SyslogCollectorConfig& config,
                                                   SyslogOrigin origin, EventLog& log,
                                                   const Clock& clock);
  // The same, sending to `endpoint` instead of the config's address (tests).
  static Result<std::unique_ptr<SyslogSink>> start(const SyslogCollectorConfig& config,
                                                   SyslogOrigin origin, EventLog& log,
                                                   const Clock& clock, SyslogEndpoint endpoint);
  ~SyslogSink() override;
  SyslogSink(const SyslogSink&) = delete;
  SyslogSink& operator=(const SyslogSink&) = delete;

  // The EventLog's delivery thread (EventSink); never waits for the network.
  void onEvent(const LogLine& line) override;
  // Any thread.
  SyslogCollectorStatus status() const;

  // The next reconnect delay after `current` (doubling, capped at kMaxBackoff).
  static std::chrono::milliseconds nextBackoff(std::chrono::milliseconds current);

  class Sender;  // the sender thread's side (syslog_sender.h)

 private:
  SyslogSink(const SyslogCollectorConfig& config, SyslogOrigin origin, EventLog& log,
             const Clock& clock);
  // A syslog-up or syslog-down line naming this collector.
  bool aboutThisCollector(const LogLine& line) const;

  const SyslogCollectorConfig config_;
  const SyslogOrigin origin_;
  const size_t max_bytes_;
  EventLog& log_;
  const Clock& clock_;

  // Shared with the sender. Held only to move messages and update counters.
  mutable std::mutex mu_;
  std::condition_variable idle_;  // the destructor waits here for the queue to drain
  std::deque<std::string> queue_;
  size_t in_flight_ = 0;
  bool wake_posted_ = false;  // a wake-up is on its way to the sender
  uint64_t sent_ = 0;
  uint64_t dropped_ = 0;
  std::string state_ = "connecting";
  std::string last_error_;
  std::chrono::steady_clock::time_point last_down_log_{};
  bool down_logged_ = false;  // since the last time it was up

  std::unique_ptr<Sender> sender_;  // last: its thread uses everything above
  friend class Sender;
};

// Every configured collector, each a consumer of `log` while this lives.
class SyslogSinks {
 public:
  // Starts a sink per collector and adds each to `*log` (which must outlive this). The origin's
  // hostname and procid are this box's and this process's.
  static Result<std::unique_ptr<SyslogSinks>> start(
      const std::vector<SyslogCollectorConfig>& collectors, EventLog& log, const Clock& clock);
  ~SyslogSinks();  // removes the sinks from the log, then stops them
  SyslogSinks(const SyslogSinks&) = delete;
  SyslogSinks& operator=(const SyslogSinks&) = delete;

  std::vector<SyslogCollectorStatus> status() const;

 private:
  explicit SyslogSinks(EventLog& log) : log_(log) {}
  EventLog& log_;
  std::vector<std::unique_ptr<SyslogSink>> sinks_;
};

}  // namespace muzzle
