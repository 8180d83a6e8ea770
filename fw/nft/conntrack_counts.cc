// Accounting by conntrack's counters: see conntrack_counts.h.
#include "fw/nft/conntrack_counts.h"

#include <arpa/inet.h>
#include <endian.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_compat.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "fw/nft/marks.h"

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
// Room for a burst of ended connections while the thread sleeps: ~30,000 events.
constexpr int kEventBufferBytes = 8 << 20;
// After the thread drained the socket it sleeps this long before it looks again, so that it
// wakes ~100 times a second and reads what came meanwhile in a few recvmmsg calls, instead of
// waking for every event: on a 2-core box churning 150,000 UDP flows a second, waking at each
// event took ~17 % of a core (the scheduler's work, not the reading), most of what accounting
// cost new flows. The buffer holds ~200 ms of such events, 20 times the pause.
constexpr int kEventPauseMillis = 10;
// A dump the kernel does not answer within this is abandoned (read() returns an error).
constexpr int kDumpAnswerSeconds = 5;

bool countsNothing(const FlowCount& c) {
  return c.orig_bytes == 0 && c.orig_packets == 0 && c.reply_bytes == 0 && c.reply_packets == 0;
}

struct MnlSocketClose {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlSocketClose>;

// An error number from the answer (negative, as netlink carries it, or not), as text; any value
// a garbled answer may hold, INT_MIN included.
std::string errnoText(int raw) {
  const long long error = raw < 0 ? -static_cast<long long>(raw) : raw;
  if (error > 4095) return "error number " + std::to_string(error);
  return std::strerror(static_cast<int>(error));
}

// The attributes of one nest (or of a message past its header), by type up to `max`; an
// attribute of a larger type is skipped, as the kernel adds attributes over time. libmnl checks
// each attribute's length against what is left of its parent before the callback sees it, but
// ends its walk without a word at the first that does not fit: `end` tells how far the walk
// came, and a parent whose last bytes were not read as attributes is refused.
struct Collected {
  const nlattr** tb;
  uint16_t max;
  const char* end;
};

int collectOne(const nlattr* attr, void* data) {
  auto* c = static_cast<Collected*>(data);
  if (mnl_attr_get_type(attr) <= c->max) c->tb[mnl_attr_get_type(attr)] = attr;
  c->end = reinterpret_cast<const char*>(attr) + MNL_ALIGN(attr->nla_len);
  return MNL_CB_OK;
}

bool collectNested(const nlattr* nest, const nlattr** tb, uint16_t max) {
  if (nest == nullptr || mnl_attr_validate(nest, MNL_TYPE_NESTED) != 0) return false;
  const auto* payload = static_cast<const char*>(mnl_attr_get_payload(nest));
  Collected c{tb, max, payload};
  return mnl_attr_parse_nested(nest, collectOne, &c) >= MNL_CB_STOP &&
         c.end >= payload + mnl_attr_get_payload_len(nest);
}

// The attributes of a message past its nfgenmsg header, as collectNested.
bool collectMessage(const nlmsghdr* nlh, const nlattr** tb, uint16_t max) {
  Collected c{tb, max,
              static_cast<const char*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)))};
  return mnl_attr_parse(nlh, sizeof(nfgenmsg), collectOne, &c) >= MNL_CB_STOP &&
         c.end >= static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
}

bool readBe64(const nlattr* attr, uint64_t* out) {
  if (attr == nullptr || mnl_attr_validate(attr, MNL_TYPE_U64) != 0) return false;
  *out = be64toh(mnl_attr_get_u64(attr));
  return true;
}

bool readBe32(const nlattr* attr, uint32_t* out) {
  if (attr == nullptr || mnl_attr_validate(attr, MNL_TYPE_U32) != 0) return false;
  *out = ntohl(mnl_attr_get_u32(attr));
  return true;
}

