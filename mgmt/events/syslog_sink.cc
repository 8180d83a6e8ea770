#include "mgmt/events/syslog_sink.h"

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <cstring>
#include <optional>

namespace muzzle {

namespace asio = boost::asio;
using Stream = asio::generic::stream_protocol;
using Datagram = asio::generic::datagram_protocol;

namespace {

// One write gathers at most this much: a backlog after a reconnect goes out in a few writes,
// and what a broken connection loses (counted) stays small.
constexpr size_t kBatchBytes = 64 * 1024;
constexpr size_t kBatchMessages = 256;

std::string errorText(const boost::system::error_code& ec) { return ec.message(); }

}  // namespace

// ------------------------------------------------------------------------------------------

SyslogEndpoint SyslogEndpoint::fromConfig(const SyslogCollectorConfig& config) {
  SyslogEndpoint e;
  e.protocol = config.transport == SyslogTransport::kUdp ? IPPROTO_UDP : IPPROTO_TCP;
  if (config.address.v6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&e.address);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(config.port);
    std::memcpy(&sa->sin6_addr, config.address.bytes.data(), 16);
    e.length = sizeof(sockaddr_in6);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&e.address);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(config.port);
    std::memcpy(&sa->sin_addr, config.address.bytes.data(), 4);
    e.length = sizeof(sockaddr_in);
  }
  return e;
}

SyslogEndpoint SyslogEndpoint::unixPath(const std::string& path) {
  SyslogEndpoint e;
  auto* sa = reinterpret_cast<sockaddr_un*>(&e.address);
  sa->sun_family = AF_UNIX;
  std::strncpy(sa->sun_path, path.c_str(), sizeof(sa->sun_path) - 1);
  e.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + std::strlen(sa->sun_path) + 1);
  return e;
}

// ------------------------------------------------------------------------------------------
// The sender: everything here runs on its own thread, but wake() and the constructor.

class SyslogSink::Sender {
 public:
  Sender(SyslogSink& sink, SyslogEndpoint endpoint, std::unique_ptr<asio::ssl::context> tls)
      : sink_(sink),
        endpoint_(endpoint),
        tls_context_(std::move(tls)),
        retry_(io_),
        work_(asio::make_work_guard(io_)) {
    asio::post(io_, [this] { begin(); });
    thread_ = std::thread([this] { io_.run(); });
    pthread_setname_np(thread_.native_handle(), "muzzle-syslog");
  }

  ~Sender() {
    asio::post(io_, [this] {
      closeConnection();
      retry_.cancel();
      work_.reset();
      io_.stop();
    });
    thread_.join();
  }

  // Any thread (with the sink's mutex held: wake_posted_ keeps to one wake-up in flight).
  void wake() {
    asio::post(io_, [this] {
      {
        std::lock_guard<std::mutex> lock(sink_.mu_);
        sink_.wake_posted_ = false;
      }
      pump();
    });
  }

 private:
  bool udp() const { return sink_.config_.transport == SyslogTransport::kUdp; }
  bool tls() const { return sink_.config_.transport == SyslogTransport::kTls; }

  void begin() {
    if (udp()) {
      boost::system::error_code ec;
      datagram_.emplace(io_);
      const Datagram::endpoint to(&endpoint_.address, endpoint_.length, endpoint_.protocol);
      datagram_->open(to.protocol(), ec);
      // connect() only fixes the destination, and lets an ICMP port unreachable come back as
      // ECONNREFUSED on a later send.
      if (!ec) datagram_->connect(to, ec);
      if (ec) return failed("cannot open a socket: " + errorText(ec));
      markUp("ready");
      return pump();
    }
    connect();
  }

  // tcp, tls ---------------------------------------------------------------------------------

  // One connection attempt and what its operations use. Every handler holds it, so a
  // connection given up (closed, replaced) lives until its last handler has run: an
  // ssl::stream's operations use the stream until they complete, even when cancelled.
  struct Connection {
    explicit Connection(asio::io_context& io) : timer(io) {}
    Stream::socket& lowest() { return tls ? tls->next_layer() : *plain; }
    std::optional<Stream::socket> plain;
    std::optional<asio::ssl::stream<Stream::socket>> tls;
    asio::steady_timer timer;  // connect + handshake, then each write
    std::string batch;         // the write in flight
    std::array<char, 512> discard{};
  };
  using ConnectionPtr = std::shared_ptr<Connection>;

