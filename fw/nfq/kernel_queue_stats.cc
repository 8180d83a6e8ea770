#include "fw/nfq/kernel_queue_stats.h"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace muzzle {
namespace {

constexpr size_t kColumnsNeeded = 8;  // the ninth, a constant 1, is not needed

// Splits `line` on blanks into unsigned numbers; stops at kColumnsNeeded. Returns false when a
// field is not a number or there are too few.
bool parseColumns(std::string_view line, uint64_t (&columns)[kColumnsNeeded]) {
  size_t n = 0;
  size_t pos = 0;
  while (n < kColumnsNeeded) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
    if (pos == line.size()) return false;
    size_t end = pos;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
    const char* b = line.data() + pos;
    const char* e = line.data() + end;
    auto [ptr, ec] = std::from_chars(b, e, columns[n]);
    if (ec != std::errc() || ptr != e) return false;
    ++n;
    pos = end;
  }
  return true;
}

}  // namespace

Result<std::vector<KernelQueueStats>> parseKernelQueueStats(std::string_view text, uint16_t first,
                                                            uint16_t count, std::string_view label) {
  std::vector<KernelQueueStats> out;
  size_t line_number = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    uint64_t c[kColumnsNeeded];
    if (!parseColumns(line, c) || c[0] > 0xffff) {
      return Status::error(StatusCode::kInvalidArgument,
                           std::string(label) + ":" + std::to_string(line_number) +
                               ": expected at least 8 numbers (queue_number peer_portid queue_total "
                               "copy_mode copy_range queue_dropped user_dropped id_sequence), got \"" +
                               std::string(line) + "\"");
    }
    if (c[0] < first || c[0] >= uint32_t{first} + count) continue;
    KernelQueueStats s;
    s.queue = static_cast<uint16_t>(c[0]);
    s.peer_portid = static_cast<uint32_t>(c[1]);
    s.waiting = c[2];
    s.queue_dropped = c[5];
    s.user_dropped = c[6];
    s.id_sequence = c[7];
    out.push_back(s);
  }
  return out;
}

KernelQueueTotals sumKernelQueueStats(const std::vector<KernelQueueStats>& queues) {
  KernelQueueTotals t;
  for (const KernelQueueStats& q : queues) {
    ++t.queues;
    t.waiting += q.waiting;
    t.queue_dropped += q.queue_dropped;
    t.user_dropped += q.user_dropped;
  }
  return t;
}

Result<std::vector<KernelQueueStats>> readKernelQueueStats(uint16_t first, uint16_t count,
                                                           const std::string& path) {
  // /proc files report size 0: read until EOF rather than by the size.
  std::ifstream in(path);
  if (!in) {
    const int err = errno;
    std::string why = std::strerror(err);
    if (err == ENOENT) why += " (is the nfnetlink_queue module loaded? it is once a queue is bound)";
    return Status::error(err == ENOENT ? StatusCode::kNotFound : StatusCode::kUnknown,
                         "cannot read the kernel's queue counters from " + path + ": " + why);
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::error("cannot read the kernel's queue counters from " + path + ": read failed");
  return parseKernelQueueStats(text.str(), first, count, path);
}

namespace {

// Sends NFQNL_CFG_CMD_PF_BIND (obsolete, answered "ok" without touching any queue) so that the
// kernel loads nfnetlink_queue if it is not loaded yet. Best effort: failures are ignored.
void loadQueueModule() {
  mnl_socket* nl = mnl_socket_open(NETLINK_NETFILTER);
  if (nl == nullptr) return;
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == 0) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = nfq_nlmsg_put(buf.data(), NFQNL_MSG_CONFIG, 0);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_PF_BIND);
    nlh->nlmsg_flags |= NLM_F_ACK;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) >= 0) {
      (void)mnl_socket_recvfrom(nl, buf.data(), buf.size());  // the ack
    }
  }
  mnl_socket_close(nl);
}

}  // namespace

std::unique_ptr<KernelQueueStatsFile> KernelQueueStatsFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    loadQueueModule();
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  return std::unique_ptr<KernelQueueStatsFile>(new KernelQueueStatsFile(path, fd));
}

KernelQueueStatsFile::~KernelQueueStatsFile() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::vector<KernelQueueStats>> KernelQueueStatsFile::read(uint16_t first, uint16_t count) {
  if (fd_ < 0) return readKernelQueueStats(first, count, path_);
  // A /proc seq file starts over when read from offset 0 again, with fresh numbers.
  std::string text;
  char buf[4096];
  for (off_t offset = 0;;) {
    const ssize_t n = ::pread(fd_, buf, sizeof(buf), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::error("cannot read the kernel's queue counters from " + path_ + ": " +
                           std::strerror(errno));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    offset += n;
  }
  return parseKernelQueueStats(text, first, count, path_);
}

}  // namespace muzzle
