// SyslogSink against collectors on unix sockets in a temp folder (no network): framing end to
// end, the queue bound and drop counting with a collector that never reads, a collector that is
// down and comes back, UDP datagrams, TLS file errors.
#include "mgmt/events/syslog_sink.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/support/memory_file.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using testing::MemoryFile;
using testing::TempDir;

// Waits for things another thread does. The deadline only keeps a broken build from hanging:
// checks never depend on how long something took.
constexpr auto kGuard = std::chrono::seconds(30);

template <typename Pred>
bool eventually(Pred pred) {
  const auto end = std::chrono::steady_clock::now() + kGuard;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// A unix socket of `type` bound to `path` (listening when a stream socket).
int unixSocket(const std::string& path, int type) {
  const int fd = ::socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
  if (type == SOCK_STREAM) REQUIRE(::listen(fd, 1) == 0);
  return fd;
}

// Reads from `fd` into `*buffer` until `done(*buffer)` (or the guard's deadline).
template <typename Pred>
bool readUntil(int fd, std::string* buffer, Pred done) {
  const auto end = std::chrono::steady_clock::now() + kGuard;
  while (!done(*buffer)) {
    if (std::chrono::steady_clock::now() > end) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char chunk[4096];
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n <= 0) return false;
    buffer->append(chunk, static_cast<size_t>(n));
  }
  return true;
}

// The messages of an octet-counted stream; stops at an incomplete frame.
std::vector<std::string> frames(std::string_view stream) {
  std::vector<std::string> out;
  while (!stream.empty()) {
    const size_t space = stream.find(' ');
    if (space == std::string_view::npos) break;
    const size_t len = std::stoul(std::string(stream.substr(0, space)));
    if (stream.size() < space + 1 + len) break;
    out.emplace_back(stream.substr(space + 1, len));
    stream.remove_prefix(space + 1 + len);
  }
  return out;
}

SyslogCollectorConfig collector(const char* target, uint32_t queue = 1024) {
  SyslogCollectorConfig c;
  std::string error;
  REQUIRE(parseSyslogTarget(target, &c.transport, &c.address, &c.port, &error));
  c.target = target;
  c.queue = queue;
  return c;
}

LogLine deny(int i) {
  return LogLine("deny")
      .add("device", "cam")
      .add("mac", "44:47:cc:00:00:11")
      .add("n", static_cast<uint64_t>(i));
}

struct Fixture {
  TempDir dir{"muzzle-syslog"};
  MemoryFile file;
  SystemClock clock;
  EventLog log{file.get(), clock};
  const SyslogOrigin origin{"gw1", 99, 16};

  std::string logText() {
    log.flush();
    return file.text();
  }
};

// A sink for a TCP collector at `path`, where nothing listens yet, once it knows it is down.
std::unique_ptr<SyslogSink> downSink(Fixture& f, const std::string& path, uint32_t queue) {
  auto sink = SyslogSink::start(collector("tcp://198.51.100.2:601", queue), f.origin, f.log,
                                f.clock, SyslogEndpoint::unixPath(path));
  REQUIRE(sink.ok());
  REQUIRE(eventually([&] { return (*sink)->status().state == "down"; }));
  return std::move(sink).value();
}