  void connect() {
    closeConnection();
    auto c = std::make_shared<Connection>(io_);
    conn_ = c;
    setState("connecting");
    const Stream::endpoint to(&endpoint_.address, endpoint_.length, endpoint_.protocol);
    if (tls()) {
      c->tls.emplace(io_, *tls_context_);
      // The collector is named by its address: its certificate must carry it (an IP SAN).
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->tls->native_handle()),
                                    sink_.config_.address.toString().c_str());
    } else {
      c->plain.emplace(io_);
    }
    armTimer(c, "connecting took longer than 10 s");
    c->lowest().async_connect(to, [this, c](const boost::system::error_code& ec) {
      if (c != conn_) return;
      if (ec) return broken(c, "cannot connect: " + errorText(ec));
      if (!tls()) return connected(c);
      c->tls->async_handshake(
          asio::ssl::stream_base::client, [this, c](const boost::system::error_code& ec2) {
            if (c != conn_) return;
            if (ec2) {
              // Which check failed: "IP address mismatch", "unable to get local issuer ...".
              const long verify = SSL_get_verify_result(c->tls->native_handle());
              return broken(c, "TLS handshake: " + errorText(ec2) +
                                   (verify == X509_V_OK
                                        ? std::string()
                                        : std::string(" (") +
                                              X509_verify_cert_error_string(verify) + ")"));
            }
            connected(c);
          });
    });
  }

  void connected(const ConnectionPtr& c) {
    c->timer.cancel();
    connected_ = true;
    backoff_ = kMinBackoff;
    markUp("connected");
    watchForClose(c);
    pump();
  }

  // A collector sends nothing; a read completes only when the connection ends.
  void watchForClose(const ConnectionPtr& c) {
    auto done = [this, c](const boost::system::error_code& ec, size_t) {
      if (c != conn_) return;
      if (ec) return broken(c, ec == asio::error::eof
                                   ? std::string("the collector closed the connection")
                                   : "the connection failed: " + errorText(ec));
      watchForClose(c);  // it did send something; ignore it
    };
    if (c->tls) {
      c->tls->async_read_some(asio::buffer(c->discard), done);
    } else {
      c->plain->async_read_some(asio::buffer(c->discard), done);
    }
  }

  // Connection `c` is gone: what was in flight is lost; reconnect after the backoff.
  void broken(const ConnectionPtr& c, const std::string& error) {
    if (c != conn_) return;
    closeConnection();
    connected_ = false;
    writing_ = false;
    {
      std::lock_guard<std::mutex> lock(sink_.mu_);
      sink_.dropped_ += sink_.in_flight_;
      sink_.in_flight_ = 0;
    }
    failed(error);
    retry_.expires_after(backoff_);
    backoff_ = nextBackoff(backoff_);
    retry_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) connect();
    });
  }

  void armTimer(const ConnectionPtr& c, std::string what) {
    c->timer.expires_after(kIoTimeout);
    c->timer.async_wait([this, c, what = std::move(what)](const boost::system::error_code& ec) {
      if (!ec) broken(c, what);
    });
  }

  // Cancels what the current connection has in flight; its handlers then see it is no longer
  // conn_ and do nothing.
  void closeConnection() {
    if (!conn_) return;
    boost::system::error_code ignored;
    conn_->timer.cancel();
    conn_->lowest().close(ignored);
    conn_.reset();
  }

  // Both -------------------------------------------------------------------------------------

  void pump() {
    if (writing_) return;
    if (udp() ? !datagram_ : !connected_) return;
    const ConnectionPtr c = conn_;
    std::string& batch = udp() ? datagram_batch_ : c->batch;
    batch.clear();
    size_t count = 0;
    {
      std::lock_guard<std::mutex> lock(sink_.mu_);
      while (!sink_.queue_.empty() && count < (udp() ? 1 : kBatchMessages) &&
             (count == 0 || batch.size() + sink_.queue_.front().size() < kBatchBytes)) {
        if (udp()) {
          batch = std::move(sink_.queue_.front());
        } else {
          appendOctetCounted(sink_.queue_.front(), batch);
        }
        sink_.queue_.pop_front();
        ++count;
      }
      sink_.in_flight_ = count;
    }
    if (count == 0) {
      sink_.idle_.notify_all();
      return;
    }
    writing_ = true;
    if (udp()) {
      datagram_->async_send(asio::buffer(batch), [this](const boost::system::error_code& ec,
                                                         size_t) {
        writing_ = false;
        {
          std::lock_guard<std::mutex> lock(sink_.mu_);
          (ec ? sink_.dropped_ : sink_.sent_) += sink_.in_flight_;
          sink_.in_flight_ = 0;
        }
        if (ec) {
          failed("sending: " + errorText(ec));
        } else {
          markUp("ready");
        }
        pump();
      });
      return;
    }
    armTimer(c, "a write took longer than 10 s (the collector does not read)");
    auto done = [this, c](const boost::system::error_code& ec, size_t) {
      if (c != conn_) return;
      if (ec) return broken(c, "sending: " + errorText(ec));
      c->timer.cancel();
      writing_ = false;
      {
        std::lock_guard<std::mutex> lock(sink_.mu_);
        sink_.sent_ += sink_.in_flight_;
        sink_.in_flight_ = 0;
      }
      pump();
    };
    if (c->tls) {
      asio::async_write(*c->tls, asio::buffer(batch), done);
    } else {
      asio::async_write(*c->plain, asio::buffer(batch), done);
    }
  }

  void setState(const char* state) {
    std::lock_guard<std::mutex> lock(sink_.mu_);
    sink_.state_ = state;
  }

  // Up again (or for the first time): `event=syslog-up` when a connection had been reported
  // down. A UDP send that works says nothing (the next may fail again: ICMP errors come back on
  // the send after), so a dead UDP collector is reported once a minute, not on every flip.
  void markUp(const char* state) {
    bool was_reported = false;
    {
      std::lock_guard<std::mutex> lock(sink_.mu_);
      sink_.state_ = state;
      if (!udp()) {
        was_reported = sink_.down_logged_;
        sink_.down_logged_ = false;
      }
    }
    if (was_reported) {
      sink_.log_.write(LogLine("syslog-up").add("collector", sink_.config_.target));
    }
  }

  // Down (or a UDP send failed): the state, the error, and a rate-limited syslog-down line.
  void failed(const std::string& error) {
    const auto now = sink_.clock_.now();
    std::optional<LogLine> line;
    {
      std::lock_guard<std::mutex> lock(sink_.mu_);
      sink_.state_ = udp() ? "failing" : "down";
      sink_.last_error_ = error;
      if (!sink_.down_logged_ || now - sink_.last_down_log_ >= kDownLogInterval) {
        sink_.down_logged_ = true;
        sink_.last_down_log_ = now;
        line.emplace("syslog-down");
        line->add("collector", sink_.config_.target)
            .add("error", error)
            .add("dropped", sink_.dropped_)
            .add("queued", sink_.queue_.size());
      }
    }
    sink_.idle_.notify_all();
    if (line) sink_.log_.write(std::move(*line));
  }

  SyslogSink& sink_;
  const SyslogEndpoint endpoint_;
  std::unique_ptr<asio::ssl::context> tls_context_;
  asio::io_context io_;
  std::optional<Datagram::socket> datagram_;
  std::string datagram_batch_;  // the datagram in flight
  std::shared_ptr<Connection> conn_;  // tcp, tls: the current connection (attempt)
  asio::steady_timer retry_;  // reconnect backoff
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  bool connected_ = false;   // tcp, tls: the connection is up (and the handshake done)
  bool writing_ = false;
  std::chrono::milliseconds backoff_ = kMinBackoff;
  std::thread thread_;
};

