// Accounting by conntrack's counters: see conntrack_counts.h.
#include "fw/nft/conntrack_counts.h"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink_compat.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "fw/nft/conntrack_table.h"
#include "fw/nft/conntrack_wire.h"

namespace muzzle {
namespace {
// The library's files are compiled in batches (muzzle_unity): this file's own names live in a
// namespace of their own, so that they never meet another file's of the same batch.
namespace ctnl {

// A dump answer's datagram holds at most 32 KiB (the kernel's NLMSG_GOODSIZE grows to that);
// twice that leaves room whatever the kernel does.
constexpr size_t kDumpBufferBytes = size_t{64} << 10;
// A DESTROY event is one message of a few hundred bytes, one per datagram.
constexpr size_t kEventSlotBytes = size_t{8} << 10;
constexpr unsigned kEventsPerRecv = 64;
// Room for a burst of ended connections while the thread sleeps or waits for a CPU. The kernel
// doubles what is asked and charges each event its buffer's true size, not its ~200 bytes:
// 1,280 bytes each (measured, kernel 6.18), so 16 MiB asked hold ~26,000 events, ~175 ms of a
// 2-core box churning 150,000 UDP flows a second. 8 MiB held ~13,000, ~70 ms at the 191,700
// flows/s of one bench round: five rounds saw one overrun.
// Memory is taken only while events wait, at most this much.
constexpr int kEventBufferBytes = 16 << 20;
// After the thread drained the socket it sleeps this long before it looks again, so that it
// wakes ~100 times a second and reads what came meanwhile in a few recvmmsg calls, instead of
// waking for every event: on a 2-core box churning 150,000 UDP flows a second, waking at each
// event took ~17 % of a core (the scheduler's work, not the reading), most of what accounting
// cost new flows. The buffer holds ~175 ms of such events, 17 times the pause.
constexpr int kEventPauseMillis = 10;
// A dump the kernel does not answer within this is abandoned (read() returns an error).
constexpr int kDumpAnswerSeconds = 5;

struct MnlSocketClose {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlSocketClose>;

// Best effort: a sandboxed muzzled cannot write /proc/sys (ExecStartPre does it instead).
void writeNetfilterSysctl(const char* name, const char* value) {
  const std::string path = std::string("/proc/sys/net/netfilter/") + name;
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)!write(fd, value, std::strlen(value));
  close(fd);
}

void enableConntrackCounters() {
  writeNetfilterSysctl("nf_conntrack_acct", "1");
  // 0 turns events off for every listener; 2 (newer kernels' default) sends them once one
  // listens, as the event socket does.
  const Result<uint64_t> events = readNetfilterSysctl("nf_conntrack_events");
  if (events.ok() && events.value() == 0) {
    writeNetfilterSysctl("nf_conntrack_events", "1");
  }
}

Result<MnlSocket> openNetfilterSocket(const char* what, unsigned groups, int flags) {
  MnlSocket nl(mnl_socket_open2(NETLINK_NETFILTER, flags | SOCK_CLOEXEC));
  if (nl == nullptr) {
    return Status::error(std::string("conntrack: cannot open the ") + what +
                         " socket (netlink, netfilter): " + netlinkErrorText(errno));
  }
  if (mnl_socket_bind(nl.get(), groups, MNL_SOCKET_AUTOPID) < 0) {
    const int error = errno;
    return Status::error(std::string("conntrack: cannot bind the ") + what +
                         " socket: " + netlinkErrorText(error) +
                         (error == EPERM ? " (conntrack's events need CAP_NET_ADMIN)" : ""));
  }
  return nl;
}

class LiveConntrackCounter final : public ConntrackCounter {
 public:
  explicit LiveConntrackCounter(size_t max_groups)
      : dump_buf_(kDumpBufferBytes), totals_(max_groups) {}

  ~LiveConntrackCounter() override {
    if (thread_.joinable()) {
      const uint64_t one = 1;
      (void)!write(stop_fd_, &one, sizeof(one));
      thread_.join();
    }
    if (stop_fd_ >= 0) close(stop_fd_);
  }

  Status start() {
    if (Status s = openDumpSocket(); !s.ok()) return s;
    Result<MnlSocket> events =
        openNetfilterSocket("event", NF_NETLINK_CONNTRACK_DESTROY, SOCK_NONBLOCK);
    if (!events.ok()) return events.status();
    events_ = std::move(events.value());
    const int fd = mnl_socket_get_fd(events_.get());
    // A burst of ended connections must not overflow the socket while the thread sleeps; FORCE
    // needs CAP_NET_ADMIN, which reading events needs anyway.
    int size = kEventBufferBytes;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0) {
      (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
    stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0) {
      return Status::error("conntrack: cannot create the event thread's eventfd: " +
                           netlinkErrorText(errno));
    }
    // The baseline: every allowed connection open now is tracked at its present counts, and none
    // of them is counted. What they counted before was the previous muzzled's to read (or
    // no one's, while none ran): a restart must not count a long connection's whole past again.
    // Growth from here on is counted. Events wait in the socket meanwhile.
    if (auto baseline = read(); !baseline.ok()) {
      return baseline.status().withContext("the first read (the baseline): ");
    }
    thread_ = std::thread([this] { drainEvents(); });
    pthread_setname_np(thread_.native_handle(), "muzzle-ctevents");
    return Status();
  }

