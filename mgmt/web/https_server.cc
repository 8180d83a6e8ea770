#include "mgmt/web/https_server.h"

#include <openssl/ssl.h>
#include <pthread.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <set>

#include "fw/common/thread_priority.h"
#include "mgmt/server/tcp_listen.h"

namespace muzzle::web {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr int kBacklog = 64;
// What is read and thrown away after a closing answer, at most (Connection::linger).
constexpr size_t kLingerBytes = 64 * 1024;
// Room in the read buffer past the header limit, for the start of a body or a pipelined request.
constexpr size_t kReadSlack = 16 * 1024;
// TLS 1.2 suites with forward secrecy and an AEAD only; TLS 1.3's are all of that already.
constexpr char kTls12Ciphers[] = "ECDHE+AESGCM:ECDHE+CHACHA20";

constexpr char kCsp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

// Every answer carries these, the plain-HTTP redirect and the refusals included.
template <class Fields>
void addSecurityHeaders(Fields& fields) {
  fields.set("Content-Security-Policy", kCsp);
  fields.set("X-Content-Type-Options", "nosniff");
  fields.set("X-Frame-Options", "DENY");
  fields.set("Referrer-Policy", "no-referrer");
  fields.set("Strict-Transport-Security", "max-age=31536000");
  if (fields.find(http::field::cache_control) == fields.end()) {
    fields.set(http::field::cache_control, "no-store");
  }
}

// The client's address as the console and its logs name it: IPv4 for an IPv4 client on a
// dual-stack socket.
std::string peerText(const asio::ip::address& a) { return unmapped(a).to_string(); }

std::string fieldOf(const http::request<http::string_body>& req, http::field f) {
  auto it = req.find(f);
  return it == req.end() ? std::string() : std::string(it->value());
}

std::string fieldOf(const http::request<http::string_body>& req, const char* name) {
  auto it = req.find(name);
  return it == req.end() ? std::string() : std::string(it->value());
}

Request requestOf(http::request<http::string_body>&& req, const std::string& peer) {
  Request r;
  r.method = std::string(req.method_string());
  const std::string target(req.target());
  const size_t q = target.find('?');
  r.path = target.substr(0, q);
  r.query = q == std::string::npos ? "" : target.substr(q + 1);
  r.peer = peer;
  r.cookie = fieldOf(req, http::field::cookie);
  r.content_type = fieldOf(req, http::field::content_type);
  r.csrf = fieldOf(req, "X-CSRF-Token");
  r.origin = fieldOf(req, http::field::origin);
  r.last_event_id = fieldOf(req, "Last-Event-ID");
  r.body = std::move(req.body());
  return r;
}

Response plainText(int status, std::string body) {
  Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

}  // namespace

class Connection;
class Stream;

class HttpsServer::Impl {
 public:
  Impl(ServerOptions o, Handler h) : options(std::move(o)), handler(std::move(h)) {}

  void accept();
  void admit(tcp::socket socket);
  void closeAll();
  ServerCounters counters() const;

  // The TLS context before the io_context: connections that queued handlers still hold are
  // destroyed with the io_context, and their TLS state with them, while the context lives.
  ssl::context tls{ssl::context::tls_server};
  asio::io_context ioc;  // destroyed after everything else that uses it
  tcp::acceptor acceptor{ioc};
  asio::steady_timer retry{ioc};
  ServerOptions options;
  Handler handler;
  std::string listen_host;  // as configured: "198.18.0.1", "[fd00::1]"; "" for a wildcard
  std::atomic<uint16_t> port{0};
  std::set<std::shared_ptr<Connection>> connections;  // the io thread only
  size_t open_streams = 0;                            // the io thread only
  // Itself, for what may outlive the server (Respond, EventStream): they hold it weakly, and
  // strongly only while they post to its io_context. Neither may own it: the console keeps them
  // (a pending answer, an open stream) and the console is owned here, through the handler.
  // Connections hold a plain pointer: a queued handler that owned Impl would keep its own
  // io_context alive forever.
  std::weak_ptr<Impl> self;
  struct {
    std::atomic<uint64_t> connections{0}, refused_connections{0}, requests{0},
        plain_http_redirects{0}, handshake_failures{0}, deadline_cuts{0}, oversized{0},
        bad_requests{0}, streams_refused{0}, streams_cut{0};
  } counted;
};

// The EventStream the console pushes to, from any thread. It only queues: the bytes go to the
// connection's io thread by asio::post (the io_context runs on one thread, so posting to it is
// posting to the connection's strand), and are written there in order.
class Stream : public EventStream {
 public:
  Stream(std::weak_ptr<HttpsServer::Impl> server, std::weak_ptr<Connection> connection,
         size_t max_queue_bytes)
      : server_(std::move(server)),
        connection_(std::move(connection)),
        max_queue_bytes_(max_queue_bytes) {}