// The sink's connection once it has reconnected to `listener` (after its backoff).
int acceptReconnect(int listener) {
  int conn = -1;
  REQUIRE(eventually([&] {
    pollfd p{listener, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0 && (conn = ::accept(listener, nullptr, nullptr)) >= 0;
  }));
  return conn;
}

TEST_CASE("tcp: octet-counted RFC 5424 messages, in order, only the configured events") {
  Fixture f;
  const std::string path = f.dir / "collector";
  const int listener = unixSocket(path, SOCK_STREAM);
  SyslogCollectorConfig config = collector("tcp://198.51.100.2:601");
  config.events = {"deny", "new-device"};
  auto sink = SyslogSink::start(config, f.origin, f.log, f.clock, SyslogEndpoint::unixPath(path));
  REQUIRE(sink.ok());
  const int conn = ::accept(listener, nullptr, nullptr);
  REQUIRE(conn >= 0);

  (*sink)->onEvent(deny(1));
  (*sink)->onEvent(LogLine("allow").add("device", "cam"));  // not asked for
  (*sink)->onEvent(LogLine("new-device").add("mac", "44:47:cc:00:00:12"));
  (*sink)->onEvent(deny(2));
  std::string stream;
  REQUIRE(readUntil(conn, &stream, [](const std::string& s) { return frames(s).size() >= 3; }));
  const std::vector<std::string> got = frames(stream);
  REQUIRE(got.size() == 3);
  CHECK(got[0].rfind("<132>1 ", 0) == 0);
  CHECK(got[0].find(" gw1 muzzled 99 deny [muzzle@32473 event=\"deny\" device=\"cam\" "
                    "mac=\"44:47:cc:00:00:11\" n=\"1\"] event=deny") != std::string::npos);
  CHECK(got[1].rfind("<133>1 ", 0) == 0);  // local0, notice
  CHECK(got[1].find(" new-device [muzzle@32473 event=\"new-device\" mac=") != std::string::npos);
  CHECK(got[2].find("n=\"2\"") != std::string::npos);
  // The framing itself: "LEN SP MSG" back to back, LEN in bytes.
  CHECK(stream.rfind(std::to_string(got[0].size()) + " <132>1 ", 0) == 0);

  REQUIRE(eventually([&] { return (*sink)->status().sent == 3; }));
  const SyslogCollectorStatus st = (*sink)->status();
  CHECK(st.target == "tcp://198.51.100.2:601");
  CHECK(st.state == "connected");
  CHECK(st.dropped == 0);
  CHECK(st.queued == 0);
  CHECK(st.last_error.empty());
  sink->reset();
  ::close(conn);
  ::close(listener);
}

TEST_CASE(
    "a collector that never reads: the queue stays bounded, the rest is dropped and counted") {
  Fixture f;
  const std::string path = f.dir / "collector";
  const int listener = unixSocket(path, SOCK_STREAM);  // never accepted, never read
  auto sink = SyslogSink::start(collector("tcp://198.51.100.2:601", 8), f.origin, f.log, f.clock,
                                SyslogEndpoint::unixPath(path));
  REQUIRE(sink.ok());
  REQUIRE(eventually([&] { return (*sink)->status().state == "connected"; }));
  // Far more than the kernel holds for a connection nobody accepts (its socket buffer, ~200 KB,
  // against ~3 MB offered): onEvent never waits for the collector, and the queue never grows.
  constexpr uint64_t kOffered = 20000;
  uint64_t most_queued = 0;
  for (uint64_t i = 0; i < kOffered; ++i) {
    (*sink)->onEvent(deny(static_cast<int>(i)));
    if (i % 64 == 0) most_queued = std::max(most_queued, (*sink)->status().queued);
  }
  const SyslogCollectorStatus st = (*sink)->status();
  CHECK(st.sent + st.dropped + st.queued == kOffered);  // every line is accounted for
  CHECK(most_queued <= 16);  // the queue (8) and a write of at most as many in flight
  CHECK(st.queued <= 16);
  CHECK(st.dropped > kOffered / 2);
  sink->reset();
  ::close(listener);
}

TEST_CASE("a collector that is down: lines wait in the queue, the rest is dropped; it comes back") {
  Fixture f;
  const std::string path = f.dir / "collector";
  auto sink = downSink(f, path, 4);
  for (int i = 0; i < 20; ++i) sink->onEvent(deny(i));
  SyslogCollectorStatus st = sink->status();
  CHECK(st.dropped == 16);
  CHECK(st.queued == 4);
  CHECK(st.sent == 0);
  CHECK(st.last_error.find("cannot connect: ") == 0);
  REQUIRE(eventually([&] { return f.logText().find("event=syslog-down") != std::string::npos; }));
  CHECK(f.logText().find("event=syslog-down collector=tcp://198.51.100.2:601 error=\"cannot "
                         "connect: ") != std::string::npos);

  // The collector starts: the sink reconnects (after its backoff) and sends what waited.
  const int listener = unixSocket(path, SOCK_STREAM);
  std::string stream;
  const int conn = acceptReconnect(listener);
  REQUIRE(readUntil(conn, &stream, [](const std::string& s) { return frames(s).size() >= 4; }));
  const std::vector<std::string> got = frames(stream);
  CHECK(got.front().find("n=\"0\"") != std::string::npos);
  CHECK(got.back().find("n=\"3\"") != std::string::npos);
  REQUIRE(eventually([&] { return sink->status().sent == 4; }));
  CHECK(sink->status().state == "connected");
  REQUIRE(eventually([&] { return f.logText().find("event=syslog-up") != std::string::npos; }));
  // The syslog-down line was written once for this outage, however many retries failed.
  const std::string text = f.logText();
  CHECK(text.find("event=syslog-down") == text.rfind("event=syslog-down"));
  sink.reset();
  ::close(conn);
  ::close(listener);
}

TEST_CASE("a full queue still takes the collector's own syslog-up and syslog-down lines") {
  Fixture f;
  auto sink = downSink(f, f.dir / "collector", 4);
  for (int i = 0; i < 10; ++i) sink->onEvent(deny(i));
  REQUIRE(sink->status().queued == 4);
  REQUIRE(sink->status().dropped == 6);
  // Another collector's status line is just a line: dropped.
  sink->onEvent(LogLine("syslog-up").add("collector", "tls://198.51.100.2:6514"));
  CHECK(sink->status().dropped == 7);
  // Its own: kept, up to the reserve.
  sink->onEvent(LogLine("syslog-down").add("collector", "tcp://198.51.100.2:601"));
  sink->onEvent(LogLine("syslog-up").add("collector", "tcp://198.51.100.2:601"));
  CHECK(sink->status().queued == 4 + SyslogSink::kStatusReserve);
  CHECK(sink->status().dropped == 7);
  sink->onEvent(LogLine("syslog-up").add("collector", "tcp://198.51.100.2:601"));
  CHECK(sink->status().dropped == 8);
  sink.reset();
}

TEST_CASE("a collector back after an outage gets the backlog, then the syslog-up line") {
  Fixture f;
  const std::string path = f.dir / "collector";  // nothing listens yet
  auto started = SyslogSink::start(collector("tcp://198.51.100.2:601", 4), f.origin, f.log,
                                   f.clock, SyslogEndpoint::unixPath(path));
  REQUIRE(started.ok());
  std::unique_ptr<SyslogSink> sink = std::move(started).value();
  f.log.addConsumer(*sink);  // as muzzled does: it sees its own status lines
  REQUIRE(eventually([&] { return f.logText().find("event=syslog-down") != std::string::npos; }));
  for (int i = 0; i < 20; ++i) sink->onEvent(deny(i));  // the queue is full
  const uint64_t dropped = sink->status().dropped;
  CHECK(dropped >= 16);

  const int listener = unixSocket(path, SOCK_STREAM);
  const int conn = acceptReconnect(listener);
  std::string stream;
  REQUIRE(readUntil(conn, &stream, [](const std::string& s) {
    const auto got = frames(s);
    return !got.empty() && got.back().find(" syslog-up [") != std::string::npos;
  }));
  const std::vector<std::string> got = frames(stream);
  // The lines that waited came first (the syslog-down line may be among them: whether the sink
  // was a consumer before the first connect failed is up to the threads).
  CHECK(got.size() >= 4 + 1);
  CHECK(got[got.size() - 2].find(" deny [") != std::string::npos);
  CHECK(got.back().find("collector=\"tcp://198.51.100.2:601\" dropped=\"" +
                        std::to_string(dropped) + "\"") != std::string::npos);
  f.log.removeConsumer(*sink);
  sink.reset();
  ::close(conn);
  ::close(listener);
}

TEST_CASE("udp: one datagram per message, cut at 2048 bytes") {
  Fixture f;
  const std::string path = f.dir / "collector";
  const int collector_fd = unixSocket(path, SOCK_DGRAM);
  auto sink = SyslogSink::start(collector("udp://198.51.100.2:514"), f.origin, f.log, f.clock,
                                SyslogEndpoint::unixPath(path));
  REQUIRE(sink.ok());
  (*sink)->onEvent(deny(1));
  (*sink)->onEvent(
      LogLine("new-device").add("dhcp_hostname", std::string(3000, 'h')).add("x", "y"));
  char buf[65536];
  std::vector<std::string> got;
  for (int i = 0; i < 2; ++i) {
    pollfd p{collector_fd, POLLIN, 0};
    REQUIRE(::poll(&p, 1, static_cast<int>(kGuard.count() * 1000)) == 1);
    const ssize_t n = ::recv(collector_fd, buf, sizeof(buf), 0);
    REQUIRE(n > 0);
    got.emplace_back(buf, static_cast<size_t>(n));
  }
  CHECK(got[0].rfind("<132>1 ", 0) == 0);
  CHECK(got[0].find("n=\"1\"] event=deny") != std::string::npos);
  CHECK(got[1].size() <= 2048);
  CHECK(got[1].find("cut=\"2\"]") != std::string::npos);  // the host name and x left out
  REQUIRE(eventually([&] { return (*sink)->status().sent == 2; }));
  CHECK((*sink)->status().state == "ready");
  sink->reset();
  ::close(collector_fd);
}

TEST_CASE("tls: a CA file that cannot be read is an error naming the field and the file") {
  Fixture f;
  SyslogCollectorConfig config = collector("tls://198.51.100.2:6514");
  config.ca = f.dir / "missing-ca.pem";
  auto sink = SyslogSink::start(config, f.origin, f.log, f.clock);
  REQUIRE_FALSE(sink.ok());
  CHECK(sink.status().message().find("syslog tls://198.51.100.2:6514: ca " + config.ca + ": ") ==
        0);
}

TEST_CASE("reconnect backoff: doubling from 1 s, capped at 30 s") {
  std::chrono::milliseconds b = SyslogSink::kMinBackoff;
  std::vector<long> seen;
  for (int i = 0; i < 7; ++i) {
    seen.push_back(static_cast<long>(b.count()));
    b = SyslogSink::nextBackoff(b);
  }
  CHECK(seen == std::vector<long>{1000, 2000, 4000, 8000, 16000, 30000, 30000});
}

}  // namespace
}  // namespace muzzle