// ------------------------------------------------------------------------------------------

std::chrono::milliseconds SyslogSink::nextBackoff(std::chrono::milliseconds current) {
  return std::min<std::chrono::milliseconds>(current * 2, kMaxBackoff);
}

SyslogSink::SyslogSink(const SyslogCollectorConfig& config, SyslogOrigin origin, EventLog& log,
                       const Clock& clock)
    : config_(config),
      origin_([&] {
        origin.facility = config.facility;
        return origin;
      }()),
      max_bytes_(config.transport == SyslogTransport::kUdp ? kSyslogUdpMaxBytes
                                                           : kSyslogStreamMaxBytes),
      log_(log),
      clock_(clock) {}

Result<std::unique_ptr<SyslogSink>> SyslogSink::start(const SyslogCollectorConfig& config,
                                                      SyslogOrigin origin, EventLog& log,
                                                      const Clock& clock) {
  return start(config, std::move(origin), log, clock, SyslogEndpoint::fromConfig(config));
}

Result<std::unique_ptr<SyslogSink>> SyslogSink::start(const SyslogCollectorConfig& config,
                                                      SyslogOrigin origin, EventLog& log,
                                                      const Clock& clock,
                                                      SyslogEndpoint endpoint) {
  std::unique_ptr<asio::ssl::context> tls;
  if (config.transport == SyslogTransport::kTls) {
    tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    boost::system::error_code ec;
    tls->set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                     asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    tls->set_verify_mode(asio::ssl::verify_peer);
    auto failedFile = [&](const char* field, const std::string& path) {
      return Status::error(StatusCode::kInvalidArgument,
                           "syslog " + config.target + ": " + field + " " + path + ": " +
                               errorText(ec) + " (a PEM file readable by muzzled's user)");
    };
    if (tls->load_verify_file(config.ca, ec); ec) return failedFile("ca", config.ca);
    if (!config.cert.empty()) {
      if (tls->use_certificate_chain_file(config.cert, ec); ec) {
        return failedFile("cert", config.cert);
      }
      if (tls->use_private_key_file(config.key, asio::ssl::context::pem, ec); ec) {
        return failedFile("key", config.key);
      }
    }
  }
  std::unique_ptr<SyslogSink> sink(new SyslogSink(config, std::move(origin), log, clock));
  sink->sender_ = std::make_unique<Sender>(*sink, endpoint, std::move(tls));
  return sink;
}

