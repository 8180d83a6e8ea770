// QueueWorker: one thread (a queue thread) draining one or more netfilter queue sockets. On a
// box with several cores the ruleset spreads new flows over `queue.count` queues (fanout) and
// each flow queue is drained by its own thread, so receiving, parsing and sending verdicts — and
// the kernel's forwarding of each released packet, which runs inside our sendmsg — happen on
// every core at once. The inspection queue's socket rides on the last flow queue's thread (see
// Daemon::openQueues for why).
//
// The thread waits on its sockets' descriptors and on a stop descriptor, drains each readable
// socket into its sink, and ends on stop() or when a socket breaks (then it calls `on_failure`
// once, from its own thread, and stops). Packets never wait for the engine thread (the Daemon's
// loop: signals, timers, management calls, policy compiles).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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
  // `sink` must outlive the worker and be safe to call from its thread. `name` names the thread
  // (at most 15 characters are kept), e.g. "muzzle-q100".
  QueueWorker(std::string name, std::unique_ptr<PacketQueue> queue, PacketSink& sink,
              std::function<void(const Status&)> on_failure);
  // Several sockets on one thread: each wake-up drains every socket that is readable, in the
  // order given (a drain is bounded, so none starves the others). `queues` must not be empty.
  QueueWorker(std::string name, std::vector<std::unique_ptr<PacketQueue>> queues, PacketSink& sink,
              std::function<void(const Status&)> on_failure);
  ~QueueWorker();  // stop()s
  QueueWorker(const QueueWorker&) = delete;
  QueueWorker& operator=(const QueueWorker&) = delete;

  // Starts the thread. Fails only if the stop descriptor cannot be made.
  Status start();
  // Wakes the thread and waits for it to finish the drain it is in. Idempotent.
  void stop();
  // Any thread. Summed over the worker's sockets.
  QueueCounters counters() const;

 private:
  void loop();

  std::string name_;
  std::vector<std::unique_ptr<PacketQueue>> queues_;
  PacketSink& sink_;
  std::function<void(const Status&)> on_failure_;
  int stop_fd_ = -1;
  std::thread thread_;
};

}  // namespace muzzle
