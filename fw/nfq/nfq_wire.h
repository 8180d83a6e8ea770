// Reading the kernel's queue messages. Pure; no I/O. The bytes are untrusted in the sense that
// every length is checked (libmnl validates attribute lengths against the message, the message
// against the buffer), so a malformed message is refused, never read past its end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "fw/nfq/packet_queue.h"

struct nlmsghdr;

namespace muzzle {

// libmnl's callback loop (mnl_cb_run) over the netlink messages in a receive buffer of `len`
// bytes; `seq`, `portid` and `callback` (may be null) as mnl_cb_run takes them. libmnl compares a
// message's length to what is left as a signed int, so a message claiming 2 GiB or more passes its
// check and the loop walks off the buffer: here every length is checked first, the loop runs over
// the whole messages before a bad one, and the result is then MNL_CB_ERROR (a malformed buffer, to
// be counted).
int runNetlinkMessages(const char* buf, size_t len, uint32_t seq, uint32_t portid,
                       int (*callback)(const nlmsghdr* nlh, void* data), void* data);

// Reads one queued-packet message (NFQNL_MSG_PACKET) whose `nlmsg_len` bytes are all in memory
// (libmnl's callback loop checks that). `out->payload` points into the message. Returns false,
// with `*out` unspecified, when the attributes do not parse, one runs past `nlmsg_len`, or the
// packet header is missing: the packet then has no id to answer.
bool parseQueuedPacket(const nlmsghdr* nlh, QueuedPacket* out);

struct QueuedPacketId {
  uint16_t queue = 0;
  uint32_t packet_id = 0;
};

// The queue and packet id of a queued-packet message of which only the first `len` bytes were
// received (the socket's receive slot was too small). The id is all a verdict needs, so the
// packet can still be answered instead of waiting in the kernel's queue for good. Empty when
// the bytes do not hold the netlink and nfnetlink headers and a whole NFQA_PACKET_HDR.
std::optional<QueuedPacketId> idOfTruncatedMessage(const char* buf, size_t len);

}  // namespace muzzle
