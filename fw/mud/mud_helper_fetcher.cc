#include "fw/mud/mud_helper_fetcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "fw/common/confined_file.h"
#include "fw/common/excerpt.h"
#include "fw/mud/mud_helper_protocol.h"

#ifndef MUZZLE_HELPER_DIR
#define MUZZLE_HELPER_DIR "/usr/lib/muzzle"
#endif

namespace muzzle {

namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd, o.fd);
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

// An open exchange with one helper: the socket the request goes out and the answer comes back
// on; for a spawned helper also its stderr and its pid.
struct Channel {
  Fd socket;
  Fd err;
  pid_t pid = -1;
};

struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

Result<Channel> spawnHelper(const std::string& program) {
  int pair[2];
  int err[2];
  // Close-on-exec everywhere: only what the spawn puts on 0, 1 and 2 reaches the helper.
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return Status::error(std::string("no socket pair: ") + strerror(errno));
  }
  Fd mine(pair[0]);
  Fd theirs(pair[1]);
  if (pipe2(err, O_CLOEXEC) != 0) return Status::error(std::string("no pipe: ") + strerror(errno));
  Fd err_read(err[0]);
  Fd err_write(err[1]);

  SpawnSetup setup;
  posix_spawn_file_actions_adddup2(&setup.actions, theirs.fd, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, theirs.fd, 1);
  posix_spawn_file_actions_adddup2(&setup.actions, err_write.fd, 2);
  // Sockets and files muzzled's libraries opened without O_CLOEXEC stay behind too.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  // Queue and engine threads block signals and a library may ignore SIGPIPE: the helper starts
  // with none blocked and every signal at its default.
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::string arg0 = program;
  char* argv[] = {arg0.data(), nullptr};
  char* envp[] = {nullptr};  // nothing of muzzled's environment (proxies, library paths)
  Channel c;
  const int spawned = posix_spawn(&c.pid, program.c_str(), &setup.actions, &setup.attr, argv, envp);
  if (spawned != 0) {
    return Status::error(std::string("cannot start it: ") + strerror(spawned) +
                         " (reinstall the muzzle package)");
  }
  c.socket = std::move(mine);
  c.err = std::move(err_read);
  return c;
}

Result<Channel> connectHelper(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) return Status::error("its socket path is too long");
  std::memcpy(address.sun_path, path.data(), path.size());
  Channel c;
  c.socket = Fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (c.socket.fd < 0) return Status::error(std::string("no socket: ") + strerror(errno));
  if (connect(c.socket.fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    return Status::error(std::string("cannot connect: ") + strerror(errno) +
                         " (is muzzle-mud-fetch.socket running? systemctl status "
                         "muzzle-mud-fetch.socket)");
  }
  return c;
}

struct Exchange {
  std::string answer;
  std::string err;
  bool over = false;       // the answer passed its cap
  bool timed_out = false;  // the deadline came first
  int status = 0;          // a spawned helper's, from waitpid
};

// Appends what `fd` has to `into`, up to `cap` (past it: `over`, the rest read and dropped).
// False at the end of the stream (or an error).
bool readSome(int fd, std::string& into, size_t cap, bool& over) {
  char buffer[16384];
  const ssize_t n = read(fd, buffer, sizeof(buffer));
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  const size_t room = cap - std::min(cap, into.size());
  into.append(buffer, std::min(room, static_cast<size_t>(n)));
  if (static_cast<size_t>(n) > room) over = true;
  return true;
}

// Sends the request (then shuts the writing side: the helper reads to the end), reads the answer
// and a spawned helper's stderr to their ends, or until the answer passes its cap or the
// deadline.
void exchange(Channel& c, std::string_view request, size_t cap, Clock::time_point deadline,
              Exchange& x) {
  fcntl(c.socket.fd, F_SETFL, fcntl(c.socket.fd, F_GETFL) | O_NONBLOCK);
  size_t sent = 0;
  bool answer_open = true;
  bool err_over = false;  // stderr past its cap is dropped, never a reason to stop
  while ((answer_open || c.err.fd >= 0) && !x.over) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      x.timed_out = true;
      return;
    }
    std::array<pollfd, 2> fds{};
    fds[0] = {answer_open ? c.socket.fd : -1,
              static_cast<short>(POLLIN | (sent < request.size() ? POLLOUT : 0)), 0};
    fds[1] = {c.err.fd, POLLIN, 0};
    const int ready = poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) return;
    if (ready <= 0) continue;
    if ((fds[0].revents & POLLOUT) != 0 && sent < request.size()) {
      const ssize_t n =
          send(c.socket.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<size_t>(n);
      // The helper stopped reading (it may still answer why): nothing more to send.
      if (n < 0 && errno != EAGAIN && errno != EINTR) sent = request.size();
      if (sent == request.size()) shutdown(c.socket.fd, SHUT_WR);
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      answer_open = readSome(c.socket.fd, x.answer, cap, x.over);
    }
    if (c.err.fd >= 0 && fds[1].revents != 0 &&
        !readSome(c.err.fd, x.err, kMaxHelperErrorBytes, err_over)) {
      c.err.reset();
    }
  }
}

