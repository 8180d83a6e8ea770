// HttpsServer: the web console's listener (management.web), HTTP/1.1 over TLS with Boost.Beast
// and Boost.Asio's OpenSSL stream, on its own thread and io_context. It owns the connections and
// hands each complete request to the console's Handler (http_types.h); it never touches engine
// state.
//
// Everything a client can drive is bounded:
//  - at most `max_connections` connections at once (others are closed at accept, counted);
//  - a connection that does not start with a TLS handshake gets one plain-HTTP answer, a 308
//    redirect to https://<listen>/ (the configured address, never the client's Host header),
//    then is closed; nothing else is ever answered over plain HTTP;
//  - the TLS handshake, and each request's line, headers and body, must arrive within
//    `request_deadline` (a slowloris client is cut), an idle keep-alive connection is closed
//    after `idle_deadline`;
//  - request line and headers at most `max_header_bytes` (431), a body at most
//    `max_body_bytes` (413);
//  - server-sent-events streams at most `max_streams` at once (503 beyond), each with a queue of
//    at most `max_stream_queue_bytes` (a reader that falls behind is cut).
// Every answer carries the console's security headers: a Content-Security-Policy that allows
// only the box's own scripts, styles and images, X-Content-Type-Options: nosniff,
// X-Frame-Options: DENY, Referrer-Policy: no-referrer, Strict-Transport-Security, and
// Cache-Control: no-store.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "fw/common/status.h"
#include "mgmt/web/http_types.h"

namespace muzzle::web {

struct ServerOptions {
  std::string listen;    // canonical "198.18.0.1:8443" / "[fd00::1]:8443" (port 0: any)
  std::string cert_pem;  // the certificate chain and key the server presents (tls_identity.h)
  std::string key_pem;
  size_t max_connections = 64;
  size_t max_header_bytes = 8192;
  size_t max_body_bytes = 64 * 1024;
  std::chrono::milliseconds request_deadline{10000};
  std::chrono::milliseconds idle_deadline{30000};
  size_t max_streams = 16;
  size_t max_stream_queue_bytes = 256 * 1024;
};

// What clients did, for GetStatus and the tests.
struct ServerCounters {
  uint64_t connections = 0;             // accepted
  uint64_t refused_connections = 0;     // over max_connections
  uint64_t requests = 0;                // handed to the handler
  uint64_t plain_http_redirects = 0;
  uint64_t handshake_failures = 0;
  uint64_t deadline_cuts = 0;           // request_deadline or idle_deadline passed
  uint64_t oversized = 0;               // 431 and 413 answers
  uint64_t bad_requests = 0;            // 400: not HTTP/1.x
  uint64_t streams_refused = 0;         // over max_streams
  uint64_t streams_cut = 0;             // a stream's queue overflowed
};

class HttpsServer {
 public:
  // Binds and starts the thread. kInvalidArgument for a certificate or key that does not load,
  // kUnavailable naming the address when it cannot bind.
  static Result<std::unique_ptr<HttpsServer>> start(ServerOptions options, Handler handler);
  ~HttpsServer();  // stop()
  // Closes the listener, every connection and every stream, and joins the thread. Idempotent.
  void stop();

  uint16_t port() const;
  ServerCounters counters() const;

  class Impl;  // https_server.cc

 private:
  HttpsServer() = default;
  std::shared_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace muzzle::web
