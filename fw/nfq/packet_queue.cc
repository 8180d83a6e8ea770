#include "fw/nfq/packet_queue.h"

#include <poll.h>

#include <cerrno>
#include <cstring>

namespace muzzle {

Result<size_t> PacketQueue::waitAndDrain(PacketSink& sink, std::chrono::milliseconds max_wait) {
  pollfd p{fd(), POLLIN, 0};
  const int n = poll(&p, 1, static_cast<int>(max_wait.count()));
  if (n < 0 && errno != EINTR)
    return Status::error(std::string("queue: poll failed: ") + std::strerror(errno));
  if (n <= 0) return size_t{0};
  return drain(sink);
}

}  // namespace muzzle
