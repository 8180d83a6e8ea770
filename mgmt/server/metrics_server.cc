#include "mgmt/server/metrics_server.h"

#include <pthread.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <set>

#include "fw/common/thread_priority.h"
#include "mgmt/server/listen_address.h"
#include "mgmt/server/tcp_listen.h"

namespace muzzle {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr int kBacklog = 16;
// What is read and thrown away after the answer, at most (Session::linger).
constexpr size_t kLingerBytes = 64 * 1024;

std::optional<IpAddress> ipOf(const asio::ip::address& peer) {
  // An IPv4 peer on a dual-stack socket: the allow list names it by its IPv4 address.
  const asio::ip::address a = unmapped(peer);
  if (a.is_v4()) return IpAddress::fromBytes(a.to_v4().to_bytes().data(), false);
  return IpAddress::fromBytes(a.to_v6().to_bytes().data(), true);
}

}  // namespace

class Session;

class MetricsServer::Impl {
 public:
  Impl(MetricsOptions o, Collect c) : options(std::move(o)), collect(std::move(c)) {}

  void accept();
  void admit(tcp::socket socket);
  void closeAll();

  asio::io_context ioc;  // first: destroyed last, after everything that uses it
  tcp::acceptor acceptor{ioc};
  asio::steady_timer retry{ioc};
  MetricsOptions options;
  Collect collect;
  std::set<std::shared_ptr<Session>> sessions;  // the io thread only
  // Itself, for the snapshot callbacks: they may outlive the server (see Collect), so they hold
  // the io_context alive by a shared_ptr. Sessions hold a plain pointer: a queued handler that
  // owned Impl would keep its own io_context alive forever.
  std::weak_ptr<Impl> self;
  struct {
    std::atomic<uint64_t> served{0}, refused_peer{0}, busy{0}, bad_request{0}, timed_out{0};
  } counted;

  MetricsHttpCounters counters() const {
    return MetricsHttpCounters{counted.served.load(), counted.refused_peer.load(),
                               counted.busy.load(), counted.bad_request.load(),
                               counted.timed_out.load()};
  }
};

// One connection: one request, one answer, one deadline. The io thread only.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(MetricsServer::Impl* server, tcp::socket socket)
      : server_(server),
        socket_(std::move(socket)),
        timer_(server_->ioc),
        buffer_(server_->options.max_header_bytes) {}

  void start() {
    timer_.expires_after(server_->options.deadline);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_) return;
      // A client still open after its answer was served (or refused), and is only closed.
      if (!self->answered_) ++self->server_->counted.timed_out;
      self->close();
    });
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_->options.max_header_bytes));
    parser_->body_limit(0);
    http::async_read(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->onRead(ec); });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    auto self = shared_from_this();  // the set may hold the last reference
    timer_.cancel();
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    server_->sessions.erase(self);
  }

 private:
  void onRead(beast::error_code ec) {
    if (closed_) return;
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return refuse(http::status::request_header_fields_too_large,
                    "request line and headers are limited to " +
                        std::to_string(server_->options.max_header_bytes) + " bytes\n");
    }
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset) {
      return close();  // the client left
    }
    if (ec) return refuse(http::status::bad_request, "bad request: " + ec.message() + "\n");
    const auto& req = parser_->get();
    const beast::string_view raw_target = req.target();
    std::string_view target(raw_target.data(), raw_target.size());
    target = target.substr(0, target.find('?'));
    if (req.method() != http::verb::get) {
      return refuse(http::status::method_not_allowed, "only GET /metrics is served\n");
    }
    if (target != "/metrics") return refuse(http::status::not_found, "only /metrics is served\n");
    // The snapshot comes from the engine thread; come back to this thread to answer. The
    // session may be gone by then (deadline, stop): then nothing is written.
    std::weak_ptr<Session> weak = weak_from_this();
    server_->collect([server = server_->self.lock(), weak](MetricsSnapshot snapshot) {
      asio::post(server->ioc, [weak, snapshot = std::move(snapshot)]() mutable {
        if (auto self = weak.lock()) self->serve(std::move(snapshot));
      });
    });
  }

  void serve(MetricsSnapshot snapshot) {
    if (closed_) return;
    ++server_->counted.served;
    snapshot.http = server_->counters();
    write(http::status::ok, renderMetrics(snapshot), "text/plain; version=0.0.4; charset=utf-8");
  }

  void refuse(http::status status, std::string body) {
    ++server_->counted.bad_request;
    write(status, std::move(body), "text/plain; charset=utf-8");
  }

  void write(http::status status, std::string body, const char* type) {
    response_.result(status);
    response_.version(11);
    response_.set(http::field::content_type, type);
    if (status == http::status::method_not_allowed) response_.set(http::field::allow, "GET");
    response_.keep_alive(false);
    response_.body() = std::move(body);
    response_.prepare_payload();
    http::async_write(socket_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->close();
                        self->answered_ = true;
                        self->linger();
                      });
  }

  // Closing a socket with unread bytes (the rest of a header past the limit, a body) resets the
  // connection, and the client may lose the answer with it. So: send FIN, read and discard what
  // still comes (at most kLingerBytes, within the deadline) until the client closes too.
  void linger() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    if (lingered_ >= kLingerBytes) return close();
    socket_.async_read_some(asio::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->lingered_ += n;
                              if (ec) return self->close();
                              self->linger();
                            });
  }

  MetricsServer::Impl* server_;  // outlives its sessions: they live in its io_context
  tcp::socket socket_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  http::response<http::string_body> response_;
  std::array<char, 4096> discard_;
  size_t lingered_ = 0;
  bool answered_ = false;  // the whole answer was written
  bool closed_ = false;
};