// One direction's counters: the 64-bit pair the kernel sends, or the old 32-bit one. "" or what
// was wrong.
std::string readCounters(const nlattr* nest, uint64_t* bytes, uint64_t* packets) {
  const nlattr* tb[CTA_COUNTERS_MAX + 1] = {};
  if (!collectNested(nest, tb, CTA_COUNTERS_MAX)) return "garbled counters";
  if (tb[CTA_COUNTERS_BYTES] != nullptr || tb[CTA_COUNTERS_PACKETS] != nullptr) {
    if (!readBe64(tb[CTA_COUNTERS_BYTES], bytes) || !readBe64(tb[CTA_COUNTERS_PACKETS], packets)) {
      return "counters without 64-bit bytes and packets";
    }
    return "";
  }
  uint32_t bytes32 = 0;
  uint32_t packets32 = 0;
  if (!readBe32(tb[CTA_COUNTERS32_BYTES], &bytes32) ||
      !readBe32(tb[CTA_COUNTERS32_PACKETS], &packets32)) {
    return "counters without bytes and packets";
  }
  *bytes = bytes32;
  *packets = packets32;
  return "";
}

// One address of the original tuple: exactly the family's length.
std::string readAddress(const nlattr* attr, bool v6, const char* which, IpAddress* out) {
  const size_t want = v6 ? 16 : 4;
  if (attr == nullptr) {
    return std::string("an original tuple without its ") + (v6 ? "IPv6 " : "IPv4 ") + which +
           " address";
  }
  if (mnl_attr_validate2(attr, MNL_TYPE_BINARY, want) != 0) {
    return std::string("an ") + (v6 ? "IPv6 " : "IPv4 ") + which + " address of " +
           std::to_string(mnl_attr_get_payload_len(attr)) + " bytes, not " + std::to_string(want);
  }
  *out = IpAddress::fromBytes(static_cast<const uint8_t*>(mnl_attr_get_payload(attr)), v6);
  return "";
}

// One connection entry (IPCTNL_MSG_CT_NEW or _DELETE); "" or what was wrong. Appends its count
// when it has counters and counted something.
std::string readEntry(const nlmsghdr* nlh, std::vector<FlowCount>* out,
                      ConntrackParseStats* stats) {
  ++stats->entries;
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nfgenmsg)) return "no nfgenmsg header";
  const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  if (nfg->nfgen_family != AF_INET && nfg->nfgen_family != AF_INET6) return "";
  const bool v6 = nfg->nfgen_family == AF_INET6;

  const nlattr* tb[CTA_MAX + 1] = {};
  if (!collectMessage(nlh, tb, CTA_MAX)) return "garbled attributes";
  const nlattr* tuple[CTA_TUPLE_MAX + 1] = {};
  const nlattr* ip[CTA_IP_MAX + 1] = {};
  if (tb[CTA_TUPLE_ORIG] == nullptr) return "no original tuple";
  if (!collectNested(tb[CTA_TUPLE_ORIG], tuple, CTA_TUPLE_MAX)) return "a garbled original tuple";
  if (!collectNested(tuple[CTA_TUPLE_IP], ip, CTA_IP_MAX)) {
    return "an original tuple without addresses";
  }
  FlowCount count;
  if (std::string problem =
          readAddress(ip[v6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC], v6, "source", &count.source);
      !problem.empty()) {
    return problem;
  }
  if (std::string problem = readAddress(ip[v6 ? CTA_IP_V6_DST : CTA_IP_V4_DST], v6, "destination",
                                        &count.destination);
      !problem.empty()) {
    return problem;
  }
  if (tb[CTA_MARK] != nullptr && !readBe32(tb[CTA_MARK], &count.mark)) {
    return "a mark of " + std::to_string(mnl_attr_get_payload_len(tb[CTA_MARK])) + " bytes, not 4";
  }
  // The key of the connection's growth (ConnectionGrowth): the kernel puts it in every entry.
  if (tb[CTA_ID] == nullptr) return "no id";
  if (!readBe32(tb[CTA_ID], &count.id)) {
    return "an id of " + std::to_string(mnl_attr_get_payload_len(tb[CTA_ID])) + " bytes, not 4";
  }
  // Both directions' counters, or neither: the kernel adds them together (the acct extension).
  if (tb[CTA_COUNTERS_ORIG] == nullptr && tb[CTA_COUNTERS_REPLY] == nullptr) {
    ++stats->uncounted;
    return "";
  }
  if (tb[CTA_COUNTERS_ORIG] == nullptr || tb[CTA_COUNTERS_REPLY] == nullptr) {
    return "counters of one direction only";
  }
  if (std::string problem =
          readCounters(tb[CTA_COUNTERS_ORIG], &count.orig_bytes, &count.orig_packets);
      !problem.empty()) {
    return "original direction: " + problem;
  }
  if (std::string problem =
          readCounters(tb[CTA_COUNTERS_REPLY], &count.reply_bytes, &count.reply_packets);
      !problem.empty()) {
    return "reply direction: " + problem;
  }
  if (!countsNothing(count)) out->push_back(count);
  return "";
}