  Result<std::vector<FlowGroupCount>> read() override {
    if (dump_ == nullptr) {
      if (Status s = openDumpSocket(); !s.ok()) return s;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      growth_.beginDump();
    }
    live_devices_.clear();
    live_overflow_ = false;
    live_ = {};
    // Read only while someone takes them (the connection limit counted by muzzled): the first
    // read, and each after a take.
    const bool live = std::exchange(live_wanted_, false);
    Status s = dump(live);
    if (!s.ok()) {
      live_devices_ = {};
      {
        std::lock_guard<std::mutex> lock(mutex_);
        growth_.abortDump();
        updateGrowthStats();
      }
      // What is still queued for this socket (the rest of the answer) must never be read as
      // the next dump's: the next read opens a new socket.
      dump_.reset();
      return s;
    }
    // Freed after each read: the box holds them only while a dump runs.
    if (live) live_ = countByDevice(std::exchange(live_devices_, {}), !live_overflow_);
    std::lock_guard<std::mutex> lock(mutex_);
    growth_.endDump();
    updateGrowthStats();
    std::vector<FlowGroupCount> groups = totals_.take();
    stats_.last_groups = groups.size();
    stats_.lost_bytes = totals_.lostBytes();
    return groups;
  }

  LiveConnections takeLive() override {
    live_wanted_ = true;
    return std::exchange(live_, {});
  }

  Stats stats() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  Status openDumpSocket() {
    Result<MnlSocket> nl = openNetfilterSocket("dump", 0, 0);
    if (!nl.ok()) return nl.status();
    const timeval timeout{kDumpAnswerSeconds, 0};
    if (setsockopt(mnl_socket_get_fd(nl.value().get()), SOL_SOCKET, SO_RCVTIMEO, &timeout,
                   sizeof(timeout)) < 0) {
      return Status::error("conntrack: cannot set the dump socket's timeout: " +
                           netlinkErrorText(errno));
    }
    dump_ = std::move(nl.value());
    return Status();
  }

  // One dump of cumulative counts, the growth of each entry added to totals_ as each datagram is
  // read: the growth read before a failure is kept, and returned by the next read that succeeds
  // (ConnectionGrowth has already taken those counts as seen). With `live_wanted`, the live
  // connections' devices too (live_devices_).
  Status dump(bool live_wanted) {
    const ConntrackDumpSender sender{++seq_, mnl_socket_get_portid(dump_.get())};
    const std::vector<char> request = conntrackCountsRequest(sender.seq);
    if (mnl_socket_sendto(dump_.get(), request.data(), request.size()) < 0) {
      return Status::error(std::string("conntrack: ") +
                           "cannot send the dump request: " + netlinkErrorText(errno));
    }
    ConntrackParseStats parse;
    std::vector<FlowCount> counts;
    std::vector<MacAddress> live;
    while (!parse.done) {
      const ssize_t n = mnl_socket_recvfrom(dump_.get(), dump_buf_.data(), dump_buf_.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          return Status::error(std::string("conntrack: ") +
                               "the kernel did not answer the dump within " +
                               std::to_string(kDumpAnswerSeconds) + " s; read again");
        }
        return Status::error(std::string("conntrack: ") +
                             "cannot read the dump: " + netlinkErrorText(errno));
      }
      counts.clear();
      live.clear();
      const uint64_t uncounted_before = parse.uncounted;
      Status s =
          parseConntrackMessages(std::span<const char>(dump_buf_.data(), static_cast<size_t>(n)),
                                 &counts, &parse, &sender, live_wanted ? &live : nullptr);
      const size_t room = kMaxLiveConnections - live_devices_.size();
      if (live.size() > room) live_overflow_ = true;
      live_devices_.insert(live_devices_.end(), live.begin(),
                           live.begin() + static_cast<std::ptrdiff_t>(std::min(room, live.size())));
      {
        std::lock_guard<std::mutex> lock(mutex_);
        for (const FlowCount& c : counts) {
          if (std::optional<FlowCount> g = growth_.dumped(c)) totals_.add(*g);
        }
        stats_.uncounted += parse.uncounted - uncounted_before;
        stats_.lost_bytes = totals_.lostBytes();
      }
      if (!s.ok()) return s;
    }
    return Status();
  }

