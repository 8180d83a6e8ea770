// QueueWorker: one thread (a queue thread) draining one netfilter queue socket. On a box with
// several cores the ruleset spreads new flows over `queue.count` queues (fanout) and each flow
// queue is drained by its own thread, so receiving, parsing and sending verdicts — and the
// kernel's forwarding of each released packet, which runs inside our sendmsg — happen on every
// core at once. The inspection queue is bound on the last flow queue's socket (see
// Daemon::openQueues for why).
//
// The thread waits in its socket (PacketQueue::waitAndDrain: the kernel queue's first receive
// blocks), drains it into its sink, and ends on stop() or when the socket breaks (then it calls
// `on_failure` once, from its own thread, and stops). It looks for a stop request between waits,
// which end at least every kStopCheck: no stop descriptor to poll beside the socket, so a
// wake-up is one system call. Packets never wait for the engine thread (the Daemon's loop:
// signals, timers, management calls, policy compiles).
//
// Each turn of the loop (each wait that ended, with a drain or with nothing) counts in turns(),
// which the engine thread reads to tell a live queue thread from one that hangs (a judgement
// that never ends, a lock never released, a system call that never returns): such a thread's
// queue fills and every new flow of its segments is dropped, while the engine loop still turns
// (Daemon::checkQueues, fw/engine/queue_liveness.h).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "fw/common/status.h"
#include "fw/nfq/packet_queue.h"

namespace muzzle {

// Serialises packets from several queue threads into one sink (the Judge: its device inventory
// and name cache are shared by every queue). The lock is held for the judgement only, not for
// the socket work around it; whoever else touches the sink's state takes the same mutex.
class LockedSink : public PacketSink {
 public:
  // "*mu" and "*inner" must outlive the LockedSink.
  LockedSink(std::mutex& mu, PacketSink& inner) : mu_(mu), inner_(inner) {}
  PacketVerdict onPacket(const QueuedPacket& packet) override {
    std::lock_guard<std::mutex> lock(mu_);
    return inner_.onPacket(packet);
  }

 private:
  std::mutex& mu_;
  PacketSink& inner_;
};

class QueueWorker {
 public:
  // How long a stop request may wait for the thread's wait to end.
  static constexpr std::chrono::milliseconds kStopCheck{100};

  // `sink` must outlive the worker and be safe to call from its thread. `name` names the thread
  // (at most 15 characters are kept), e.g. "muzzle-q100".
  QueueWorker(std::string name, std::unique_ptr<PacketQueue> queue, PacketSink& sink,
              std::function<void(const Status&)> on_failure);
  ~QueueWorker();  // stop()s
  QueueWorker(const QueueWorker&) = delete;
  QueueWorker& operator=(const QueueWorker&) = delete;

  // Starts the thread.
  Status start();
  // Asks the thread to end after the wait or drain it is in, without waiting for it: a caller
  // with several workers asks them all before it stop()s each, so their waits end together.
  void requestStop();
  // requestStop(), then waits for the thread to end (at most kStopCheck and one drain).
  // Idempotent.
  void stop();
  // Any thread.
  QueueCounters counters() const;
  // Any thread: how many times the thread's loop has turned since start(). A healthy thread
  // turns at least every kStopCheck plus one drain, busy or idle; a count that stands still for
  // seconds means the thread hangs. One relaxed store per wake-up, never one per packet: a drain
  // is bounded (kMaxPacketsPerDrain in fw/nfq/nfq_packet_queue.cc, each judgement bounded by the
  // Judge's bounded parsers and tables), so a turn takes milliseconds, and a drain that takes
  // seconds is itself the hang this count is there to show.
  uint64_t turns() const { return turns_.load(std::memory_order_relaxed); }

 private:
  void loop();

  std::string name_;
  std::unique_ptr<PacketQueue> queue_;
  PacketSink& sink_;
  std::function<void(const Status&)> on_failure_;
  std::atomic<bool> stopping_{false};
  // Written by the queue thread alone (a load and a store, no locked read-modify-write).
  std::atomic<uint64_t> turns_{0};
  std::thread thread_;
};

}  // namespace muzzle
