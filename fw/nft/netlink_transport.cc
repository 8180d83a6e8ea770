// NetlinkTransport over libmnl: see netlink_transport.h.
#include "fw/nft/netlink_transport.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

namespace muzzle {
namespace {

// What one acknowledgement costs in the receive buffer (its socket buffer, not its 36 bytes), as
// nft(8) counts it: the kernel queues every ack of a batch before we read the first, and drops
// (ENOBUFS) what does not fit, though the batch was applied.
constexpr size_t kAckBytes = 1024;

// Raises a socket buffer (SO_SNDBUF or SO_RCVBUF) to at least `bytes`: past the system's limit
// (net.core.wmem_max) with CAP_NET_ADMIN, else up to it. Never lowers it.
void raiseBuffer(int fd, int force_option, int option, size_t bytes) {
  int current = 0;
  socklen_t len = sizeof(current);
  if (getsockopt(fd, SOL_SOCKET, option, &current, &len) == 0 &&
      static_cast<size_t>(current) >= bytes) {
    return;
  }
  const int want = static_cast<int>(std::min<size_t>(bytes, INT_MAX / 2));
  if (setsockopt(fd, SOL_SOCKET, force_option, &want, sizeof(want)) == 0) return;
  // Without the capability: as far as the system allows; a batch still too large then fails
  // with EMSGSIZE, reported by the send.
  setsockopt(fd, SOL_SOCKET, option, &want, sizeof(want));
}

class MnlTransport : public NetlinkTransport {
 public:
  ~MnlTransport() override { close(); }

  Result<std::optional<NetlinkRefusal>> transact(std::span<const char> batch,
                                                 size_t acked) override {
    if (Status s = open(); !s.ok()) return s;
    Result<std::optional<NetlinkRefusal>> answer = sendAndCollectAcks(batch, acked);
    if (!answer.ok() || answer->has_value()) close();
    return answer;
  }

  Result<std::vector<char>> dump(std::span<const char> request, size_t max_bytes) override {
    if (Status s = open(); !s.ok()) return s;
    Result<std::vector<char>> answer = sendAndCollectDump(request, max_bytes);
    // The rest of a dump left unread would be read as the answer to the next request.
    if (!answer.ok()) close();
    return answer;
  }

 private:
  Status open() {
    if (nl_ != nullptr) return Status();
    nl_ = mnl_socket_open(NETLINK_NETFILTER);
    if (nl_ == nullptr) {
      return Status::error(std::string("nftables: cannot open netlink socket: ") +
                           std::strerror(errno));
    }
    if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
      const int err = errno;
      close();
      return Status::error(std::string("nftables: cannot bind netlink socket: ") +
                           std::strerror(err));
    }
    return Status();
  }

  void close() {
    if (nl_ != nullptr) mnl_socket_close(nl_);
    nl_ = nullptr;
  }

  // After a refusal the socket may still hold acknowledgements of this batch: transact() closes it.
  Result<std::optional<NetlinkRefusal>> sendAndCollectAcks(std::span<const char> batch,
                                                           size_t pending) {
    const int fd = mnl_socket_get_fd(nl_);
    // The kernel refuses (EMSGSIZE) a message longer than the send buffer (~208 KiB by default).
    raiseBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, batch.size());
    raiseBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, pending * kAckBytes);
    if (mnl_socket_sendto(nl_, batch.data(), batch.size()) < 0) {
      return Status::error("nftables: sending the batch of " + std::to_string(batch.size()) +
                           " bytes failed: " + std::strerror(errno));
    }
    // A refusal echoes the refused message, up to 64 KiB of set elements: a shorter read would
    // fail (ENOSPC) instead of naming it.
    std::vector<char> buf(0xffff + MNL_SOCKET_BUFFER_SIZE);
    std::optional<NetlinkRefusal> refusal;
    while (pending > 0) {
      ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::error(std::string("nftables: reading acknowledgements failed: ") +
                             std::strerror(errno));
      }
      int len = static_cast<int>(n);
      for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
           nlh = mnl_nlmsg_next(nlh, &len)) {
        if (nlh->nlmsg_type != NLMSG_ERROR) continue;
        --pending;
        auto* err = static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (err->error != 0 && !refusal) refusal = NetlinkRefusal{nlh->nlmsg_seq, -err->error};
      }
      // The kernel stops acknowledging after the failing message of an aborted batch.
      if (refusal) break;
    }
    return refusal;
  }

  // Collects the messages of one dump answer, in order; stops at its NLMSG_DONE or NLMSG_ERROR.
  Result<std::vector<char>> sendAndCollectDump(std::span<const char> request, size_t max_bytes) {
    if (request.size() < sizeof(nlmsghdr)) {
      return Status::error("nftables: a dump request of " + std::to_string(request.size()) +
                           " bytes is no netlink message");
    }
    const uint32_t seq = reinterpret_cast<const nlmsghdr*>(request.data())->nlmsg_seq;
    if (mnl_socket_sendto(nl_, request.data(), request.size()) < 0) {
      return Status::error(std::string("nftables: sending a dump request failed: ") +
                           std::strerror(errno));
    }
    // The kernel fills each datagram of a dump up to 32 KiB (MNL_SOCKET_DUMP_SIZE).
    std::vector<char> buf(0xffff + MNL_SOCKET_BUFFER_SIZE);
    std::vector<char> answer;
    while (true) {
      const ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::error(std::string("nftables: reading a dump failed: ") +
                             std::strerror(errno));
      }
      int len = static_cast<int>(n);
      for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
           nlh = mnl_nlmsg_next(nlh, &len)) {
        if (nlh->nlmsg_seq != seq) continue;  // not ours: nothing else is outstanding
        const size_t aligned = NLMSG_ALIGN(nlh->nlmsg_len);
        if (answer.size() + aligned > max_bytes) {
          return Status::error("nftables: the dump answer is longer than the " +
                               std::to_string(max_bytes) + " bytes it may be");
        }
        const char* bytes = reinterpret_cast<const char*>(nlh);
        answer.insert(answer.end(), bytes, bytes + nlh->nlmsg_len);
        answer.resize(answer.size() + aligned - nlh->nlmsg_len, 0);
        if (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR) return answer;
      }
    }
  }

  mnl_socket* nl_ = nullptr;
};

}  // namespace

std::unique_ptr<NetlinkTransport> makeMnlTransport() { return std::make_unique<MnlTransport>(); }

}  // namespace muzzle