// Who must have sent the messages a parse reads: the dump's own answer carries its request's
// number and the socket's port id.
struct Sender {
  uint32_t seq;
  uint32_t portid;
};

Status parseMessages(std::span<const char> bytes, const Sender* sender, std::vector<FlowCount>* out,
                     ConntrackParseStats* stats) {
  // Every event and every part of a dump passes here: the words of an error are put together
  // only when there is one.
  auto refused = [](std::string what) { return Status::error("conntrack answer: " + what); };
  size_t offset = 0;
  for (size_t index = 1; offset < bytes.size(); ++index) {
    auto at = [index](const std::string& what) {
      return "message " + std::to_string(index) + ": " + what;
    };
    if (bytes.size() - offset < sizeof(nlmsghdr)) {
      return refused(at(std::to_string(bytes.size() - offset) +
                        " bytes, too short for a netlink header: truncated or garbled"));
    }
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(bytes.data() + offset);
    // libmnl walks attributes up to the message's length rounded up to 4: all of that must be
    // in the buffer. Rounded in 64 bits: NLMSG_ALIGN of a length of 2^32-3 or more is 0, and a
    // walk that steps 0 bytes never ends.
    const size_t aligned_len = (size_t{nlh->nlmsg_len} + 3) & ~size_t{3};
    if (nlh->nlmsg_len < sizeof(nlmsghdr) || aligned_len > bytes.size() - offset) {
      return refused(at("a length of " + std::to_string(nlh->nlmsg_len) + " bytes where " +
                        std::to_string(bytes.size() - offset) +
                        " are left: truncated or garbled"));
    }
    offset += aligned_len;
    if (sender != nullptr && (nlh->nlmsg_seq != sender->seq || nlh->nlmsg_pid != sender->portid)) {
      return refused(at("an answer to another request (sequence " +
                        std::to_string(nlh->nlmsg_seq) + ", not " + std::to_string(sender->seq) +
                        ")"));
    }
    if (nlh->nlmsg_type == NLMSG_NOOP) continue;
    if (nlh->nlmsg_type == NLMSG_DONE) {
      int error = 0;
      if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(error)) {
        std::memcpy(&error, mnl_nlmsg_get_payload(nlh), sizeof(error));
      }
      if (error != 0)
        return refused("the kernel ended the dump with an error: " + errnoText(error));
      stats->done = true;
      return Status();
    }
    if (nlh->nlmsg_type == NLMSG_ERROR) {
      if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nlmsgerr)) {
        return refused(at("an error message too short to hold its error"));
      }
      int error = 0;
      std::memcpy(&error,
                  static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + offsetof(nlmsgerr, error),
                  sizeof(error));
      if (error == 0) return refused(at("an acknowledgement, not a dump"));
      return refused(
          "the kernel refused the dump: " + errnoText(error) +
          (error == -EPERM || error == EPERM ? " (reading conntrack needs CAP_NET_ADMIN)" : ""));
    }
    if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
      return refused("the conntrack table changed while it was read: read again");
    }
    if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK ||
        (NFNL_MSG_TYPE(nlh->nlmsg_type) != IPCTNL_MSG_CT_NEW &&
         NFNL_MSG_TYPE(nlh->nlmsg_type) != IPCTNL_MSG_CT_DELETE)) {
      return refused(at("unexpected message type " + std::to_string(nlh->nlmsg_type) +
                        " (subsystem " + std::to_string(NFNL_SUBSYS_ID(nlh->nlmsg_type)) +
                        ", message " + std::to_string(NFNL_MSG_TYPE(nlh->nlmsg_type)) + ")"));
    }
    if (std::string problem = readEntry(nlh, out, stats); !problem.empty()) {
      return refused("entry " + std::to_string(stats->entries) + " (message " +
                     std::to_string(index) + "): " + problem);
    }
  }
  return Status();
}

