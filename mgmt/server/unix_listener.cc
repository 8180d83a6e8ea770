#include "mgmt/server/unix_listener.h"

#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "fw/common/thread_priority.h"

namespace muzzle {
namespace {

constexpr char kSocketGroup[] = "muzzle";

Result<PeerCredentials> peerOf(int fd) {
  PeerCredentials peer;
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return Status::error(std::string("SO_PEERCRED: ") + std::strerror(errno));
  }
  peer.pid = cred.pid;
  peer.uid = cred.uid;
  peer.gid = cred.gid;
  // The supplementary groups as they were at connect(), which is what the file mode saw too.
  peer.groups.resize(32);
  for (int attempt = 0; attempt < 2; ++attempt) {
    socklen_t bytes = static_cast<socklen_t>(peer.groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, peer.groups.data(), &bytes) == 0) {
      peer.groups.resize(bytes / sizeof(gid_t));
      return peer;
    }
    if (errno != ERANGE) break;
    peer.groups.resize(bytes / sizeof(gid_t) + 1);  // the kernel said how many there are
  }
  peer.groups.clear();  // unknown: only the primary group counts
  return peer;
}

std::string join(const auto& values) {
  std::string out;
  for (auto v : values) out += (out.empty() ? "" : ",") + std::to_string(v);
  return out.empty() ? "none" : out;
}

}  // namespace

bool SocketAccess::allows(const PeerCredentials& peer) const {
  if (uids.count(peer.uid) || gids.count(peer.gid)) return true;
  return std::any_of(peer.groups.begin(), peer.groups.end(),
                     [&](gid_t g) { return gids.count(g) > 0; });
}

std::string SocketAccess::describe() const {
  return "uids=" + join(uids) + " groups=" + join(gids);
}

Result<SocketAccess> socketAccessOf(const v1::Management& m, uid_t self) {
  SocketAccess access;
  access.uids = {0, self};
  if (!m.has_socket_access()) {
    if (const group* g = ::getgrnam(kSocketGroup); g != nullptr) access.gids.insert(g->gr_gid);
    return access;
  }
  const v1::SocketAccess& sa = m.socket_access();
  for (uint32_t uid : sa.uids()) access.uids.insert(static_cast<uid_t>(uid));
  for (int i = 0; i < sa.groups_size(); ++i) {
    const std::string& name = sa.groups(i);
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos &&
        name.size() < 10) {
      access.gids.insert(static_cast<gid_t>(std::stoul(name)));
      continue;
    }
    const group* g = ::getgrnam(name.c_str());
    if (g == nullptr) {
      return Status::error(StatusCode::kInvalidArgument,
                           "management.socket_access.groups[" + std::to_string(i) +
                               "]: no group \"" + name +
                               "\" on this box (give a group name from /etc/group, or its number)");
    }
    access.gids.insert(g->gr_gid);
  }
  return access;
}

std::optional<uint64_t> RefusalBudget::take(std::chrono::steady_clock::time_point now) {
  if (now - window_start_ >= std::chrono::seconds(1)) {
    window_start_ = now;
    in_window_ = 0;
  }
  if (in_window_ >= per_second_) {
    ++left_out_;
    return std::nullopt;
  }
  ++in_window_;
  const uint64_t left_out = left_out_;
  left_out_ = 0;
  return left_out;
}

