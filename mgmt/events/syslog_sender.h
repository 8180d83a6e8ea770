// SyslogSink's sender: the socket side of one collector, on its own thread (a Boost.Asio loop).
// Private to syslog_sink.cc and syslog_sender.cc; syslog_sink.h says what it does.
//
// Everything here runs on the sender's thread, but the constructor, the destructor and wake().
// It reads and updates the sink's queue, counters and state under the sink's mutex, held only
// for that.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include "mgmt/events/syslog_sink.h"

namespace muzzle {

class SyslogSink::Sender {
 public:
  using Stream = boost::asio::generic::stream_protocol;
  using Datagram = boost::asio::generic::datagram_protocol;

  // Starts the thread, which opens the socket (udp) or connects (tcp, tls) at once. `tls`: the
  // context with the collector's CA and the client certificate; null unless tls.
  Sender(SyslogSink& sink, SyslogEndpoint endpoint, std::unique_ptr<boost::asio::ssl::context> tls);
  // Closes the socket and ends the thread; nothing queued is sent any more.
  ~Sender();
  // Any thread, with the sink's mutex held (wake_posted_ keeps one wake-up in flight): sends
  // what is queued.
  void wake();

 private:
  // One connection attempt and what its operations use. Every handler holds it, so a
  // connection given up (closed, replaced) lives until its last handler has run: an
  // ssl::stream's operations use the stream until they complete, even when cancelled.
  struct Connection {
    explicit Connection(boost::asio::io_context& io) : timer(io) {}
    Stream::socket& lowest() { return tls ? tls->next_layer() : *plain; }
    std::optional<Stream::socket> plain;
    std::optional<boost::asio::ssl::stream<Stream::socket>> tls;
    boost::asio::steady_timer timer;  // connect + handshake, then each write
    std::string batch;                // the write in flight
    std::array<char, 512> discard{};
  };
  using ConnectionPtr = std::shared_ptr<Connection>;

  bool udp() const { return sink_.config_.transport == SyslogTransport::kUdp; }
  bool tls() const { return sink_.config_.transport == SyslogTransport::kTls; }

  void begin();
  // tcp, tls
  void connect();
  void connected(const ConnectionPtr& c);
  // A collector sends nothing; a read completes only when the connection ends.
  void watchForClose(const ConnectionPtr& c);
  // Connection `c` is gone: what was in flight is lost; reconnect after the backoff.
  void broken(const ConnectionPtr& c, const std::string& error);
  void armTimer(const ConnectionPtr& c, std::string what);
  // Cancels what the current connection has in flight; its handlers then see it is no longer
  // conn_ and do nothing.
  void closeConnection();
  // Both: the next write (a batch of framed messages, or one datagram) when none is in flight.
  void pump();
  void setState(const char* state);
  // Up again (or for the first time): `event=syslog-up` when a connection had been reported
  // down. A UDP send that works says nothing (the next may fail again: ICMP errors come back on
  // the send after), so a dead UDP collector is reported once a minute, not on every flip.
  void markUp(const char* state);
  // Down (or a UDP send failed): the state, the error, and a rate-limited syslog-down line.
  void failed(const std::string& error);

  SyslogSink& sink_;
  const SyslogEndpoint endpoint_;
  std::unique_ptr<boost::asio::ssl::context> tls_context_;  // outlives every stream using it
  boost::asio::io_context io_;
  std::optional<Datagram::socket> datagram_;
  std::string datagram_batch_;        // the datagram in flight
  std::shared_ptr<Connection> conn_;  // tcp, tls: the current connection (attempt)
  boost::asio::steady_timer retry_;   // reconnect backoff
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  bool connected_ = false;  // tcp, tls: the connection is up (and the handshake done)
  bool writing_ = false;
  std::chrono::milliseconds backoff_ = kMinBackoff;
  std::thread thread_;  // last: started by the constructor once everything above exists
};

}  // namespace muzzle
