// UnixListener: the management socket, created, bound and accepted on by muzzled itself rather
// than by gRPC, so every connection's peer credentials are checked before gRPC reads a byte of
// it. Allowed peers (SocketAccess) are handed to the gRPC server as external connections; any
// other is closed at once and logged as `event=management-refused uid=... gid=... pid=...`
// (rate-limited: RefusalBudget). The socket file keeps mode 0660 and group `muzzle` as a first
// gate; the credential check holds even if someone opens the file's mode up.
//
// A socket file that a live server answers on is never removed: bind() fails instead (a second
// muzzled must not take the running one's socket). A stale one, left by a crash, is replaced.
//
// Threads: bind() and stop() on the caller's thread; serve() starts one accept thread, which
// stop() (or the destructor) ends and joins. Peer checks read no file and take no lock.
#pragma once

#include <grpcpp/server_builder.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fw/common/clock.h"
#include "fw/common/status.h"
#include "fw/engine/event_log.h"
#include "muzzle/v1/config.pb.h"

namespace muzzle {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;              // primary group
  std::vector<gid_t> groups;  // supplementary groups (SO_PEERGROUPS)
};

// Who may use the socket: root, muzzled's own user, and the configured uids and groups.
struct SocketAccess {
  std::set<uid_t> uids;
  std::set<gid_t> gids;
  bool allows(const PeerCredentials& peer) const;
  std::string describe() const;  // for the start-up log: "uids=0,998 groups=998"
};

// management.socket_access resolved against this box's groups; unset means group `muzzle` when
// it exists. `self` is muzzled's effective uid. A group name that does not exist is an error.
Result<SocketAccess> socketAccessOf(const v1::Management& management, uid_t self);

// At most `per_second` refusal lines a second; the rest are counted, and the next line that is
// written says how many were left out, so a flood of connections cannot flood the log.
class RefusalBudget {
 public:
  explicit RefusalBudget(unsigned per_second = 5) : per_second_(per_second) {}
  // Whether to write a line now; when yes, how many were left out before it.
  std::optional<uint64_t> take(std::chrono::steady_clock::time_point now);

 private:
  unsigned per_second_;
  std::chrono::steady_clock::time_point window_start_{};
  unsigned in_window_ = 0;
  uint64_t left_out_ = 0;
};

class UnixListener {
 public:
  // "*log" and "*clock" must outlive the listener.
  static Result<std::unique_ptr<UnixListener>> bind(const std::string& path, SocketAccess access,
                                                    EventLog& log, const Clock& clock);
  ~UnixListener();
  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;

  // Starts the accept thread, handing allowed connections to `acceptor`. Call once, after the
  // gRPC server has started (connections handed over earlier would be closed by gRPC).
  void serve(std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor);
  // Stops accepting, joins the thread, closes the socket and removes its file if it is still
  // ours. Connections already handed over stay with gRPC.
  void stop();

  const std::string& path() const { return path_; }
  uint64_t refused() const { return refused_.load(); }

 private:
  UnixListener(std::string path, SocketAccess access, EventLog& log, const Clock& clock)
      : path_(std::move(path)), access_(std::move(access)), log_(log), clock_(clock) {}
  void run();
  void handle(int fd);

  std::string path_;
  SocketAccess access_;
  EventLog& log_;
  const Clock& clock_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop() wakes the accept thread's poll
  ino_t inode_ = 0;   // of the socket file we created, to remove only ours
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor_;
  std::thread thread_;
  RefusalBudget budget_;
  std::atomic<uint64_t> refused_{0};
};

}  // namespace muzzle
