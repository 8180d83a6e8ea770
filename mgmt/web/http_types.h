// The console's HTTP exchange, between the HTTPS server (https_server.h), which owns the
// connections, and the console (console.h), which decides what to answer. Plain values: no
// Beast or OpenSSL type crosses this line, so the console is tested without sockets.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace muzzle::web {

struct Request {
  std::string method;         // "GET", "POST", ... as sent
  std::string path;           // the target before '?', as sent (not percent-decoded)
  std::string query;          // after '?', raw; "" when none
  std::string peer;           // the client's address, canonical text ("198.51.100.7", "fd00::7")
  std::string cookie;         // the Cookie header, raw
  std::string content_type;   // Content-Type
  std::string csrf;           // the X-CSRF-Token header
  std::string origin;         // the Origin header ("" when the browser sent none)
  std::string last_event_id;  // Last-Event-ID (a server-sent-events stream resuming)
  std::string body;           // at most the server's body limit
};

// An open server-sent-events answer. push() queues one chunk, already framed
// ("id: ...\ndata: ...\n\n"), for the connection's writer. Thread-safe and never blocks: it
// returns false once the stream is closed, or when the chunk would take the stream's queue past
// its bound — the stream is then closed (a reader too slow is cut, and counted), never waited on.
class EventStream {
 public:
  virtual ~EventStream() = default;
  virtual bool push(std::string chunk) = 0;
  virtual void close() = 0;  // ends the answer; idempotent
  virtual bool closed() const = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::string body;
  // Extra headers: Set-Cookie, Location, ... The server adds its security headers
  // (Content-Security-Policy, X-Content-Type-Options, ...) to every answer itself.
  std::vector<std::pair<std::string, std::string>> headers;
  // Set for a server-sent-events answer (`body` is then ignored): the server sends the status and
  // headers (`text/event-stream`, no length), then calls this once, on its own thread, with the
  // stream. The server closes the stream when the client goes or the server stops.
  std::function<void(std::shared_ptr<EventStream>)> on_stream;
};

// Answers one request: once, on any thread.
using Respond = std::function<void(Response)>;
// The console: called on the server's thread for each complete request; answers through
// `respond`, at once or later (after a management call). Must not block.
using Handler = std::function<void(Request, Respond)>;

}  // namespace muzzle::web
