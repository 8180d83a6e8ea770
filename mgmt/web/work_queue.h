// WorkQueue: one thread that runs jobs in order, for work too slow for a server's own thread —
// the console checks passwords (yescrypt, tens of milliseconds each) here, so a burst of logins
// never stalls other browsers' pages. Bounded: past `max_waiting` jobs, submit() refuses at
// once (the caller answers 503) instead of queueing without end. Jobs still waiting when the
// queue is destroyed are dropped, never run.
#pragma once

#include <pthread.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include "fw/common/thread_priority.h"

namespace muzzle::web {

class WorkQueue {
 public:
  explicit WorkQueue(size_t max_waiting) : max_waiting_(max_waiting), thread_([this] { run(); }) {}
  ~WorkQueue() { stop(); }
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `job` for the thread; false (and `job` dropped) when `max_waiting` already wait or
  // the queue stopped.
  bool submit(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_ || waiting_.size() >= max_waiting_) return false;
      waiting_.push_back(std::move(job));
    }
    wake_.notify_one();
    return true;
  }

  // Jobs queued and not started yet.
  size_t waiting() const {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_.size();
  }

  // Lets the running job finish, drops the waiting ones and joins the thread. Idempotent.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
      waiting_.clear();
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    pthread_setname_np(pthread_self(), "muzzle-web-jobs");
    runAsBackgroundThread();  // a burst of logins must not slow verdicts
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [this] { return stopped_ || !waiting_.empty(); });
        if (stopped_) return;
        job = std::move(waiting_.front());
        waiting_.pop_front();
      }
      job();
    }
  }

  const size_t max_waiting_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> waiting_;
  bool stopped_ = false;
  std::thread thread_;  // last: it starts once the members above exist
};

}  // namespace muzzle::web
