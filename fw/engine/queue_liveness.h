// QueueLiveness: which queue threads still turn. A queue thread (fw/engine/queue_worker.h) that
// hangs — a judgement that never ends on a crafted packet, the Judge's lock never released, a
// system call that never returns — judges nothing more: its kernel queue fills, and every new
// flow of its segments is dropped (a full queue drops in either fail_mode, fw/nfq/packet_queue.h).
// The engine loop turns on all the same, so the watchdog timer alone would keep telling systemd
// all is well. The Daemon asks check() every second and before each WATCHDOG=1, and withholds
// the ping while a thread is stalled: systemd then restarts muzzled, and one packet that wedges
// a queue thread costs at most a restart.
//
// A thread is stalled when its turn count (QueueWorker::turns()) has not moved for longer than
// `stall_after`. A count is seen to move only when check() reads it, so the times here (the
// `seconds=` of the events) are as precise as the checks are frequent: a second, for the Daemon.
//
// A thread that hangs while it holds the Judge's lock (a judgement that never ends) stops the
// engine thread too, at its next use of that lock (the learning ticker takes it every second):
// the pings stop all the same and systemd restarts muzzled, but no event is written then; the
// journal has systemd's watchdog timeout. So does a queue thread that waits for the lock
// forever: whoever holds it stops the engine too. What this class adds is the thread that hangs
// outside the lock (in a system call, in the queue's own code, stopped), which the engine loop
// would otherwise outlive, pinging.
//
// Pure: the counts and the time are the caller's, so tests move time instead of sleeping. The
// Daemon uses it on the engine thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fw/engine/event_log.h"

namespace muzzle {

class QueueLiveness {
 public:
  // Far above the longest a healthy thread goes between two turns: the idle wait ends every
  // 100 ms (QueueWorker::kStopCheck), a drain is bounded (at most 4096 packets of a few
  // microseconds' judging, tens of milliseconds on a small box), and the engine holds the
  // Judge's lock for a policy swap and its ruleset batch (about a millisecond in the bench,
  // tests/bench). Well below systemd's WatchdogSec=30s (image/systemd/muzzled.service): the
  // last ping goes out at most this (and a check's second) after the last turn, so systemd
  // restarts muzzled at most WatchdogSec later, 36 s after the thread stopped. A thread held
  // this long is reported whatever holds it: its queue's packets waited all that time.
  static constexpr std::chrono::seconds kStallAfter{5};

  explicit QueueLiveness(std::chrono::steady_clock::duration stall_after = kStallAfter)
      : stall_after_(stall_after) {}

  // Watches one more thread: `thread` its name ("muzzle-q100"), `queues` the queue numbers it
  // drains ("100" or "101,102"), as the events name them. Its count is check()'s
  // `turns[i]`, i in the order of watch().
  void watch(std::string thread, std::string queues);

  // `turns`: every watched thread's turn count now, in watch() order. The first check only
  // takes the counts (a thread counts as turned at `now`). Returns the lines to log: for a
  // thread first seen stalled, `event=queue-stalled queue=Q thread=T seconds=S` (S: since its
  // last turn seen), once; for a stalled thread that turned again, `event=queue-resumed ...
  // seconds=S` (S: how long it went without a turn).
  std::vector<LogLine> check(std::span<const uint64_t> turns,
                             std::chrono::steady_clock::time_point now);

  // As the last check() saw it.
  size_t stalledNow() const;
  bool anyStalled() const { return stalledNow() > 0; }
  // Stalls seen since start: each thread's every passage into the stalled state.
  uint64_t stalls() const { return stalls_; }

 private:
  struct Thread {
    std::string name;
    std::string queues;
    uint64_t turns = 0;
    std::chrono::steady_clock::time_point turned_at{};  // when check() saw `turns` move last
    bool seen = false;                                  // a check() took its count
    bool stalled = false;
  };
  std::chrono::steady_clock::duration stall_after_;
  std::vector<Thread> threads_;
  uint64_t stalls_ = 0;
};

}  // namespace muzzle