  bool push(std::string chunk) override;
  void close() override;
  bool closed() const override { return closed_.load(); }

  // The io thread: `n` bytes left the queue (written, or dropped with the connection).
  void written(size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    queued_ -= std::min(queued_, n);
  }
  // The io thread: the connection is gone; every later push() is refused.
  void markClosed() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }

 private:
  void postToConnection(std::function<void(Connection&)> fn);

  std::weak_ptr<HttpsServer::Impl> server_;
  std::weak_ptr<Connection> connection_;
  const size_t max_queue_bytes_;
  std::mutex mu_;
  size_t queued_ = 0;  // pushed, not yet written
  std::atomic<bool> closed_{false};
};

// One client connection: detect TLS (or redirect plain HTTP), handshake, then requests one at a
// time, each answered before the next is read; or, after a stream answer, the stream until it
// ends. The io thread only.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpsServer::Impl* server, tcp::socket socket, std::string peer)
      : server_(server),
        stream_(beast::tcp_stream(std::move(socket)), server->tls),
        timer_(server->ioc),
        buffer_(server->options.max_header_bytes + kReadSlack),
        peer_(std::move(peer)) {}

  void start() {
    arm(server_->options.request_deadline);
    beast::async_detect_ssl(
        stream_.next_layer(), buffer_,
        [self = shared_from_this()](beast::error_code ec, bool tls) { self->onDetect(ec, tls); });
  }

  void close();
  // A chunk pushed to the stream, on the io thread.
  void queueChunk(std::string chunk);
  // The console closed the stream: end after what is queued.
  void endStream() {
    stream_ending_ = true;
    if (out_.empty()) close();
  }
  bool isClosed() const { return closed_; }

  // The answer to request number `serial`, on the io thread. A late answer (the connection was
  // cut and this one is another request, or none) is dropped.
  void answer(uint64_t serial, Response response);

 private:
  void arm(std::chrono::milliseconds d);
  void onDetect(beast::error_code ec, bool tls);
  void redirect(const std::string& host);
  void onHandshake(beast::error_code ec, size_t used);
  void awaitRequest();
  void readRequest();
  void onRead(beast::error_code ec);
  void refuse(int status, std::string body);
  void write(Response response, bool keep_alive);
  void startStream(Response response);
  void readWhileStreaming();
  void writeNextChunk();
  void linger();

  HttpsServer::Impl* server_;  // outlives its connections: they live in its io_context
  beast::ssl_stream<beast::tcp_stream> stream_;
  asio::steady_timer timer_;
  uint64_t timer_generation_ = 0;
  beast::flat_buffer buffer_;
  std::string peer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  http::response<http::empty_body> stream_head_;
  std::optional<http::response_serializer<http::empty_body>> stream_serializer_;
  uint64_t serial_ = 0;  // the request being answered
  bool awaiting_answer_ = false;
  std::shared_ptr<Stream> event_stream_;
  std::deque<std::string> out_;
  bool writing_ = false;
  bool stream_ending_ = false;
  std::array<char, 1024> scratch_;
  size_t lingered_ = 0;
  bool closed_ = false;
};

void Stream::postToConnection(std::function<void(Connection&)> fn) {
  auto server = server_.lock();
  if (!server) return;  // the server is gone, and the connection with it
  asio::post(server->ioc, [weak = connection_, fn = std::move(fn)] {
    if (auto c = weak.lock(); c && !c->isClosed()) fn(*c);
  });
}

bool Stream::push(std::string chunk) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    if (queued_ + chunk.size() > max_queue_bytes_) {
      // The reader is too slow (or not reading at all): cut it rather than hold memory for it.
      closed_ = true;
      if (auto server = server_.lock()) ++server->counted.streams_cut;
      postToConnection([](Connection& c) { c.close(); });
      return false;
    }
    queued_ += chunk.size();
  }
  postToConnection(
      [chunk = std::move(chunk)](Connection& c) mutable { c.queueChunk(std::move(chunk)); });
  return true;
}

void Stream::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  postToConnection([](Connection& c) { c.endStream(); });
}

