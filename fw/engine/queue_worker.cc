#include "fw/engine/queue_worker.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace muzzle {

QueueWorker::QueueWorker(std::string name, std::unique_ptr<PacketQueue> queue, PacketSink& sink,
                         std::function<void(const Status&)> on_failure)
    : name_(std::move(name)), queue_(std::move(queue)), sink_(sink), on_failure_(std::move(on_failure)) {}

QueueWorker::~QueueWorker() {
  stop();
  if (stop_fd_ >= 0) close(stop_fd_);
}

Status QueueWorker::start() {
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) {
    return Status::error("queue thread " + name_ + ": cannot create its stop descriptor: " + std::strerror(errno));
  }
  thread_ = std::thread([this] { loop(); });
  // Shows in top -H and in a core dump which queue a thread serves.
  pthread_setname_np(thread_.native_handle(), name_.substr(0, 15).c_str());
  return Status();
}

void QueueWorker::stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  while (write(stop_fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
  thread_.join();
}

void QueueWorker::loop() {
  pollfd fds[2] = {{queue_->fd(), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    // Drain first: packets queued before the thread started (between the ruleset install and
    // now) get their verdicts without waiting for one more to arrive.
    auto handled = queue_->drain(sink_);
    if (!handled.ok()) {
      on_failure_(handled.status());
      return;
    }
    int n;
    do {
      n = poll(fds, 2, -1);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      on_failure_(Status::error("queue thread " + name_ + ": poll failed: " + std::strerror(errno)));
      return;
    }
    if (fds[1].revents != 0) return;
  }
}

}  // namespace muzzle
