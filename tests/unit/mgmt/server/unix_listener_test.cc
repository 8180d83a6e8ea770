// The management socket: who may connect (peer credentials), how refusals are logged, and that a
// live server's socket is never taken over while a stale one is replaced.
#include "mgmt/server/unix_listener.h"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using testing::TempDir;

int connectTo(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Stands in for gRPC: records the connections it is handed.
class RecordingAcceptor : public grpc::experimental::ExternalConnectionAcceptor {
 public:
  void HandleNewConnection(NewConnectionParameters* p) override {
    std::lock_guard<std::mutex> lock(mu);
    fds.push_back(p->fd);
    cv.notify_all();
  }
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> fds;
};

std::string readAll(FILE* f) {
  std::rewind(f);
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof(buf), f)) out.append(buf, n);
  return out;
}

TEST_CASE("peers are allowed by uid, primary group or supplementary group, and nothing else") {
  SocketAccess access{{0, 998}, {997}};
  CHECK(access.allows(PeerCredentials{1, 0, 0, {}}));             // root
  CHECK(access.allows(PeerCredentials{1, 998, 100, {}}));         // muzzled's own user
  CHECK(access.allows(PeerCredentials{1, 1000, 997, {}}));        // primary group
  CHECK(access.allows(PeerCredentials{1, 1000, 100, {4, 997}}));  // supplementary group
  CHECK_FALSE(access.allows(PeerCredentials{1, 65534, 65534, {}}));
  CHECK_FALSE(access.allows(PeerCredentials{1, 1000, 100, {4, 24}}));
  CHECK(access.describe() == "uids=0,998 groups=997");
  CHECK(SocketAccess{{0}, {}}.describe() == "uids=0 groups=none");
}

TEST_CASE(
    "socket_access: root and muzzled's user always; configured uids and groups; unknown groups "
    "refused") {
  v1::Management m;
  auto unset = socketAccessOf(m, 998);
  REQUIRE(unset.ok());
  CHECK(unset->uids == std::set<uid_t>{0, 998});
  m.mutable_socket_access()->add_uids(1000);
  m.mutable_socket_access()->add_groups("root");  // gid 0 on every Debian box
  m.mutable_socket_access()->add_groups("4242");
  auto set = socketAccessOf(m, 998);
  REQUIRE(set.ok());
  CHECK(set->uids == std::set<uid_t>{0, 998, 1000});
  CHECK(set->gids == std::set<gid_t>{0, 4242});
  m.mutable_socket_access()->add_groups("no-such-group-here");
  auto bad = socketAccessOf(m, 998);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() ==
        "management.socket_access.groups[2]: no group \"no-such-group-here\" on this box (give a "
        "group "
        "name from /etc/group, or its number)");
  // Set but empty: root and muzzled's user only (no default group).
  v1::Management only_root;
  only_root.mutable_socket_access();
  CHECK(socketAccessOf(only_root, 998)->gids.empty());
}

TEST_CASE(
    "refusal lines: a few a second, then counted, and the next line says how many were left out") {
  ManualClock clock;
  RefusalBudget budget(2);
  CHECK(budget.take(clock.now()) == std::optional<uint64_t>(0));
  CHECK(budget.take(clock.now()) == std::optional<uint64_t>(0));
  CHECK_FALSE(budget.take(clock.now()).has_value());
  CHECK_FALSE(budget.take(clock.now()).has_value());
  clock.advance(std::chrono::milliseconds(999));
  CHECK_FALSE(budget.take(clock.now()).has_value());
  clock.advance(std::chrono::milliseconds(1));
  CHECK(budget.take(clock.now()) == std::optional<uint64_t>(3));
  CHECK(budget.take(clock.now()) == std::optional<uint64_t>(0));
}

TEST_CASE("the socket is born 0660; a live server's socket is left alone, a stale one replaced") {
  TempDir dir;
  ManualClock clock;
  EventLog log(stderr, clock);
  const std::string path = dir.path + "/muzzled.sock";
  auto first = UnixListener::bind(path, SocketAccess{{0}, {}}, log, clock);
  REQUIRE(first.ok());
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);

  // Someone answers there: a second server must fail, and the first keeps its file.
  auto second = UnixListener::bind(path, SocketAccess{{0}, {}}, log, clock);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().message().find("a server already answers on " + path) != std::string::npos);
  struct stat after {};
  REQUIRE(::lstat(path.c_str(), &after) == 0);
  CHECK(after.st_ino == st.st_ino);
  const int still = connectTo(path);
  CHECK(still >= 0);
  ::close(still);

  // Once the first is gone its file is removed; a socket file nobody answers on is replaced.
  (*first)->stop();
  CHECK_FALSE(std::filesystem::exists(path));
  {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    const int stale = ::socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(::bind(stale, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    ::close(stale);  // the file stays, as after a crash
  }
  CHECK(UnixListener::bind(path, SocketAccess{{0}, {}}, log, clock).ok());

  // Not a socket at all: refused, and left where it is.
  const std::string plain = dir.path + "/plain";
  std::fclose(std::fopen(plain.c_str(), "w"));
  auto not_socket = UnixListener::bind(plain, SocketAccess{{0}, {}}, log, clock);
  REQUIRE_FALSE(not_socket.ok());
  CHECK(not_socket.status().message() ==
        "management: " + plain + " exists and is not a socket; move it away");
  CHECK(std::filesystem::exists(plain));
}

TEST_CASE(
    "an allowed peer is handed over; any other is disconnected and logged with its uid and pid") {
  TempDir dir;
  ManualClock clock;
  FILE* out = std::tmpfile();
  EventLog log(out, clock);
  const std::string path = dir.path + "/muzzled.sock";

  SUBCASE("allowed: this test's own uid") {
    auto l = UnixListener::bind(path, SocketAccess{{::getuid()}, {}}, log, clock);
    REQUIRE(l.ok());
    auto acceptor = std::make_unique<RecordingAcceptor>();
    RecordingAcceptor* seen = acceptor.get();
    (*l)->serve(std::move(acceptor));
    const int client = connectTo(path);
    REQUIRE(client >= 0);
    std::unique_lock<std::mutex> lock(seen->mu);
    seen->cv.wait(lock, [&] { return !seen->fds.empty(); });
    CHECK(seen->fds.size() == 1);
    CHECK((*l)->refused() == 0);
    for (int fd : seen->fds) ::close(fd);
    ::close(client);
  }
  SUBCASE("refused: nobody is allowed") {
    auto l = UnixListener::bind(path, SocketAccess{{}, {}}, log, clock);
    REQUIRE(l.ok());
    (*l)->serve(std::make_unique<RecordingAcceptor>());
    const int client = connectTo(path);
    REQUIRE(client >= 0);
    char byte;
    CHECK(::read(client, &byte, 1) == 0);  // closed by muzzled before a byte was read
    ::close(client);
    (*l)->stop();  // joins the accept thread: the log line is written by now
    CHECK((*l)->refused() == 1);
    log.flush();  // lines reach the file on the log's delivery thread
    const std::string text = readAll(out);
    CHECK(text.find("event=management-refused uid=" + std::to_string(::getuid()) +
                    " gid=" + std::to_string(::getgid()) + " pid=" + std::to_string(::getpid()) +
                    " socket=" + path) != std::string::npos);
  }
  std::fclose(out);
}

}  // namespace
}  // namespace muzzle
