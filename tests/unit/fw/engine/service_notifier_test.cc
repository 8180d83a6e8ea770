// SystemdNotifier against a fake $NOTIFY_SOCKET: a unix datagram socket this test binds and names
// in the environment (SystemdNotifier reads it there, on every notify), so the exact bytes systemd would receive are
// checked.
#include "fw/engine/service_notifier.h"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using std::chrono::microseconds;

// A bound datagram socket standing in for systemd's notify socket.
class FakeNotifySocket {
 public:
  // `name` is a path, or '@' + an abstract name.
  explicit FakeNotifySocket(std::string name) : name_(std::move(name)) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name_.data(), name_.size());
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    if (name_[0] == '@') {
      addr.sun_path[0] = '\0';
    } else {
      len += 1;
    }
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    timeval timeout{2, 0};  // a missing datagram fails the test instead of hanging it
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~FakeNotifySocket() {
    close(fd_);
    if (name_[0] != '@') unlink(name_.c_str());
  }
  std::string receive() {
    char buf[1024];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n < 0 ? "<nothing>" : std::string(buf, static_cast<size_t>(n));
  }

 private:
  std::string name_;
  int fd_ = -1;
};

// Sets $NOTIFY_SOCKET for one test case and removes it afterwards (doctest runs cases in this
// process, one at a time).
class NotifySocketVariable {
 public:
  explicit NotifySocketVariable(const std::string& value) {
    setenv("NOTIFY_SOCKET", value.c_str(), 1);
  }
  NotifySocketVariable() { unsetenv("NOTIFY_SOCKET"); }
  ~NotifySocketVariable() { unsetenv("NOTIFY_SOCKET"); }
};

TEST_CASE("formatNotifyState joins fields and keeps a value from starting a new field") {
  CHECK(formatNotifyState({{"READY", "1"}, {"STATUS", "enforcing generation 3"}}) ==
        "READY=1\nSTATUS=enforcing generation 3");
  CHECK(formatNotifyState({{"STATUS", "bad\nREADY=1"}}) == "STATUS=bad READY=1");
  CHECK(formatNotifyState({}).empty());
}

TEST_CASE("a state message arrives as one datagram at a filesystem socket") {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("muzzle-notify-test-" + std::to_string(getpid())))
          .string();
  FakeNotifySocket fake(path);
  NotifySocketVariable variable(path);
  SystemdNotifier notifier(microseconds(0));
  REQUIRE(notifier.notify("READY=1\nSTATUS=idle").ok());
  REQUIRE(notifier.notify("WATCHDOG=1").ok());
  REQUIRE(notifier.notify("STOPPING=1").ok());
  CHECK(fake.receive() == "READY=1\nSTATUS=idle");
  CHECK(fake.receive() == "WATCHDOG=1");
  CHECK(fake.receive() == "STOPPING=1");
}

TEST_CASE("an abstract socket name ('@...') is addressed without the '@' or a NUL") {
  const std::string name = "@muzzle-notify-test-" + std::to_string(getpid());
  FakeNotifySocket fake(name);
  NotifySocketVariable variable(name);
  SystemdNotifier notifier(microseconds(0));
  REQUIRE(notifier.notify("STOPPING=1").ok());
  CHECK(fake.receive() == "STOPPING=1");
}

TEST_CASE("without NOTIFY_SOCKET, notify does nothing and succeeds") {
  NotifySocketVariable variable;
  SystemdNotifier notifier(microseconds(0));
  CHECK(notifier.notify("READY=1").ok());
}

TEST_CASE("a socket nobody listens on is an error naming it") {
  NotifySocketVariable variable("/nonexistent/muzzle/notify");
  SystemdNotifier notifier(microseconds(0));
  Status s = notifier.notify("READY=1");
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("/nonexistent/muzzle/notify") != std::string::npos);
}

TEST_CASE("a NOTIFY_SOCKET that is neither a path nor '@name' is an error, not a guess") {
  NotifySocketVariable variable("vsock:2:1234");
  SystemdNotifier notifier(microseconds(0));
  Status s = notifier.notify("READY=1");
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("\"vsock:2:1234\" is neither a path nor an abstract socket name") !=
        std::string::npos);
}

TEST_CASE("parseWatchdogInterval follows WATCHDOG_USEC and WATCHDOG_PID") {
  CHECK(parseWatchdogInterval("30000000", nullptr, 42) == microseconds(30000000));
  CHECK(parseWatchdogInterval("30000000", "42", 42) == microseconds(30000000));
  CHECK(parseWatchdogInterval("30000000", "43", 42) == microseconds(0));  // inherited
  CHECK(parseWatchdogInterval(nullptr, nullptr, 42) == microseconds(0));
  CHECK(parseWatchdogInterval("", nullptr, 42) == microseconds(0));
  CHECK(parseWatchdogInterval("0", nullptr, 42) == microseconds(0));
  CHECK(parseWatchdogInterval("-5", nullptr, 42) == microseconds(0));
  CHECK(parseWatchdogInterval("12ms", nullptr, 42) == microseconds(0));
  CHECK(parseWatchdogInterval("30000000", "x", 42) == microseconds(0));
}

}  // namespace
}  // namespace muzzle
