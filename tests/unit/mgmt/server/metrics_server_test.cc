// The /metrics endpoint (mgmt/server/metrics_server.h) on a loopback socket inside this process:
// what it answers, what it refuses, its bounds; and management.metrics checked as config.
#include "mgmt/server/metrics_server.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <mutex>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

MetricsOptions loopback(const std::string& allow = "127.0.0.1") {
  MetricsOptions o;
  o.listen = "127.0.0.1:0";
  o.allow.add(*Cidr::parse(allow));
  o.allow.finalize();
  return o;
}

// Answers every scrape at once with a snapshot naming version "test".
MetricsServer::Collect fixed() {
  return [](MetricsServer::Done done) {
    MetricsSnapshot s;
    s.version = "test";
    done(std::move(s));
  };
}

std::unique_ptr<MetricsServer> startServer(MetricsOptions o, MetricsServer::Collect c = fixed()) {
  auto server = MetricsServer::start(std::move(o), std::move(c));
  REQUIRE(server.ok());
  return std::move(server).value();
}

int connectTo(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  // Only a guard against a hung test; no assertion depends on it.
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) == 0);
  return fd;
}

// Everything the server sends until it closes the connection.
std::string readAll(int fd) {
  std::string got;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return got;
}

std::string exchange(uint16_t port, const std::string& request) {
  const int fd = connectTo(port);
  // The server may close before it read everything (a refused peer, a header too large).
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  return readAll(fd);
}

std::string get(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: box\r\nAccept: text/plain\r\n\r\n";
}

