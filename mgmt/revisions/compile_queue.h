// CompileQueue: the management plane's compile thread. Compiling a policy (parse, validate, build
// the address sets) takes milliseconds, and up to seconds for a large one on a small box; on the
// engine thread it would hold back timers (the commit-confirmed rollback, the watchdog), status
// calls and every other client. Jobs submitted here run on one thread, one at a time, in order;
// a job posts its result back to the engine thread itself (EngineControl::post).
//
// Bounded: at most `max_pending` client jobs wait or run at once (kMaxPending); past that,
// submit() refuses with kResourceExhausted, so clients cannot pile up policy texts in memory.
// Urgent jobs (the commit-confirmed rollback) are never refused and run before waiting client
// jobs, so clients cannot delay a rollback by more than the compile that is running.
//
// Thread-safe. The destructor lets the running job finish and drops waiting ones unrun; their
// callers must cope with never hearing back at shutdown (gRPC cancels their calls).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "fw/common/status.h"

namespace muzzle {

class CompileQueue {
 public:
  static constexpr size_t kMaxPending = 4;
  explicit CompileQueue(size_t max_pending = kMaxPending);
  ~CompileQueue();
  CompileQueue(const CompileQueue&) = delete;
  CompileQueue& operator=(const CompileQueue&) = delete;

  // Any thread. Queues `job`, or refuses (kResourceExhausted) when max_pending client jobs are
  // already waiting or running.
  Status submit(std::function<void()> job);
  // Any thread. Queues `job` ahead of waiting client jobs; never refused.
  void submitUrgent(std::function<void()> job);

  // Sets the process's malloc thresholds for compiles that follow one another (issue 18): blocks
  // under 4 MiB (a large site's YAML document, its device tables) come from the heap, and up to
  // 8 MiB of freed heap is kept, so the next compile finds its memory ready instead of faulting
  // it in again; 4 MiB and more (a large list file's text) get mappings of their own, returned
  // whole. Fixed, not glibc's sliding mmap threshold: that one rises past the big transient
  // buffers after the first compile, leaving holes in the heap that the new policy's small
  // allocations pin. muzzled calls it first thing; the compile benchmark too.
  static void tuneMalloc();

 private:
  struct Job {
    std::function<void()> fn;
    bool counted;  // a client job, counted against max_pending
  };
  void run();

  const size_t max_pending_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  size_t client_jobs_ = 0;  // waiting or running
  bool stopping_ = false;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace muzzle
