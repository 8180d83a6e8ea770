// NfqPacketQueue: the kernel's netfilter queues through libnetfilter_queue's libmnl API.
// One netlink socket serves the queues it is given (drained by one queue thread, see
// fw/engine/queue_worker.h); it is drained completely on each wake-up, and verdicts are packed
// several to a sendmsg. The thread waits in the socket's first receive (a blocking recvmmsg that
// returns as soon as one message is there), not in poll(2): a wake-up costs one system call
// fewer, and on a box that judges flows one at a time that is a system call a first packet.
// <arpa/inet.h> must come before the linux/ headers, or struct in_addr is defined twice.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fw/nfq/nfq_wire.h"
#include "fw/nfq/packet_queue.h"

namespace muzzle {
namespace {

// Room for the netlink attributes around a packet's copied bytes (ids, interfaces, marks,
// addresses, lengths: well under 1 KB today).
constexpr size_t kAttributeRoom = 4096;
// A socket takes up to this many messages in one recvmmsg: one system call per burst instead of
// one per packet. Each slot is the size of the largest message its queues may bring (a flow
// queue's header copy, or a whole DNS answer of the inspection queue on the same socket: 2.2 MB
// for the 32), but a slot costs memory only where the kernel writes (ReceiveSlots), so mostly
// one page. And a read that fills fewer slots than it has ends the drain: an answer that came
// alone costs one receive, not a second that finds the socket empty.
constexpr size_t kReceiveSlots = 32;
// Verdict messages are ~40 bytes; flush before the buffer could overflow.
constexpr size_t kSendBufferSize = 64 * 1024;
constexpr size_t kVerdictRoom = 128;
// Bound the work of one wake-up so a stop request is seen within one drain.
constexpr size_t kMaxPacketsPerDrain = 4096;
constexpr int kSocketBufferBytes = 8 * 1024 * 1024;

std::string errnoText(int err) { return std::strerror(err); }

// Written by the draining thread only, read by any (status, logs). A relaxed load and store of a
// whole word: no lock and no locked read-modify-write on the packet path, and a reader never
// sees a torn value.
class Counter {
 public:
  void add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// The receive slots, a mapping of their own, never written by us: a page is resident only once
// the kernel has put a message in it. Taken from the heap (new[]), the block could be made of
// pages the start had touched and freed (the policy compile's; glibc serves a block this large
// from the heap once larger ones were freed), all resident for good: the bench's 10,000-device
// site read 32.8 MB of RSS after start that way, 28.9 MB with the mapping (issue 18).
class ReceiveSlots {
 public:
  ReceiveSlots() = default;
  ReceiveSlots(const ReceiveSlots&) = delete;  // one owner unmaps
  ReceiveSlots& operator=(const ReceiveSlots&) = delete;
  ~ReceiveSlots() {
    if (base_ != nullptr) munmap(base_, size_);
  }
  Status map(size_t size) {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      return Status::error("netfilter queue: cannot map " + std::to_string(size) +
                           " bytes for received messages: " + errnoText(errno));
    }
    base_ = static_cast<char*>(p);
    size_ = size;
    return Status();
  }
  char* get() const { return base_; }

 private:
  char* base_ = nullptr;
  size_t size_ = 0;
};

class NfqPacketQueue : public PacketQueue {
 public:
  NfqPacketQueue() : send_buf_(kSendBufferSize) {}
  ~NfqPacketQueue() override {
    if (nl_ != nullptr) mnl_socket_close(nl_);
  }

  Status open(const QueueOptions& options) {
    options_ = options;
    uint32_t largest_copy = 0;
    for (const QueueBinding& q : options.queues) largest_copy = std::max(largest_copy, q.copy_range);
    slot_size_ = largest_copy + kAttributeRoom;
    Status mapped = recv_buf_.map(kReceiveSlots * slot_size_);
    if (!mapped.ok()) return mapped;
    iov_.resize(kReceiveSlots);
    msgs_.resize(kReceiveSlots);
    for (size_t i = 0; i < kReceiveSlots; ++i) {
      iov_[i] = iovec{recv_buf_.get() + i * slot_size_, slot_size_};
      msgs_[i] = mmsghdr{};
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
    }
    nl_ = mnl_socket_open(NETLINK_NETFILTER);
    if (nl_ == nullptr) return Status::error("netfilter queue: cannot open netlink socket: " + errnoText(errno));
    if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
      return Status::error("netfilter queue: cannot bind netlink socket: " + errnoText(errno));
    }
    portid_ = mnl_socket_get_portid(nl_);
    int fd = mnl_socket_get_fd(nl_);
    // A burst of new flows must not overflow the socket; FORCE needs CAP_NET_ADMIN, which we have.
    int size = kSocketBufferBytes;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
    for (const QueueBinding& q : options.queues) {
      Status s = configure(q);
      if (!s.ok()) return s;
    }
    // The socket stays blocking, for waitAndDrain's first receive; every other receive says
    // MSG_DONTWAIT.
    return Status();
  }

