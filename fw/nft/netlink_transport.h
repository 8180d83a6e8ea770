// The seam between the nftables writer and the kernel: a NetlinkTransport receives one
// serialized nfnetlink batch (begin, messages, end: the bytes libnftnl built) and reports what the
// kernel answered. The writer never touches a socket itself, so unit tests build the whole
// ruleset without root or a kernel and read the batch back (tests/unit/fw/nft/).
//
// The real transport (makeMnlTransport) talks NETLINK_NETFILTER through libmnl in the calling
// thread's network namespace and needs CAP_NET_ADMIN. It is used by one thread at a time. It
// sends a batch in one message, so it raises the socket's send buffer to the batch's size first
// (SO_SNDBUFFORCE, which CAP_NET_ADMIN allows; else SO_SNDBUF, up to net.core.wmem_max) and the
// receive buffer to hold every acknowledgement, which the kernel queues before the first is read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "fw/common/status.h"

namespace muzzle {

// The kernel refused message `seq` of a batch with `error` (a positive errno). It applies a batch
// all or nothing, so nothing of it is in place.
struct NetlinkRefusal {
  uint32_t seq = 0;
  int error = 0;
};

class NetlinkTransport {
 public:
  virtual ~NetlinkTransport() = default;
  // Sends `batch` and waits for the acknowledgements of its `acked` messages that asked for one.
  // Returns the first refusal, or nothing when every message was accepted; an error Status when
  // the batch could not be sent or the answers not read (no socket, no permission).
  virtual Result<std::optional<NetlinkRefusal>> transact(std::span<const char> batch,
                                                         size_t acked) = 0;
};

// Keeps one netlink socket open from its first batch on: closing a netfilter socket makes the
// kernel finish the previous transaction's deferred cleanup first (nf_tables flushes its destroy
// work, which waits for an RCU grace period, when a socket is released), measured at ~10 ms per
// reload, paid while the judge's lock was held. A socket that saw a failure or a refusal is
// closed, so no stale acknowledgement is read by the next batch.
std::unique_ptr<NetlinkTransport> makeMnlTransport();

}  // namespace muzzle