void MetricsServer::Impl::accept() {
  acceptLoop(acceptor, retry, [this](tcp::socket socket) { admit(std::move(socket)); });
}

void MetricsServer::Impl::admit(tcp::socket socket) {
  beast::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  const std::optional<IpAddress> ip = ec ? std::nullopt : ipOf(peer.address());
  if (!ip || !options.allow.contains(*ip)) {
    ++counted.refused_peer;
    socket.close(ec);
    return;
  }
  if (sessions.size() >= options.max_connections) {
    ++counted.busy;
    socket.close(ec);
    return;
  }
  auto session = std::make_shared<Session>(this, std::move(socket));
  sessions.insert(session);
  session->start();
}

void MetricsServer::Impl::closeAll() {
  beast::error_code ignored;
  acceptor.close(ignored);
  retry.cancel();
  auto open = sessions;  // close() erases from the set
  for (const auto& s : open) s->close();
}

Result<MetricsOptions> metricsOptionsOf(const DaemonConfig& config,
                                        const std::vector<std::string>& segment_addresses) {
  const v1::MetricsListener& m = config.management.metrics();
  MetricsOptions options;
  if (m.listen().empty()) return options;
  const std::string field =
      config.metrics_listen_at.empty() ? "management.metrics.listen" : config.metrics_listen_at;
  auto listen = checkListenAddress(m.listen(), segment_addresses, field);
  if (!listen.ok()) return listen.status();
  options.listen = *listen;
  if (m.allow_size() == 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "management.metrics.allow: missing (/metrics has no authentication; "
                         "name the Prometheus servers that may scrape it)");
  }
  for (int i = 0; i < m.allow_size(); ++i) {
    auto cidr = Cidr::parse(m.allow(i));
    if (!cidr) {
      return Status::error(StatusCode::kInvalidArgument,
                           "management.metrics.allow[" + std::to_string(i) + "]: \"" + m.allow(i) +
                               "\" is not an address or a CIDR");
    }
    options.allow.add(*cidr);
  }
  options.allow.finalize();
  return options;
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(MetricsOptions options,
                                                            Collect collect) {
  const std::string listen = options.listen;
  auto server = std::unique_ptr<MetricsServer>(new MetricsServer());
  auto impl = std::make_shared<Impl>(std::move(options), std::move(collect));
  impl->self = impl;
  if (Status s = listenOn(impl->acceptor, listen, kBacklog, "management.metrics.listen");
      !s.ok()) {
    return s;
  }
  server->port_ = impl->acceptor.local_endpoint().port();
  impl->accept();
  server->impl_ = impl;
  server->thread_ = std::thread([impl] {
    runAsBackgroundThread();
    impl->ioc.run();
  });
  pthread_setname_np(server->thread_.native_handle(), "muzzle-metrics");
  return server;
}

void MetricsServer::stop() {
  if (!thread_.joinable()) return;
  asio::post(impl_->ioc, [impl = impl_.get()] {
    impl->closeAll();
    impl->ioc.stop();
  });
  thread_.join();
}

MetricsServer::~MetricsServer() { stop(); }

MetricsHttpCounters MetricsServer::counters() const { return impl_->counters(); }

}  // namespace muzzle
