// EventRing from the start of a ring that already dropped events, and as muzzled uses it: queue
// threads and the engine thread push, gRPC threads read and subscribe and unsubscribe at any
// moment. The test checks what readers rely on (sequence numbers without duplicates or reordering,
// gaps that say what was lost, no wake-up after a subscription ends); built with MUZZLE_TSAN
// (tests/run-tests.sh does) it also shows that the ring is free of data races.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "mgmt/events/event_ring.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

TEST_CASE("a reader from the start of a ring that dropped events gets the oldest held ones") {
  EventRing ring(4);
  for (uint64_t i = 0; i < 10; ++i) ring.onEvent(LogLine("deny").add("n", i));  // holds 7..10
  const EventRing::Batch b = ring.after(0, 10);  // WatchEvents with after_sequence 0
  CHECK_FALSE(b.gap);
  REQUIRE(b.events.size() == 4);
  CHECK(b.events[0].sequence() == 7);
  CHECK(b.events[3].sequence() == 10);
}

TEST_CASE("pushers, readers and subscribers on their own threads") {
  constexpr int kPushers = 3;
  constexpr uint64_t kPerPusher = 2000;
  constexpr uint64_t kTotal = kPushers * kPerPusher;
  EventRing ring(256);  // smaller than what is pushed: readers see gaps
  std::atomic<bool> pushing{true};

  std::vector<std::thread> pushers;
  for (int p = 0; p < kPushers; ++p) {
    pushers.emplace_back([&ring, p] {
      for (uint64_t i = 0; i < kPerPusher; ++i) {
        ring.onEvent(LogLine("deny").add("pusher", static_cast<uint64_t>(p)).add("n", i));
      }
    });
  }

  // A watcher from the start that then resumes from the last sequence it saw; everything it
  // misses after its first event is in a gap.
  uint64_t seen = 0, missed = 0, last = 0;
  bool ordered = true, gaps_consistent = true;
  std::thread reader([&] {
    // Bounded, so a reader that stops making progress fails the checks below instead of hanging.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while ((pushing.load() || last < ring.lastSequence()) &&
           std::chrono::steady_clock::now() < deadline) {
      const EventRing::Batch b = ring.after(last, 64);
      if (b.gap) {
        gaps_consistent &=
            b.gap->first_missing() == last + 1 && b.gap->first_available() > b.gap->first_missing();
        missed += b.gap->first_available() - b.gap->first_missing();
        last = b.gap->first_available() - 1;
      }
      if (last == 0 && !b.events.empty()) {
        // From the start, a reader gets the oldest held events, without a gap marker.
        missed += b.events.front().sequence() - 1;
        last = b.events.front().sequence() - 1;
      }
      for (const v1::Event& e : b.events) {
        ordered &= e.sequence() == last + 1;
        last = e.sequence();
        ++seen;
      }
    }
  });

  // Watchers that come and go: a wake-up never reaches one that has gone.
  std::atomic<bool> woken_after_end{false};
  std::thread subscriber([&] {
    while (pushing.load()) {
      auto alive = std::make_shared<std::atomic<bool>>(true);
      auto sub = ring.subscribe([alive, &woken_after_end] {
        if (!alive->load()) woken_after_end = true;
      });
      std::this_thread::yield();
      sub.reset();
      alive->store(false);
    }
  });

  for (auto& t : pushers) t.join();
  pushing = false;
  reader.join();
  subscriber.join();

  CHECK(ring.lastSequence() == kTotal);
  CHECK(ordered);
  CHECK(gaps_consistent);
  CHECK(seen + missed == kTotal);
  CHECK_FALSE(woken_after_end.load());
}

}  // namespace
}  // namespace muzzle