void Connection::arm(std::chrono::milliseconds d) {
  const uint64_t generation = ++timer_generation_;
  timer_.expires_after(d);
  timer_.async_wait([self = shared_from_this(), generation](beast::error_code ec) {
    if (ec || self->closed_ || generation != self->timer_generation_) return;
    ++self->server_->counted.deadline_cuts;
    self->close();
  });
}

void Connection::close() {
  if (closed_) return;
  closed_ = true;
  auto self = shared_from_this();  // the set may hold the last reference
  ++timer_generation_;
  timer_.cancel();
  if (event_stream_) {
    event_stream_->markClosed();
    --server_->open_streams;
  }
  beast::error_code ignored;
  auto& socket = beast::get_lowest_layer(stream_).socket();
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
  server_->connections.erase(self);
}

void Connection::onDetect(beast::error_code ec, bool tls) {
  if (closed_) return;
  if (ec) return close();  // the client left, or sent nothing before the deadline
  if (!tls) {
    // The address the client reached, when the console listens on every address: the
    // configured one otherwise. Never the client's Host header.
    std::string host = server_->listen_host;
    if (host.empty()) {
      beast::error_code e;
      const auto local = beast::get_lowest_layer(stream_).socket().local_endpoint(e).address();
      const std::string text = peerText(local);
      host = local.is_v6() && !local.to_v6().is_v4_mapped() ? "[" + text + "]" : text;
    }
    return redirect(host);
  }
  stream_.async_handshake(ssl::stream_base::server, buffer_.data(),
                          [self = shared_from_this()](beast::error_code e, size_t used) {
                            self->onHandshake(e, used);
                          });
}

// Plain HTTP gets this one answer and nothing else: no request is read or handed on.
void Connection::redirect(const std::string& host) {
  ++server_->counted.plain_http_redirects;
  response_ = {};
  response_.result(http::status::permanent_redirect);
  response_.version(11);
  response_.set(http::field::location,
                "https://" + host + ":" + std::to_string(server_->port.load()) + "/");
  response_.set(http::field::content_type, "text/plain; charset=utf-8");
  addSecurityHeaders(response_);
  response_.keep_alive(false);
  response_.body() = "The console answers over HTTPS only.\n";
  response_.prepare_payload();
  http::async_write(stream_.next_layer(), response_,
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      if (ec) return self->close();
                      self->linger();
                    });
}

void Connection::onHandshake(beast::error_code ec, size_t used) {
  if (closed_) return;
  if (ec) {
    ++server_->counted.handshake_failures;
    return close();
  }
  buffer_.consume(used);
  awaitRequest();
}

// Between requests the connection may be idle for idle_deadline; once the first byte of a
// request arrives, the whole request has request_deadline. The byte is read through TLS, not
// waited for on the socket: OpenSSL may already hold it, read with the handshake's last record.
void Connection::awaitRequest() {
  if (buffer_.size() > 0) return readRequest();  // a pipelined request is already here
  arm(server_->options.idle_deadline);
  stream_.async_read_some(buffer_.prepare(1024),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            if (self->closed_) return;
                            if (ec) return self->close();  // the client left
                            self->buffer_.commit(n);
                            self->readRequest();
                          });
}

void Connection::readRequest() {
  arm(server_->options.request_deadline);
  parser_.emplace();
  parser_->header_limit(static_cast<uint32_t>(server_->options.max_header_bytes));
  parser_->body_limit(server_->options.max_body_bytes);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, size_t) { self->onRead(ec); });
}

void Connection::onRead(beast::error_code ec) {
  if (closed_) return;
  const auto& limits = server_->options;
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    ++server_->counted.oversized;
    return refuse(431, "request line and headers are limited to " +
                           std::to_string(limits.max_header_bytes) + " bytes\n");
  }
  if (ec == http::error::body_limit) {
    ++server_->counted.oversized;
    return refuse(
        413, "a request body is limited to " + std::to_string(limits.max_body_bytes) + " bytes\n");
  }
  if (ec == http::error::end_of_stream || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
      ec == ssl::error::stream_truncated) {
    return close();  // the client left, or the deadline cut it
  }
  if (ec) {
    ++server_->counted.bad_requests;
    return refuse(400, "bad request: " + ec.message() + "\n");
  }
  ++server_->counted.requests;
  const uint64_t serial = ++serial_;
  awaiting_answer_ = true;
  // The answer may come from any thread, at any time, or never (the deadline then cuts the
  // connection). It holds the server and the connection only weakly.
  Respond respond = [weak_server = server_->self, weak = weak_from_this(), serial,
                     once = std::make_shared<std::atomic<bool>>(false)](Response r) {
    if (once->exchange(true)) return;
    auto server = weak_server.lock();
    if (!server) return;  // stopped and gone: nobody to answer
    asio::post(server->ioc, [weak, serial, r = std::move(r)]() mutable {
      if (auto self = weak.lock()) self->answer(serial, std::move(r));
    });
  };
  try {
    server_->handler(requestOf(parser_->release(), peer_), std::move(respond));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "muzzled: web console: a request failed: %s\n", e.what());
    answer(serial, plainText(500, "the console failed on this request\n"));
  }
}

