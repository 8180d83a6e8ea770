// Reading queue messages the normal parser cannot take. Pure; no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace muzzle {

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
