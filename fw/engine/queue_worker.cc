#include "fw/engine/queue_worker.h"

#include <pthread.h>

namespace muzzle {

QueueWorker::QueueWorker(std::string name, std::unique_ptr<PacketQueue> queue, PacketSink& sink,
                         std::function<void(const Status&)> on_failure)
    : name_(std::move(name)),
      queue_(std::move(queue)),
      sink_(sink),
      on_failure_(std::move(on_failure)) {}

QueueCounters QueueWorker::counters() const { return queue_->counters(); }

QueueWorker::~QueueWorker() { stop(); }

Status QueueWorker::start() {
  thread_ = std::thread([this] { loop(); });
  // Shows in top -H and in a core dump which queue a thread serves.
  pthread_setname_np(thread_.native_handle(), name_.substr(0, 15).c_str());
  return Status();
}

void QueueWorker::requestStop() { stopping_.store(true, std::memory_order_relaxed); }

void QueueWorker::stop() {
  requestStop();
  if (thread_.joinable()) thread_.join();
}

void QueueWorker::loop() {
  // The first wait returns at once when packets are already queued (between the ruleset install
  // and now): they get their verdicts without waiting for one more to arrive.
  while (!stopping_.load(std::memory_order_relaxed)) {
    auto handled = queue_->waitAndDrain(sink_, kStopCheck);
    turns_.store(turns_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (!handled.ok()) {
      on_failure_(handled.status());
      return;
    }
  }
}

}  // namespace muzzle