Result<std::unique_ptr<UnixListener>> UnixListener::bind(const std::string& path,
                                                         SocketAccess access, EventLog& log,
                                                         const Clock& clock) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "management.socket: \"" + path + "\" is empty or longer than " +
                             std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  auto* sa = reinterpret_cast<sockaddr*>(&addr);

  // Replace a socket file only when nobody answers on it: a live server (another muzzled) keeps
  // its socket. A full backlog (EAGAIN) also means someone is there.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Status::error("management: " + path + " exists and is not a socket; move it away");
    }
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    const int rc = probe < 0 ? -1 : ::connect(probe, sa, sizeof(addr));
    const int err = errno;
    if (probe >= 0) ::close(probe);
    if (rc == 0 || err == EAGAIN) {
      return Status::error("management: a server already answers on " + path +
                           " (another muzzled?); it is left alone. Stop it first, or give this one "
                           "another management.socket");
    }
    if (err != ECONNREFUSED && err != ENOENT) {
      return Status::error("management: cannot tell whether " + path +
                           " is in use: " + std::strerror(err));
    }
    ::unlink(path.c_str());  // stale, left by a crash
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);

  auto l = std::unique_ptr<UnixListener>(new UnixListener(path, std::move(access), log, clock));
  l->listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  l->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (l->listen_fd_ < 0 || l->wake_fd_ < 0) {
    return Status::error(std::string("management: socket: ") + std::strerror(errno));
  }
  // The file is born 0660: never a moment when others could connect.
  const mode_t old_mask = ::umask(0117);
  const int rc = ::bind(l->listen_fd_, sa, sizeof(addr));
  const int bind_errno = errno;
  ::umask(old_mask);
  if (rc != 0) {
    return Status::error("management: cannot listen on unix:" + path + ": " +
                         std::strerror(bind_errno));
  }
  if (::lstat(path.c_str(), &st) == 0) l->inode_ = st.st_ino;
  if (::listen(l->listen_fd_, 128) != 0) {
    return Status::error("management: listen on " + path + ": " + std::strerror(errno));
  }
  // Under the shipped unit (Group=muzzle) the socket is born in the right group, and the unit's
  // syscall filter refuses chown: only hand the socket over when it is not.
  if (const group* g = ::getgrnam(kSocketGroup); g != nullptr && ::getegid() != g->gr_gid) {
    if (::chown(path.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
      return Status::error("management: cannot give " + path +
                           " to group muzzle: " + std::strerror(errno));
    }
  }
  return l;
}

void UnixListener::serve(std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor) {
  acceptor_ = std::move(acceptor);
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), "muzzle-unix");
}

void UnixListener::run() {
  runAsBackgroundThread();
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    // Drain what is queued; each connection is checked and handed over or closed at once.
    while (true) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        handle(fd);
        continue;
      }
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) break;
      // Out of descriptors or memory: say so (bounded like refusals) and wait a little rather
      // than spin on a socket that stays readable; stop() still wakes us at once.
      if (auto left_out = budget_.take(clock_.now())) {
        log_.write(LogLine("management-accept-failed")
                       .add("socket", path_)
                       .add("error", std::strerror(errno)));
      }
      pollfd wake{wake_fd_, POLLIN, 0};
      if (::poll(&wake, 1, 100) > 0) return;
      break;
    }
  }
}

void UnixListener::handle(int fd) {
  auto peer = peerOf(fd);
  if (peer.ok() && access_.allows(*peer)) {
    grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters p;
    p.listener_fd = listen_fd_;
    p.fd = fd;  // gRPC owns it from here
    acceptor_->HandleNewConnection(&p);
    return;
  }
  ::close(fd);
  refused_.fetch_add(1);
  auto left_out = budget_.take(clock_.now());
  if (!left_out) return;
  LogLine line("management-refused");
  if (peer.ok()) {
    line.add("uid", peer->uid).add("gid", peer->gid).add("pid", static_cast<uint64_t>(peer->pid));
  } else {
    line.add("error", peer.status().message());
  }
  line.add("socket", path_)
      .add("reason", "not root, muzzled's user, or in management.socket_access");
  if (*left_out > 0) line.add("left_out", *left_out);
  log_.write(line);
}

void UnixListener::stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    if (::write(wake_fd_, &one, sizeof(one)) < 0) {
      // An eventfd write fails only on overflow, which cannot happen here; join regardless.
    }
    thread_.join();
  }
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0 && st.st_ino == inode_) ::unlink(path_.c_str());
  }
  if (wake_fd_ >= 0) {
    ::close(wake_fd_);
    wake_fd_ = -1;
  }
}

UnixListener::~UnixListener() { stop(); }

}  // namespace muzzle