TEST_CASE("GET /metrics answers the exposition text, one request per connection") {
  auto server = startServer(loopback());
  const std::string first = exchange(server->port(), get("/metrics"));
  CHECK(first.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(first.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") !=
        std::string::npos);
  CHECK(first.find("Connection: close\r\n") != std::string::npos);
  CHECK(first.find("\r\n\r\n# HELP muzzle_build_info ") != std::string::npos);
  CHECK(first.find("\nmuzzle_build_info{version=\"test\"} 1\n") != std::string::npos);
  // The endpoint's own counters come with the snapshot; a query string is ignored.
  const std::string second = exchange(server->port(), get("/metrics?name[]=x"));
  CHECK(second.find("\nmuzzle_metrics_connections_total{outcome=\"served\"} 2\n") !=
        std::string::npos);
  CHECK(server->counters().served == 2);
}

TEST_CASE("another path is 404, another method 405, garbage 400") {
  auto server = startServer(loopback());
  CHECK(exchange(server->port(), get("/")).rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
  CHECK(exchange(server->port(), get("/metrics/x")).rfind("HTTP/1.1 404 ", 0) == 0);
  const std::string post =
      exchange(server->port(), "POST /metrics HTTP/1.1\r\nHost: box\r\nContent-Length: 0\r\n\r\n");
  CHECK(post.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0) == 0);
  CHECK(post.find("Allow: GET\r\n") != std::string::npos);
  CHECK(exchange(server->port(), "HEAD /metrics HTTP/1.1\r\nHost: box\r\n\r\n")
            .rfind("HTTP/1.1 405 ", 0) == 0);
  CHECK(exchange(server->port(), "\x16\x03\x01 not http\r\n\r\n").rfind("HTTP/1.1 400 ", 0) == 0);
  // A body is never read.
  CHECK(exchange(server->port(), "GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
            .rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(server->counters().bad_request == 6);
  CHECK(server->counters().served == 0);
}

TEST_CASE("a request line and headers over 8 KiB are refused with 431") {
  auto server = startServer(loopback());
  const std::string big =
      "GET /metrics HTTP/1.1\r\nHost: box\r\nX-Pad: " + std::string(9000, 'a') + "\r\n\r\n";
  CHECK(exchange(server->port(), big).rfind("HTTP/1.1 431 ", 0) == 0);
  const std::string long_target = get("/metrics?" + std::string(9000, 'a'));
  CHECK(exchange(server->port(), long_target).rfind("HTTP/1.1 431 ", 0) == 0);
  // Just under the limit is fine.
  const std::string fits =
      "GET /metrics HTTP/1.1\r\nHost: box\r\nX-Pad: " + std::string(7000, 'a') + "\r\n\r\n";
  CHECK(exchange(server->port(), fits).rfind("HTTP/1.1 200 ", 0) == 0);
}

TEST_CASE("a peer outside the allow list is closed before a byte is read, and counted") {
  auto server = startServer(loopback("198.51.100.0/24"));
  CHECK(exchange(server->port(), get("/metrics")).empty());
  CHECK(server->counters().refused_peer == 1);
  CHECK(server->counters().served == 0);
}

TEST_CASE("a slow client is cut at the deadline, and counted") {
  MetricsOptions o = loopback();
  o.deadline = std::chrono::milliseconds(200);
  auto server = startServer(std::move(o));
  // Half a request, then silence: the server closes (readAll returns) without answering.
  CHECK(exchange(server->port(), "GET /metrics HTTP/1.1\r\nHost: b").empty());
  CHECK(server->counters().timed_out == 1);
}

TEST_CASE("connections past the limit are closed at once, and counted") {
  MetricsOptions o = loopback();
  o.max_connections = 1;
  auto server = startServer(std::move(o));
  const int holder = connectTo(server->port());  // admitted first: accepted in order
  CHECK(exchange(server->port(), get("/metrics")).empty());
  CHECK(server->counters().busy == 1);
  ::close(holder);
}

TEST_CASE(
    "an engine that does not answer: the scrape is cut at the deadline; a late answer "
    "after stop() is harmless") {
  std::mutex mu;
  MetricsServer::Done kept;
  MetricsOptions o = loopback();
  o.deadline = std::chrono::milliseconds(200);
  auto server = startServer(std::move(o), [&](MetricsServer::Done done) {
    std::lock_guard<std::mutex> lock(mu);
    kept = std::move(done);
  });
  CHECK(exchange(server->port(), get("/metrics")).empty());
  CHECK(server->counters().timed_out == 1);
  server.reset();
  std::lock_guard<std::mutex> lock(mu);
  REQUIRE(kept);
  kept(MetricsSnapshot{});  // the server is gone: nothing happens
}

DaemonConfig configOf(const std::string& yaml) {
  auto c = parseDaemonConfig(yaml, "muzzled.yaml", "/etc/muzzle");
  REQUIRE_MESSAGE(c.ok(), c.status().message());
  return *c;
}

const char kSegments[] = "segments: [{name: cams, interface: br-cam}]\npolicy: p.yaml\n";

TEST_CASE("management.metrics: a segment's address is refused in every spelling") {
  const std::vector<std::string> segment_addresses{"198.18.10.1", "fd00:10::1"};
  for (const char* listen : {"198.18.10.1:9464", "198.18.2561:9464", "[::ffff:198.18.10.1]:9464",
                             "[fd00:10:0::1]:9464", "0.0.0.0:9464", "[::]:9464"}) {
    CAPTURE(listen);
    const DaemonConfig c =
        configOf(std::string(kSegments) + "management:\n  metrics:\n    listen: \"" + listen +
                 "\"\n    allow: [198.51.100.7]\n");
    auto options = metricsOptionsOf(c, segment_addresses);
    REQUIRE_FALSE(options.ok());
    // The file, the line and the field.
    CHECK(options.status().message().rfind("muzzled.yaml:5: management.metrics.listen: ", 0) == 0);
  }
  const DaemonConfig ok = configOf(std::string(kSegments) +
                                   "management:\n  metrics:\n    listen: 198.51.100.1:9464\n"
                                   "    allow: [198.51.100.7, \"2001:db8::/64\"]\n");
  auto options = metricsOptionsOf(ok, segment_addresses);
  REQUIRE(options.ok());
  CHECK(options->listen == "198.51.100.1:9464");
  CHECK(options->allow.contains(*IpAddress::parse("198.51.100.7")));
  CHECK_FALSE(options->allow.contains(*IpAddress::parse("198.51.100.8")));
  CHECK(options->allow.contains(*IpAddress::parse("2001:db8::99")));
  // Off by default.
  auto off = metricsOptionsOf(configOf(kSegments), segment_addresses);
  REQUIRE(off.ok());
  CHECK(off->listen.empty());
}

TEST_CASE("management.metrics: allow is required, each entry a CIDR, and needs a listener") {
  auto bad = parseDaemonConfig(std::string(kSegments) +
                                   "management:\n  metrics:\n    listen: 198.51.100.1:9464\n"
                                   "    allow:\n      - 198.51.100.7\n      - everyone\n",
                               "muzzled.yaml", "/etc/muzzle");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() ==
        "muzzled.yaml:8: management.metrics.allow[1]: \"everyone\" is not an address or a CIDR "
        "(e.g. 198.51.100.0/24, fd00:1::/64)");
  auto missing = parseDaemonConfig(
      std::string(kSegments) + "management:\n  metrics:\n    listen: 198.51.100.1:9464\n",
      "muzzled.yaml", "/etc/muzzle");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message().find("management.metrics.allow: missing") != std::string::npos);
  auto alone = parseDaemonConfig(
      std::string(kSegments) + "management:\n  metrics:\n    allow: [198.51.100.7]\n",
      "muzzled.yaml", "/etc/muzzle");
  REQUIRE_FALSE(alone.ok());
  CHECK(alone.status().message().find("muzzled.yaml:5: management.metrics.allow: set, but") == 0);
}

}  // namespace
}  // namespace muzzle