  int fd() const override { return mnl_socket_get_fd(nl_); }

  Result<size_t> drain(PacketSink& sink) override { return drainFrom(sink, false); }

  Result<size_t> waitAndDrain(PacketSink& sink, std::chrono::milliseconds max_wait) override {
    if (max_wait <= std::chrono::milliseconds(0)) return drain(sink);  // a 0 timeout is "for good"
    if (max_wait != receive_timeout_) {
      // How long the first receive may block: the socket's receive timeout, set once for the
      // waits that follow (the queue thread always passes the same).
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(max_wait).count();
      const timeval tv{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
      if (setsockopt(fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
        return Status::error("netfilter queue: cannot set the receive timeout: " +
                             errnoText(errno));
      }
      receive_timeout_ = max_wait;
    }
    return drainFrom(sink, true);
  }

  QueueCounters counters() const override {
    QueueCounters c;
    c.received = received_.get();
    c.verdicts_sent = verdicts_sent_.get();
    c.send_batches = send_batches_.get();
    c.malformed_messages = malformed_messages_.get();
    c.enobufs = enobufs_.get();
    return c;
  }

 private:
  // Reads and judges until the socket is empty (or kMaxPacketsPerDrain), then sends the
  // verdicts. With `wait`, the first receive blocks until a message is there (at most the
  // receive timeout) and takes what else is there with it (MSG_WAITFORONE).
  Result<size_t> drainFrom(PacketSink& sink, bool wait) {
    sink_ = &sink;
    size_t handled = 0;
    Status failure;
    while (handled < kMaxPacketsPerDrain) {
      const int flags = wait ? MSG_WAITFORONE : MSG_DONTWAIT;
      const int n =
          recvmmsg(fd(), msgs_.data(), static_cast<unsigned>(msgs_.size()), flags, nullptr);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == ENOBUFS) {  // the kernel dropped messages for us; they are counted there too
          enobufs_.add();
          continue;
        }
        failure = Status::error("netfilter queue: receive failed: " + errnoText(errno));
        break;
      }
      wait = false;
      received_in_drain_ = 0;
      for (int i = 0; i < n; ++i) {
        const char* buf = recv_buf_.get() + size_t(i) * slot_size_;
        const size_t len = msgs_[i].msg_len;
        if ((msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0) {
          answerTruncated(buf, len);
        } else if (runNetlinkMessages(buf, len, 0, portid_, &NfqPacketQueue::onMessage, this) < 0) {
          malformed_messages_.add();
        }
        msgs_[i].msg_hdr.msg_flags = 0;
      }
      received_.add(received_in_drain_);
      handled += received_in_drain_;
      if (static_cast<size_t>(n) < msgs_.size()) break;  // the socket is empty for now
    }
    Status flushed = flush();
    sink_ = nullptr;
    if (!failure.ok()) return failure;
    if (!flushed.ok()) return flushed;
    return handled;
  }

  // Binds one queue and sets its parameters, waiting for the kernel's answer to each message so
  // that "queue in use" is reported at start-up rather than discovered later.
  Status configure(const QueueBinding& binding) {
    const uint16_t queue = binding.number;
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = nfq_nlmsg_put(buf.data(), NFQNL_MSG_CONFIG, queue);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
    Status s = request(nlh, buf);
    if (!s.ok()) {
      return Status::error("netfilter queue " + std::to_string(queue) + ": cannot bind (" + s.message() +
                           "); is another muzzled, or another queue program, using it?");
    }
    nlh = nfq_nlmsg_put(buf.data(), NFQNL_MSG_CONFIG, queue);
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, static_cast<int>(binding.copy_range));
    nfq_nlmsg_cfg_put_qmaxlen(nlh, options_.max_len);
    // GSO: take large segments whole instead of making the kernel split them for us.
    // FAIL_OPEN is in the mask, left clear: what overflows the queue is dropped, never accepted
    // (QueueOptions says why).
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
    s = request(nlh, buf);
    if (!s.ok()) return Status::error("netfilter queue " + std::to_string(queue) + ": cannot configure: " + s.message());
    return Status();
  }

