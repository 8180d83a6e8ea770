// EventRing: the last `capacity` events (denials, new devices, policy changes, ...) with
// sequence numbers, for WatchEvents. The EventLog's delivery thread pushes (the ring is one of
// its consumers, fw/engine/event_log.h), never a thread that judges packets; gRPC threads read.
// A reader that asks for events the ring has already dropped gets a Gap first.
// Sequences start at 1 with each ring, that is with each run of muzzled; the ring's `epoch`
// (random, never 0) tells runs apart, so a reader resuming from an earlier run is told (resume()).
//
// Thread-safe. The lock is held only to copy events in or out, so the delivery thread never
// waits on a watcher: watchers are woken after the lock is released, and a wake-up only
// schedules a write (EventWatch in mgmt/server/services.cc). The event's time is the time the
// line was written (LogLine::time()), not when it reached the ring.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "fw/engine/event_log.h"
#include "muzzle/v1/management.pb.h"

namespace muzzle {

v1::EventKind eventKindOf(std::string_view event_name);

class EventRing : public EventSink {
 public:
  explicit EventRing(size_t capacity = 4096, uint64_t epoch = newEpoch())
      : capacity_(capacity), epoch_(epoch) {}

  // A random value for a new run, never 0 (0 means "this run" in a request).
  static uint64_t newEpoch();
  uint64_t epoch() const { return epoch_; }

  // The EventLog's delivery thread (EventSink).
  void onEvent(const LogLine& line) override;
  // Any thread; for tests and for events that did not come from a log line.
  void push(v1::Event event);

  struct Batch {
    std::optional<v1::Gap> gap;  // set when events after `sequence` were already dropped
    std::vector<v1::Event> events;
  };
  // Up to `max` events with sequence > `sequence`.
  Batch after(uint64_t sequence, size_t max) const;

  // Where a reader resuming after (`epoch`, `sequence`) starts in this run: `sequence` itself
  // (epoch 0 or this run's), or, when the epoch is another run's, or 0 with a sequence this run
  // never reached, 0 with a gap marked `restarted` to send first.
  struct Resume {
    uint64_t after = 0;
    std::optional<v1::Gap> restarted;
  };
  Resume resume(uint64_t epoch, uint64_t sequence) const;
  uint64_t lastSequence() const;
  uint64_t firstSequence() const;  // oldest still held; lastSequence()+1 when empty

  // A wake-up called (outside the ring's lock) after each push until the returned handle is
  // destroyed. Destroying the handle waits for no call in progress to still run, so the waker
  // may reference its owner.
  class Subscription;
  std::unique_ptr<Subscription> subscribe(std::function<void()> waker);

 private:
  struct Waker {
    std::mutex mu;
    std::function<void()> fn;  // empty once unsubscribed
  };
  size_t capacity_;
  const uint64_t epoch_;
  mutable std::mutex mu_;
  std::deque<v1::Event> events_;
  uint64_t last_ = 0;
  std::vector<std::shared_ptr<Waker>> wakers_;

 public:
  class Subscription {
   public:
    Subscription(EventRing& ring, std::shared_ptr<Waker> waker)
        : ring_(ring), waker_(std::move(waker)) {}
    ~Subscription();

   private:
    EventRing& ring_;
    std::shared_ptr<Waker> waker_;
  };
};

}  // namespace muzzle