  void drainEvents() {
    std::vector<char> slots(kEventSlotBytes * kEventsPerRecv);
    std::vector<iovec> iov(kEventsPerRecv);
    std::vector<sockaddr_nl> senders(kEventsPerRecv);
    std::vector<mmsghdr> msgs(kEventsPerRecv);
    std::vector<FlowCount> counts;
    const int fd = mnl_socket_get_fd(events_.get());
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    while (true) {
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        recordEventError();
        if (!pauseOrStop()) return;
        continue;
      }
      if (fds[1].revents != 0) return;
      while (true) {
        for (unsigned i = 0; i < kEventsPerRecv; ++i) {
          iov[i] = {slots.data() + i * kEventSlotBytes, kEventSlotBytes};
          msgs[i] = {};
          msgs[i].msg_hdr.msg_iov = &iov[i];
          msgs[i].msg_hdr.msg_iovlen = 1;
          msgs[i].msg_hdr.msg_name = &senders[i];
          msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_nl);
        }
        const int n = recvmmsg(fd, msgs.data(), kEventsPerRecv, MSG_DONTWAIT, nullptr);
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          if (errno == ENOBUFS) {  // the kernel dropped events for us: counted, never silent
            std::lock_guard<std::mutex> lock(mutex_);
            ++stats_.event_overruns;
            continue;
          }
          recordEventError();
          if (!pauseOrStop()) return;
          break;
        }
        counts.clear();
        ConntrackParseStats parse;
        uint64_t refused = 0;
        for (int i = 0; i < n; ++i) {
          // Only the kernel (port id 0) sends conntrack's events; a cut datagram is refused.
          if ((msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 || senders[i].nl_pid != 0) {
            ++refused;
            continue;
          }
          const std::span<const char> bytes(slots.data() + i * kEventSlotBytes, msgs[i].msg_len);
          if (!parseConntrackMessages(bytes, &counts, &parse).ok()) ++refused;
        }
        std::lock_guard<std::mutex> lock(mutex_);
        // The socket is bound to the DESTROY group only: every entry is a connection's end.
        for (const FlowCount& c : counts) {
          if (std::optional<FlowCount> g = growth_.ended(c)) totals_.add(*g);
        }
        updateGrowthStats();
        stats_.events += parse.entries;
        stats_.uncounted += parse.uncounted;
        stats_.event_errors += refused;
        stats_.lost_bytes = totals_.lostBytes();
        if (static_cast<unsigned>(n) < kEventsPerRecv) break;
      }
      if (!pauseOrStop(kEventPauseMillis)) return;
    }
  }

  // Under mutex_.
  void updateGrowthStats() {
    stats_.untracked = growth_.untracked();
    stats_.swept = growth_.swept();
    stats_.tracked = growth_.tracked();
  }

  void recordEventError() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.event_errors;
  }

  // A pause of `millis` (after an unexpected error, a second's, so that one that repeats does not
  // spin); false when the destructor asked the thread to stop.
  bool pauseOrStop(int millis = 1000) {
    pollfd stop{stop_fd_, POLLIN, 0};
    return poll(&stop, 1, millis) <= 0;  // a signal (EINTR) is not a stop
  }

  // The dump side: used by the reading thread only.
  MnlSocket dump_;
  uint32_t seq_ = 0;
  std::vector<char> dump_buf_;
  // The connection limit's recount (LiveConnections): the read thread's alone, like dump_buf_.
  std::vector<MacAddress> live_devices_;  // while a dump runs, at most kMaxLiveConnections
  bool live_overflow_ = false;           // the dump held more
  bool live_wanted_ = true;              // taken since the last read (or none read yet)
  LiveConnections live_;                 // the last read's, until taken

  // The event side: the socket and stop_fd_ are read by the thread, closed after it joined.
  MnlSocket events_;
  int stop_fd_ = -1;
  std::thread thread_;

  mutable std::mutex mutex_;
  ConnectionGrowth growth_;  // guarded by mutex_: the last counts seen of each connection
  FlowCountTotals totals_;   // guarded by mutex_: the dumps' and the events' growth
  Stats stats_;              // guarded by mutex_
};

}  // namespace ctnl
}  // namespace

bool udpTimeoutsOutlive(uint32_t interval_seconds) {
  for (const char* name : {"nf_conntrack_udp_timeout", "nf_conntrack_udp_timeout_stream"}) {
    const Result<uint64_t> seconds = readNetfilterSysctl(name);
    if (!seconds.ok() || seconds.value() < 2 * uint64_t{interval_seconds}) return false;
  }
  return true;
}

Result<std::unique_ptr<ConntrackCounter>> openConntrackCounter(size_t max_groups) {
  ctnl::enableConntrackCounters();
  auto counter = std::make_unique<ctnl::LiveConntrackCounter>(max_groups);
  if (Status s = counter->start(); !s.ok()) return s;
  return std::unique_ptr<ConntrackCounter>(std::move(counter));
}

}  // namespace muzzle