  Status request(nlmsghdr* nlh, std::vector<char>& buf) {
    nlh->nlmsg_flags |= NLM_F_ACK;
    nlh->nlmsg_seq = ++config_seq_;
    if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) return Status::error(errnoText(errno));
    for (;;) {
      ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
      if (n < 0) return Status::error(errnoText(errno));
      int rc = runNetlinkMessages(buf.data(), static_cast<size_t>(n), config_seq_, portid_, nullptr, nullptr);
      if (rc < 0) return Status::error(errnoText(errno));
      if (rc == MNL_CB_STOP) return Status();  // the acknowledgement
    }
  }

  // A message longer than its receive slot (the attribute room was not enough) cannot be parsed
  // whole, but the packet must still get a verdict or it would sit in the kernel's queue for
  // good: read the id from the first attributes and drop it. Dropped with fail_mode open too:
  // muzzled is running, and a packet it could not judge is not one to pass (QueueOptions).
  void answerTruncated(const char* buf, size_t len) {
    malformed_messages_.add();
    if (auto id = idOfTruncatedMessage(buf, len)) {
      appendVerdict(id->queue, id->packet_id, PacketVerdict{uint32_t{NF_DROP}, std::nullopt});
    }
  }

  static int onMessage(const nlmsghdr* nlh, void* data) {
    return static_cast<NfqPacketQueue*>(data)->handle(nlh);
  }

  int handle(const nlmsghdr* nlh) {
    QueuedPacket p;
    if (!parseQueuedPacket(nlh, &p)) {
      malformed_messages_.add();
      return MNL_CB_OK;
    }
    ++received_in_drain_;
    PacketVerdict v = sink_->onPacket(p);
    appendVerdict(p.queue, p.packet_id, v);
    return MNL_CB_OK;
  }

  void appendVerdict(uint16_t queue, uint32_t id, const PacketVerdict& v) {
    if (send_used_ + kVerdictRoom > send_buf_.size()) {
      Status s = flush();
      if (!s.ok()) last_send_error_ = s;
    }
    nlmsghdr* nlh = nfq_nlmsg_put(send_buf_.data() + send_used_, NFQNL_MSG_VERDICT, queue);
    nfq_nlmsg_verdict_put(nlh, static_cast<int>(id), static_cast<int>(v.verdict));
    if (v.mark) nfq_nlmsg_verdict_put_mark(nlh, *v.mark);
    send_used_ += NLMSG_ALIGN(nlh->nlmsg_len);
    ++pending_verdicts_;
  }

  // Several verdict messages in one datagram: the kernel processes them in order, so answering in
  // arrival order keeps the queue's FIFO semantics.
  Status flush() {
    if (!last_send_error_.ok()) {
      Status s = last_send_error_;
      last_send_error_ = Status();
      return s;
    }
    if (send_used_ == 0) return Status();
    ssize_t n;
    do {
      n = mnl_socket_sendto(nl_, send_buf_.data(), send_used_);
    } while (n < 0 && errno == EINTR);
    size_t count = pending_verdicts_;
    send_used_ = 0;
    pending_verdicts_ = 0;
    if (n < 0) return Status::error("netfilter queue: sending " + std::to_string(count) + " verdicts failed: " + errnoText(errno));
    verdicts_sent_.add(count);
    send_batches_.add();
    return Status();
  }

  QueueOptions options_;
  mnl_socket* nl_ = nullptr;
  uint32_t portid_ = 0;
  uint32_t config_seq_ = 0;
  size_t slot_size_ = 0;
  ReceiveSlots recv_buf_;  // slots of slot_size_ bytes, one per message of a recvmmsg
  std::vector<iovec> iov_;
  std::vector<mmsghdr> msgs_;
  std::vector<char> send_buf_;
  size_t send_used_ = 0;
  size_t pending_verdicts_ = 0;
  Status last_send_error_;
  std::chrono::milliseconds receive_timeout_{0};  // 0: never set (the socket waits for good)
  PacketSink* sink_ = nullptr;
  uint64_t received_in_drain_ = 0;
  Counter received_, verdicts_sent_, send_batches_, malformed_messages_, enobufs_;
};

}  // namespace

Result<std::unique_ptr<PacketQueue>> openNfqPacketQueue(const QueueOptions& options) {
  auto queue = std::make_unique<NfqPacketQueue>();
  Status s = queue->open(options);
  if (!s.ok()) return s;
  return std::unique_ptr<PacketQueue>(std::move(queue));
}

}  // namespace muzzle
