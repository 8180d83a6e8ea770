// NetlinkTransport over libmnl: see netlink_transport.h.
#include "fw/nft/netlink_transport.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace muzzle {
namespace {

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
    if (mnl_socket_sendto(nl_, batch.data(), batch.size()) < 0) {
      return Status::error(std::string("nftables: sending the batch failed: ") +
                           std::strerror(errno));
    }
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
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

  mnl_socket* nl_ = nullptr;
};

}  // namespace

std::unique_ptr<NetlinkTransport> makeMnlTransport() { return std::make_unique<MnlTransport>(); }

}  // namespace muzzle