// Best effort: a sandboxed muzzled cannot write /proc/sys (ExecStartPre does it instead).
void writeProcSys(const char* path, const char* value) {
  const int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)!write(fd, value, std::strlen(value));
  close(fd);
}

void enableConntrackCounters() {
  writeProcSys("/proc/sys/net/netfilter/nf_conntrack_acct", "1");
  // 0 turns events off for every listener; 2 (newer kernels' default) sends them once one
  // listens, as the event socket does.
  const int fd = open("/proc/sys/net/netfilter/nf_conntrack_events", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char value[8] = {};
  const ssize_t n = read(fd, value, sizeof(value) - 1);
  close(fd);
  if (n > 0 && value[0] == '0') writeProcSys("/proc/sys/net/netfilter/nf_conntrack_events", "1");
}

Result<MnlSocket> openNetfilterSocket(const char* what, unsigned groups, int flags) {
  MnlSocket nl(mnl_socket_open2(NETLINK_NETFILTER, flags | SOCK_CLOEXEC));
  if (nl == nullptr) {
    return Status::error(std::string("conntrack: cannot open the ") + what +
                         " socket (netlink, netfilter): " + errnoText(errno));
  }
  if (mnl_socket_bind(nl.get(), groups, MNL_SOCKET_AUTOPID) < 0) {
    const int error = errno;
    return Status::error(std::string("conntrack: cannot bind the ") + what +
                         " socket: " + errnoText(error) +
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
                           errnoText(errno));
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
    Status s = dump();
    if (!s.ok()) {
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
    std::lock_guard<std::mutex> lock(mutex_);
    growth_.endDump();
    updateGrowthStats();
    std::vector<FlowGroupCount> groups = totals_.take();
    stats_.last_groups = groups.size();
    stats_.lost_bytes = totals_.lostBytes();
    return groups;
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
      return Status::error("conntrack: cannot set the dump socket's timeout: " + errnoText(errno));
    }
    dump_ = std::move(nl.value());
    return Status();
  }

  // One dump of cumulative counts, the growth of each entry added to totals_ as each datagram is
  // read: the growth read before a failure is kept, and returned by the next read that succeeds
  // (ConnectionGrowth has already taken those counts as seen).
  Status dump() {
    const Sender sender{++seq_, mnl_socket_get_portid(dump_.get())};
    const std::vector<char> request = conntrackCountsRequest(sender.seq);
    if (mnl_socket_sendto(dump_.get(), request.data(), request.size()) < 0) {
      return Status::error(std::string("conntrack: ") +
                           "cannot send the dump request: " + errnoText(errno));
    }
    ConntrackParseStats parse;
    std::vector<FlowCount> counts;
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
                             "cannot read the dump: " + errnoText(errno));
      }
      counts.clear();
      const uint64_t uncounted_before = parse.uncounted;
      Status s = parseMessages(std::span<const char>(dump_buf_.data(), static_cast<size_t>(n)),
                               &sender, &counts, &parse);
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
          if (!parseMessages(bytes, nullptr, &counts, &parse).ok()) ++refused;
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

// A plain dump, never IPCTNL_MSG_CT_GET_CTRZERO: the kernel zeroes an entry's counters before it
// knows the entry fits in the message, and one that does not is sent again, zeroed (see the top
// of conntrack_counts.h).
std::vector<char> conntrackCountsRequest(uint32_t seq) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = seq;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = AF_UNSPEC;  // IPv4 and IPv6
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  // The kernel's filter, (mark & 0x2) == 0: verdict code 0 or 1, never 2 or 3 (marks.h).
  static_assert(static_cast<uint32_t>(VerdictCode::kReject) == 2 &&
                static_cast<uint32_t>(VerdictCode::kDrop) == 3);
  mnl_attr_put_u32(nlh, CTA_MARK, htonl(0));
  mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(0x2));
  buf.resize(nlh->nlmsg_len);
  return buf;
}

