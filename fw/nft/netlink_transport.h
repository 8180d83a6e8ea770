// The seam between the nftables writer and the kernel: a NetlinkTransport receives one
// serialized nfnetlink batch (begin, messages, end: the bytes libnftnl built) and reports what the
// kernel answered, or one dump request (the flood guard's counts, @flood-dropped) and returns the
// answer's bytes. The writer never touches a socket itself, so unit tests build the whole ruleset
// without root or a kernel, read the batch back and feed it dump answers (tests/unit/fw/nft/).
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
  // Sends `request`, one message asking for a dump (NLM_F_DUMP), and returns every message of the
  // answer as the kernel sent them, through the NLMSG_DONE that ends it or the NLMSG_ERROR that
  // replaces it (the set does not exist: ENOENT), each at a 4-byte aligned offset: the caller
  // reads them (fw/nft/flood_dump.h). An answer longer than `max_bytes` is an error, and is not
  // kept; so is a failure to send or read. makeMnlTransport's uses the batches' socket and closes
  // it after a failure, so that the rest of an unread dump is never taken for the next answer.
  virtual Result<std::vector<char>> dump(std::span<const char> request, size_t max_bytes) = 0;
};

// Keeps one netlink socket open from its first batch on: closing a netfilter socket makes the
// kernel finish the previous transaction's deferred cleanup first (nf_tables flushes its destroy
// work, which waits for an RCU grace period, when a socket is released), measured at ~10 ms per
// reload, paid while the judge's lock was held. A socket that saw a failure or a refusal is
// closed, so no stale acknowledgement is read by the next batch.
std::unique_ptr<NetlinkTransport> makeMnlTransport();

}  // namespace muzzle