void Connection::answer(uint64_t serial, Response response) {
  if (closed_ || !awaiting_answer_ || serial != serial_) return;
  awaiting_answer_ = false;
  if (!response.on_stream) return write(std::move(response), true);
  if (server_->open_streams >= server_->options.max_streams) {
    ++server_->counted.streams_refused;
    return write(plainText(503, "too many live views open; close one and try again\n"), true);
  }
  startStream(std::move(response));
}

void Connection::refuse(int status, std::string body) {
  // The rest of what the client sent cannot be read as a request: answer and close.
  write(plainText(status, std::move(body)), false);
}

void Connection::write(Response r, bool keep_alive) {
  response_ = {};
  response_.result(static_cast<unsigned>(r.status));
  response_.version(11);
  for (auto& [name, value] : r.headers) response_.insert(name, value);
  response_.set(http::field::content_type, r.content_type);
  addSecurityHeaders(response_);
  keep_alive = keep_alive && parser_ && parser_->get().keep_alive();
  response_.keep_alive(keep_alive);
  response_.body() = std::move(r.body);
  response_.prepare_payload();
  http::async_write(stream_, response_,
                    [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                      if (self->closed_) return;
                      if (ec) return self->close();
                      if (keep_alive) return self->awaitRequest();
                      self->linger();
                    });
}

// The status and headers, no length: the body is the events, until the stream ends.
void Connection::startStream(Response r) {
  ++server_->open_streams;
  event_stream_ = std::make_shared<Stream>(server_->self, weak_from_this(),
                                           server_->options.max_stream_queue_bytes);
  stream_head_ = {};
  stream_head_.result(static_cast<unsigned>(r.status));
  stream_head_.version(11);
  for (auto& [name, value] : r.headers) stream_head_.insert(name, value);
  stream_head_.set(http::field::content_type, "text/event-stream");
  stream_head_.set(http::field::cache_control, "no-store");
  addSecurityHeaders(stream_head_);
  stream_serializer_.emplace(stream_head_);
  http::async_write_header(
      stream_, *stream_serializer_,
      [self = shared_from_this(), on_stream = std::move(r.on_stream)](beast::error_code ec,
                                                                      size_t) {
        if (self->closed_) return;
        if (ec) return self->close();
        // A stream lives as long as the console keeps it: no request deadline now.
        ++self->timer_generation_;
        self->timer_.cancel();
        self->readWhileStreaming();
        try {
          on_stream(self->event_stream_);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "muzzled: web console: a live view failed: %s\n", e.what());
          self->close();
        }
      });
}

// A stream's client sends nothing more; reading is how its leaving is noticed.
void Connection::readWhileStreaming() {
  stream_.async_read_some(asio::buffer(scratch_),
                          [self = shared_from_this()](beast::error_code ec, size_t) {
                            if (self->closed_) return;
                            if (ec) return self->close();
                            self->readWhileStreaming();
                          });
}

void Connection::queueChunk(std::string chunk) {
  if (stream_ending_) return;
  out_.push_back(std::move(chunk));
  if (!writing_) writeNextChunk();
}

void Connection::writeNextChunk() {
  if (out_.empty()) {
    writing_ = false;
    if (stream_ending_) close();
    return;
  }
  writing_ = true;
  asio::async_write(stream_, asio::buffer(out_.front()),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      if (self->closed_) return;
                      self->event_stream_->written(self->out_.front().size());
                      self->out_.pop_front();
                      if (ec) return self->close();
                      self->writeNextChunk();
                    });
}

