// JournalSink against a stand-in for journald's socket (a unix datagram socket in a temp
// folder): the exact native-protocol entry, the events filter, and a journal that does not read
// or is not there (entries dropped and counted, onEvent never waits).
#include "mgmt/events/journal_sink.h"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <string>

#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using testing::TempDir;

// A bound unix datagram socket at `path`, read by the test.
class FakeJournal {
 public:
  explicit FakeJournal(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
    timeval timeout{2, 0};  // a missing entry fails the test instead of hanging it
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~FakeJournal() { ::close(fd_); }
  std::string receive() {
    std::string buf(65536, '\0');
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    return n < 0 ? "<nothing>" : buf.substr(0, static_cast<size_t>(n));
  }

 private:
  int fd_ = -1;
};

// The fields of an entry, both forms decoded (a repeated name keeps the last value).
std::map<std::string, std::string> fieldsOf(std::string_view entry) {
  std::map<std::string, std::string> out;
  while (!entry.empty()) {
    const size_t nl = entry.find('\n');
    REQUIRE(nl != std::string_view::npos);
    const std::string_view head = entry.substr(0, nl);
    const size_t eq = head.find('=');
    if (eq != std::string_view::npos) {
      out[std::string(head.substr(0, eq))] = std::string(head.substr(eq + 1));
      entry.remove_prefix(nl + 1);
      continue;
    }
    REQUIRE(entry.size() >= nl + 1 + 8);
    uint64_t len = 0;
    for (int i = 7; i >= 0; --i) len = (len << 8) | static_cast<uint8_t>(entry[nl + 1 + i]);
    REQUIRE(entry.size() >= nl + 9 + len + 1);
    out[std::string(head)] = std::string(entry.substr(nl + 9, len));
    CHECK(entry[nl + 9 + len] == '\n');
    entry.remove_prefix(nl + 9 + len + 1);
  }
  return out;
}

LogLine deny() {
  LogLine line = LogLine("deny")
                     .add("device", "lobby-cam")
                     .add("mac", "44:47:cc:00:00:11")
                     .add("dst", "203.0.113.10:443")
                     .add("rule-kind", "otherwise");
  line.setTime(std::chrono::system_clock::time_point(std::chrono::seconds(1798761600)));
  return line;
}

TEST_CASE("an event is one entry: MESSAGE, PRIORITY, MUZZLE_EVENT and a field per key") {
  const auto f = fieldsOf(formatJournalEntry(deny()));
  CHECK(f.at("MESSAGE") == deny().text().substr(0, deny().text().find_last_not_of('\n') + 1));
  CHECK(f.at("PRIORITY") == "4");  // a denial is a warning, as in syslog
  CHECK(f.at("SYSLOG_IDENTIFIER") == "muzzled");
  CHECK(f.at("MUZZLE_EVENT") == "deny");
  CHECK(f.at("MUZZLE_TIME") == "2027-01-01T00:00:00.000000Z");
  CHECK(f.at("MUZZLE_DEVICE") == "lobby-cam");
  CHECK(f.at("MUZZLE_MAC") == "44:47:cc:00:00:11");
  CHECK(f.at("MUZZLE_DST") == "203.0.113.10:443");
  CHECK(f.at("MUZZLE_RULE_KIND") == "otherwise");  // '-' becomes '_'
  CHECK(f.size() == 9);
}

TEST_CASE("a value with a newline cannot start a field of its own") {
  LogLine line = LogLine("policy-refused").add("error", "line 3\nMUZZLE_EVENT=allow");
  const std::string entry = formatJournalEntry(line);
  const auto f = fieldsOf(entry);
  CHECK(f.at("MUZZLE_ERROR") == "line 3\nMUZZLE_EVENT=allow");  // the length-prefixed form
  CHECK(f.at("MUZZLE_EVENT") == "policy-refused");
  CHECK(entry.find("\nMUZZLE_ERROR=") == std::string::npos);
}

TEST_CASE("keys that cannot be journal field names are left out; EVENT and TIME stay ours") {
  LogLine line = LogLine("deny").add("event", "allow").add("time", "x").add("bad key", "v").add(
      std::string(60, 'k'), "too long");
  const auto f = fieldsOf(formatJournalEntry(line));
  CHECK(f.at("MUZZLE_EVENT") == "deny");
  CHECK(f.at("MUZZLE_TIME") != "x");
  CHECK(f.size() == 5);  // MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, MUZZLE_EVENT, MUZZLE_TIME
}

TEST_CASE("the sink sends the entries the config asks for, one datagram each") {
  TempDir dir("muzzle-journal");
  const std::string path = dir / "socket";
  FakeJournal journal(path);
  JournalConfig config;
  config.enabled = true;
  config.events = {"deny"};
  auto sink = JournalSink::open(config, path);
  REQUIRE(sink.ok());
  (*sink)->onEvent(LogLine("new-device").add("mac", "44:47:cc:00:00:12"));  // not asked for
  (*sink)->onEvent(deny());
  CHECK(fieldsOf(journal.receive()).at("MUZZLE_MAC") == "44:47:cc:00:00:11");
  const JournalStatus st = (*sink)->status();
  CHECK(st.sent == 1);
  CHECK(st.dropped == 0);
  CHECK_FALSE(st.failing);
}

TEST_CASE("a journal that does not read: entries are dropped and counted, never waited for") {
  TempDir dir("muzzle-journal");
  const std::string path = dir / "socket";
  FakeJournal journal(path);  // never read
  JournalConfig config;
  config.enabled = true;
  auto sink = JournalSink::open(config, path);
  REQUIRE(sink.ok());
  // Far more than a unix datagram socket queues (net.unix.max_dgram_qlen, 512 at most here):
  // were onEvent to wait, this would hang until the guard's timeout in ctest.
  constexpr uint64_t kOffered = 5000;
  for (uint64_t i = 0; i < kOffered; ++i) (*sink)->onEvent(deny());
  const JournalStatus st = (*sink)->status();
  CHECK(st.sent + st.dropped == kOffered);
  CHECK(st.dropped > 0);
  CHECK(st.failing);
  CHECK(st.last_error == "sending to " + path + ": the journal's socket queue is full");
}

TEST_CASE("no journal at the socket: dropped and counted, the error names the socket") {
  TempDir dir("muzzle-journal");
  const std::string path = dir / "nobody";
  JournalConfig config;
  config.enabled = true;
  auto sink = JournalSink::open(config, path);
  REQUIRE(sink.ok());
  (*sink)->onEvent(deny());
  const JournalStatus st = (*sink)->status();
  CHECK(st.sent == 0);
  CHECK(st.dropped == 1);
  CHECK(st.last_error.find("sending to " + path + ": ") == 0);
}

}  // namespace
}  // namespace muzzle