Status parseConntrackMessages(std::span<const char> bytes, std::vector<FlowCount>* out,
                              ConntrackParseStats* stats) {
  return ctnl::parseMessages(bytes, nullptr, out, stats);
}

void FlowCountTotals::add(const FlowCount& count) {
  if (ctnl::countsNothing(count)) return;
  const auto code = static_cast<VerdictCode>(count.mark & kVerdictCodeBits);
  if (code == VerdictCode::kReject || code == VerdictCode::kDrop) return;
  using Ends = FlowGroupCount::Ends;
  const auto traffic_class = static_cast<uint8_t>(trafficClassOf(count.mark));
  const bool judged = (count.mark >> 8) != 0;
  auto sum = [&](FlowGroupCount& g) {
    g.orig_bytes += count.orig_bytes;
    g.orig_packets += count.orig_packets;
    g.reply_bytes += count.reply_bytes;
    g.reply_packets += count.reply_packets;
  };
  if (FlowGroupCount* pair =
          groupFor(Key{count.source, count.destination, traffic_class, judged, Ends::kBoth})) {
    sum(*pair);
    return;
  }
  FlowGroupCount* from = groupFor(Key{count.source, {}, traffic_class, judged, Ends::kSource});
  FlowGroupCount* to =
      groupFor(Key{{}, count.destination, traffic_class, judged, Ends::kDestination});
  if (from != nullptr) sum(*from);
  if (to != nullptr) sum(*to);
  if (from == nullptr || to == nullptr) lost_bytes_ += count.orig_bytes + count.reply_bytes;
}

FlowGroupCount* FlowCountTotals::groupFor(const Key& key) {
  auto it = groups_.find(key);
  if (it != groups_.end()) return &it->second;
  const bool pair = key.ends == FlowGroupCount::Ends::kBoth;
  if (pair ? pairs_ >= max_pairs_ : groups_.size() - pairs_ >= max_ends_) return nullptr;
  if (pair) ++pairs_;
  FlowGroupCount group;
  group.source = key.source;
  group.destination = key.destination;
  group.traffic_class = key.traffic_class;
  group.judged = key.judged;
  group.ends = key.ends;
  return &groups_.emplace(key, group).first->second;
}

namespace {
namespace ctnl {

// `now` minus the last counts seen; `now` whole when a counter went down (the id was reused by a
// new connection). nullopt when nothing grew.
template <typename Last>
std::optional<FlowCount> grownSince(const Last& last, const FlowCount& now) {
  FlowCount growth = now;
  if (now.orig_bytes >= last.orig_bytes && now.orig_packets >= last.orig_packets &&
      now.reply_bytes >= last.reply_bytes && now.reply_packets >= last.reply_packets) {
    growth.orig_bytes -= last.orig_bytes;
    growth.orig_packets -= last.orig_packets;
    growth.reply_bytes -= last.reply_bytes;
    growth.reply_packets -= last.reply_packets;
  }
  if (countsNothing(growth)) return std::nullopt;
  return growth;
}

std::optional<FlowCount> whole(const FlowCount& c) {
  if (countsNothing(c)) return std::nullopt;
  return c;
}

}  // namespace ctnl
}  // namespace

void ConnectionGrowth::beginDump() {
  ++dump_number_;
  dumping_ = true;
}

std::optional<FlowCount> ConnectionGrowth::dumped(const FlowCount& cumulative) {
  if (ended_.contains(cumulative.id)) return std::nullopt;  // its event counted it this dump
  auto it = tracked_.find(cumulative.id);
  if (it == tracked_.end()) {
    if (tracked_.size() >= max_tracked_) {
      ++untracked_;  // counted whole by its event
      return std::nullopt;
    }
    tracked_.emplace(cumulative.id,
                     Last{cumulative.orig_bytes, cumulative.orig_packets, cumulative.reply_bytes,
                          cumulative.reply_packets, dump_number_});
    return ctnl::whole(cumulative);  // never counted before
  }
  Last& last = it->second;
  std::optional<FlowCount> growth = ctnl::grownSince(last, cumulative);
  last = Last{cumulative.orig_bytes, cumulative.orig_packets, cumulative.reply_bytes,
              cumulative.reply_packets, dump_number_};
  return growth;
}