SyslogSink::~SyslogSink() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait_for(lock, kDrainOnStop, [&] {
      return (queue_.empty() && in_flight_ == 0) ||
             (state_ != "connected" && state_ != "ready");
    });
  }
  sender_.reset();
}

void SyslogSink::onEvent(const LogLine& line) {
  if (!config_.wants(line.event())) return;
  std::string message = formatSyslog(line, origin_, max_bytes_);
  std::lock_guard<std::mutex> lock(mu_);
  if (queue_.size() >= config_.queue) {
    ++dropped_;
    return;
  }
  queue_.push_back(std::move(message));
  if (!wake_posted_) {
    wake_posted_ = true;
    sender_->wake();
  }
}

SyslogCollectorStatus SyslogSink::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return SyslogCollectorStatus{config_.target, state_,         sent_, dropped_,
                               queue_.size() + in_flight_, last_error_};
}

// ------------------------------------------------------------------------------------------

Result<std::unique_ptr<SyslogSinks>> SyslogSinks::start(
    const std::vector<SyslogCollectorConfig>& collectors, EventLog& log, const Clock& clock) {
  std::unique_ptr<SyslogSinks> sinks(new SyslogSinks(log));
  SyslogOrigin origin;
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) == 0) origin.hostname = host;
  origin.procid = static_cast<uint32_t>(::getpid());
  for (const SyslogCollectorConfig& c : collectors) {
    auto sink = SyslogSink::start(c, origin, log, clock);
    if (!sink.ok()) return sink.status();
    sinks->sinks_.push_back(std::move(sink).value());
    log.addConsumer(*sinks->sinks_.back());
    std::string events;
    for (const std::string& e : c.events) events += (events.empty() ? "" : ",") + e;
    log.write(LogLine("syslog")
                  .add("collector", c.target)
                  .add("facility", c.facility)
                  .add("events", events.empty() ? "all" : events)
                  .add("queue", c.queue));
  }
  return sinks;
}

SyslogSinks::~SyslogSinks() {
  for (auto& sink : sinks_) log_.removeConsumer(*sink);
}

std::vector<SyslogCollectorStatus> SyslogSinks::status() const {
  std::vector<SyslogCollectorStatus> out;
  for (const auto& sink : sinks_) out.push_back(sink->status());
  return out;
}

}  // namespace muzzle