// Reaps a spawned helper: killed when it overran; one that closed its output and lingers is
// killed at the deadline all the same.
void reap(pid_t pid, Clock::time_point deadline, Exchange& x) {
  if (x.over || x.timed_out) kill(pid, SIGKILL);
  while (true) {
    const pid_t done = waitpid(pid, &x.status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) return;
    if (Clock::now() >= deadline) {
      x.timed_out = true;
      kill(pid, SIGKILL);
      while (waitpid(pid, &x.status, 0) < 0 && errno == EINTR) {
      }
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

HelperMudFetcher::HelperMudFetcher(MudHelper helper, MudFetchLimits limits,
                                   std::chrono::milliseconds start_allowance)
    : helper_(std::move(helper)), limits_(std::move(limits)), start_allowance_(start_allowance) {}

std::variant<std::string, MudFailure> HelperMudFetcher::get(const std::string& url) {
  if (!isHttpsUrl(url)) return notHttpsFailure(url);
  const std::string shown = "MUD fetch of \"" + excerpt(url, 255) + "\": ";
  const std::string who = "the MUD fetch helper " + helper_.path;

  MudHelperRequest request{url, limits_.max_bytes, limits_.total_time, {}};
  if (!limits_.ca_file.empty()) {
    auto pem = readRegularFile(limits_.ca_file, kMaxHelperCaBytes);
    if (!pem.ok()) {
      return MudFailure{MudRefusal::kTls, shown + "the MUD servers' CA file (management." +
                                              "mud_server_ca): " + pem.status().message()};
    }
    request.ca_pem = std::move(pem).value();
  }

  const auto deadline = Clock::now() + limits_.total_time + start_allowance_;
  auto channel = helper_.via == MudHelper::Via::kSpawn ? spawnHelper(helper_.path)
                                                       : connectHelper(helper_.path);
  if (!channel.ok()) {
    return MudFailure{MudRefusal::kNetwork, shown + who + ": " + channel.status().message()};
  }
  Exchange x;
  exchange(*channel, encodeHelperRequest(request),
           std::max<size_t>(maxHelperAnswerBytes(limits_.max_bytes), 4096), deadline, x);
  channel->socket.reset();
  channel->err.reset();
  if (channel->pid > 0) reap(channel->pid, deadline, x);

  if (x.over) return tooLargeFailure(url, limits_.max_bytes);
  if (x.timed_out) {
    return MudFailure{MudRefusal::kTimeout, shown + "no answer within " +
                                                std::to_string(limits_.total_time.count()) +
                                                " ms; " + who + " was stopped"};
  }
  const std::string said = x.err.empty() ? "" : ": " + excerpt(x.err, 300);
  if (channel->pid > 0 && WIFSIGNALED(x.status)) {
    return MudFailure{MudRefusal::kNetwork,
                      shown + who + " died of signal " + std::to_string(WTERMSIG(x.status)) + said};
  }
  if (channel->pid > 0 && x.answer.empty() && WIFEXITED(x.status) && WEXITSTATUS(x.status) != 0) {
    return MudFailure{MudRefusal::kNetwork, shown + who + " failed (exit " +
                                                std::to_string(WEXITSTATUS(x.status)) + ")" + said};
  }
  return decodeHelperAnswer(x.answer, limits_.max_bytes, url, who);
}

std::string mudFetchHelperPath() {
  constexpr char kName[] = "muzzle-mud-fetch";
  std::array<char, 4096> self{};
  const ssize_t n = readlink("/proc/self/exe", self.data(), self.size() - 1);
  if (n > 0) {
    std::string beside(self.data(), static_cast<size_t>(n));
    beside = beside.substr(0, beside.rfind('/') + 1) + kName;
    if (access(beside.c_str(), X_OK) == 0) return beside;
  }
  return std::string(MUZZLE_HELPER_DIR) + "/" + kName;
}

Status shedHelperPrivileges() {
  const auto failed = [](const char* what) {
    return Status::error(std::string("muzzle-mud-fetch: ") + what + ": " + strerror(errno));
  };
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    return failed("clearing the ambient capabilities");
  }
  cap_t none = cap_init();  // every flag of every capability clear
  cap_t held = cap_get_proc();
  if (none == nullptr || held == nullptr) return failed("reading the capability sets");
  // capset only when there is something to drop: a sandbox's system call filter may forbid it
  // (systemd's ~@privileged), and a helper holding nothing has nothing to shed.
  const int set = cap_compare(none, held) == 0 ? 0 : cap_set_proc(none);
  cap_free(none);
  cap_free(held);
  if (set != 0) return failed("dropping every capability");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return failed("setting no_new_privs");
  return {};
}

}  // namespace muzzle
