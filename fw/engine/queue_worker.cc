#include "fw/engine/queue_worker.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace muzzle {

namespace {
std::vector<std::unique_ptr<PacketQueue>> one(std::unique_ptr<PacketQueue> queue) {
  std::vector<std::unique_ptr<PacketQueue>> queues;
  queues.push_back(std::move(queue));
  return queues;
}
}  // namespace

QueueWorker::QueueWorker(std::string name, std::unique_ptr<PacketQueue> queue, PacketSink& sink,
                         std::function<void(const Status&)> on_failure)
    : QueueWorker(std::move(name), one(std::move(queue)), sink, std::move(on_failure)) {}

QueueWorker::QueueWorker(std::string name, std::vector<std::unique_ptr<PacketQueue>> queues,
                         PacketSink& sink, std::function<void(const Status&)> on_failure)
    : name_(std::move(name)), queues_(std::move(queues)), sink_(sink), on_failure_(std::move(on_failure)) {}

QueueCounters QueueWorker::counters() const {
  QueueCounters sum;
  for (const auto& queue : queues_) sum += queue->counters();
  return sum;
}

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
  std::vector<pollfd> fds;
  for (const auto& queue : queues_) fds.push_back({queue->fd(), POLLIN, 0});
  fds.push_back({stop_fd_, POLLIN, 0});
  // The first pass drains every socket: packets queued before the thread started (between the
  // ruleset install and now) get their verdicts without waiting for one more to arrive. Later
  // passes drain the sockets poll() found readable (or broken: drain() reports that).
  bool every = true;
  for (;;) {
    for (size_t i = 0; i < queues_.size(); ++i) {
      if (!every && fds[i].revents == 0) continue;
      auto handled = queues_[i]->drain(sink_);
      if (!handled.ok()) {
        on_failure_(handled.status());
        return;
      }
    }
    every = false;
    int n;
    do {
      n = poll(fds.data(), fds.size(), -1);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      on_failure_(Status::error("queue thread " + name_ + ": poll failed: " + std::strerror(errno)));
      return;
    }
    if (fds.back().revents != 0) return;
  }
}

}  // namespace muzzle