// Closing a socket with unread bytes (the rest of a header past the limit, a body) resets the
// connection, and the client may lose the answer with it. So: send FIN, read and discard what
// still comes (at most kLingerBytes, within the deadline) until the client closes too.
void Connection::linger() {
  auto& socket = beast::get_lowest_layer(stream_).socket();
  beast::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  if (lingered_ >= kLingerBytes) return close();
  socket.async_read_some(asio::buffer(scratch_),
                         [self = shared_from_this()](beast::error_code ec, size_t n) {
                           self->lingered_ += n;
                           if (ec) return self->close();
                           self->linger();
                         });
}

void HttpsServer::Impl::accept() {
  acceptLoop(acceptor, retry, [this](tcp::socket socket) { admit(std::move(socket)); });
}

void HttpsServer::Impl::admit(tcp::socket socket) {
  beast::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec || connections.size() >= options.max_connections) {
    ++counted.refused_connections;
    socket.close(ec);
    return;
  }
  ++counted.connections;
  auto connection = std::make_shared<Connection>(this, std::move(socket), peerText(peer.address()));
  connections.insert(connection);
  connection->start();
}

void HttpsServer::Impl::closeAll() {
  beast::error_code ignored;
  acceptor.close(ignored);
  retry.cancel();
  auto open = connections;  // close() erases from the set
  for (const auto& c : open) c->close();
}

ServerCounters HttpsServer::Impl::counters() const {
  ServerCounters c;
  c.connections = counted.connections.load();
  c.refused_connections = counted.refused_connections.load();
  c.requests = counted.requests.load();
  c.plain_http_redirects = counted.plain_http_redirects.load();
  c.handshake_failures = counted.handshake_failures.load();
  c.deadline_cuts = counted.deadline_cuts.load();
  c.oversized = counted.oversized.load();
  c.bad_requests = counted.bad_requests.load();
  c.streams_refused = counted.streams_refused.load();
  c.streams_cut = counted.streams_cut.load();
  return c;
}

namespace {

// TLS 1.2 and 1.3 only, strong suites, no renegotiation (a client could make the box redo the
// expensive half of a handshake at will), the certificate and the key that goes with it.
Status configureTls(ssl::context& tls, const ServerOptions& o) {
  tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::single_dh_use);
  SSL_CTX* ctx = tls.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_cipher_list(ctx, kTls12Ciphers);
  auto bad = [](const std::string& what) {
    return Status::error(StatusCode::kInvalidArgument,
                         "management.web: " + what +
                             " (check the configured PEM files, or remove them to have the box "
                             "make its own)");
  };
  beast::error_code ec;
  tls.use_certificate_chain(asio::buffer(o.cert_pem), ec);
  if (ec) return bad("the certificate does not load: " + ec.message());
  tls.use_private_key(asio::buffer(o.key_pem), ssl::context::pem, ec);
  if (ec) return bad("the key does not load: " + ec.message());
  if (SSL_CTX_check_private_key(ctx) != 1) return bad("the key is not the certificate's");
  return Status();
}

}  // namespace

Result<std::unique_ptr<HttpsServer>> HttpsServer::start(ServerOptions options, Handler handler) {
  const std::string listen = options.listen;
  auto impl = std::make_shared<Impl>(std::move(options), std::move(handler));
  impl->self = impl;
  if (Status s = configureTls(impl->tls, impl->options); !s.ok()) return s;
  asio::ip::address address;
  if (Status s = listenOn(impl->acceptor, listen, kBacklog, "management.web.listen", &address);
      !s.ok()) {
    return s;
  }
  // The redirect names the configured address; for a wildcard, the one each client reached.
  impl->listen_host = address.is_unspecified() ? "" : listen.substr(0, listen.rfind(':'));
  impl->port = impl->acceptor.local_endpoint().port();
  impl->accept();
  auto server = std::unique_ptr<HttpsServer>(new HttpsServer());
  server->impl_ = impl;
  server->thread_ = std::thread([impl] {
    runAsBackgroundThread();
    // Nothing here should throw; if a library does, the console goes on serving the others.
    for (;;) {
      try {
        impl->ioc.run();
        return;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "muzzled: web console: %s\n", e.what());
      }
    }
  });
  pthread_setname_np(server->thread_.native_handle(), "muzzle-web");
  return server;
}

void HttpsServer::stop() {
  if (!thread_.joinable()) return;
  asio::post(impl_->ioc, [impl = impl_.get()] {
    impl->closeAll();
    impl->ioc.stop();
  });
  thread_.join();
}

HttpsServer::~HttpsServer() { stop(); }

uint16_t HttpsServer::port() const { return impl_->port.load(); }

ServerCounters HttpsServer::counters() const { return impl_->counters(); }

}  // namespace muzzle::web