std::optional<FlowCount> ConnectionGrowth::ended(const FlowCount& final_counts) {
  if (ended_.contains(final_counts.id)) return std::nullopt;  // a second event of the id
  // During a dump, the entry of this connection may be in a datagram not parsed yet: its counts
  // are in `final_counts`, and the dump must not count them again.
  if (dumping_) ended_.insert(final_counts.id);
  auto it = tracked_.find(final_counts.id);
  if (it == tracked_.end()) return ctnl::whole(final_counts);
  std::optional<FlowCount> growth = ctnl::grownSince(it->second, final_counts);
  tracked_.erase(it);
  return growth;
}

void ConnectionGrowth::endDump() {
  dumping_ = false;
  ended_.clear();
  // Forgotten: the ids seen by neither of the last two complete dumps (this one and the one
  // before). Not after one: a connection that ended just before this dump may have its event
  // still queued, and must stay tracked until it is read, or it would be counted whole again.
  const uint64_t keep_from = last_complete_;
  last_complete_ = dump_number_;
  std::erase_if(tracked_, [&](const auto& entry) {
    if (entry.second.seen_dump >= keep_from) return false;
    ++swept_;
    return true;
  });
}

void ConnectionGrowth::abortDump() {
  // No sweep: a failed dump did not reach every entry, and a connection it missed is still
  // alive; and it does not count as one of the two dumps a connection must be missing from
  // (endDump looks at complete dumps only), so an event still queued keeps its tracking.
  dumping_ = false;
  ended_.clear();
}

std::vector<FlowGroupCount> FlowCountTotals::take() {
  std::vector<FlowGroupCount> out;
  out.reserve(groups_.size());
  for (auto& [key, group] : groups_) out.push_back(group);
  groups_.clear();
  pairs_ = 0;
  return out;
}

size_t FlowCountTotals::KeyHash::operator()(const Key& k) const {
  const uint64_t extra =
      uint64_t{k.traffic_class} << 3 | static_cast<uint64_t>(k.ends) << 1 | (k.judged ? 1 : 0);
  const uint64_t a = keyedHash(k.source, extra);
  const uint64_t b = keyedHash(k.destination, extra);
  // Not symmetric: (a, b) and (b, a) are different groups and should land apart.
  return static_cast<size_t>(a ^ (b * 0x9e3779b97f4a7c15ull + (a << 6) + (a >> 2)));
}

bool udpTimeoutsOutlive(uint32_t interval_seconds) {
  for (const char* name : {"nf_conntrack_udp_timeout", "nf_conntrack_udp_timeout_stream"}) {
    const std::string path = std::string("/proc/sys/net/netfilter/") + name;
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char value[16] = {};
    const ssize_t n = read(fd, value, sizeof(value) - 1);
    close(fd);
    if (n <= 0) return false;
    char* end = nullptr;
    const unsigned long seconds = std::strtoul(value, &end, 10);
    if (end == value || seconds < 2 * uint64_t{interval_seconds}) return false;
  }
  return true;
}

bool udpEndsByDumpNext(bool by_dump_now, bool timeouts_outlive, bool dump_skipped, size_t tracked,
                       size_t max_tracked) {
  if (!timeouts_outlive || dump_skipped) return false;
  return by_dump_now || tracked < max_tracked / 2;
}

Result<std::unique_ptr<ConntrackCounter>> openConntrackCounter(size_t max_groups) {
  ctnl::enableConntrackCounters();
  auto counter = std::make_unique<ctnl::LiveConntrackCounter>(max_groups);
  if (Status s = counter->start(); !s.ok()) return s;
  return std::unique_ptr<ConntrackCounter>(std::move(counter));
}

}  // namespace muzzle
