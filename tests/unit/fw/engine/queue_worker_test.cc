// QueueWorker and LockedSink without the kernel: a fake queue that is readable through an
// eventfd, several threads sharing one sink that is not thread-safe by itself.
#include "fw/engine/queue_worker.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "tests/unit/fw/engine/test_support.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

// Packets "arrive" with inject(); drain() hands each, empty but for its id, to the sink.
class FakeQueue : public testing::InjectedQueue {
 protected:
  void deliver(PacketSink& sink, uint64_t i) override {
    QueuedPacket p;
    p.packet_id = static_cast<uint32_t>(i);
    sink.onPacket(p);
  }
};

// Counts with a deliberately non-atomic read-yield-write: two threads inside at once lose counts.
class RacySink : public PacketSink {
 public:
  PacketVerdict onPacket(const QueuedPacket&) override {
    const uint64_t seen = count;
    std::this_thread::yield();
    count = seen + 1;
    return PacketVerdict{1, std::nullopt};
  }
  uint64_t count = 0;
};

// One judge shared by the workers of a test, behind its lock.
struct SharedJudge {
  std::mutex mu;
  RacySink judge;
  LockedSink locked{mu, judge};
};

template <typename Pred>
bool waitFor(Pred pred) {
  // Generous: it returns as soon as the condition holds. Four threads convoying on one lock on a
  // loaded 2-core machine took 9-15 s for what a quiet one does in 1 s.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST_CASE_FIXTURE(SharedJudge, "several queue threads judge every packet once, one at a time, through a LockedSink") {
  constexpr int kThreads = 4;
  constexpr uint64_t kPerThread = 20000;
  std::vector<FakeQueue*> queues;
  std::vector<std::unique_ptr<QueueWorker>> workers;
  for (int i = 0; i < kThreads; ++i) {
    auto q = std::make_unique<FakeQueue>();
    queues.push_back(q.get());
    workers.push_back(std::make_unique<QueueWorker>("muzzle-q" + std::to_string(i), std::move(q), locked,
                                                    [](const Status&) { FAIL("no queue fails here"); }));
  }
  // Packets that wait before the threads start are judged without a further wake-up.
  for (FakeQueue* q : queues) q->inject(10);
  for (auto& w : workers) REQUIRE(w->start().ok());
  std::vector<std::thread> senders;
  for (FakeQueue* q : queues) {
    senders.emplace_back([q] {
      for (uint64_t sent = 10; sent < kPerThread; sent += 10) q->inject(10);
    });
  }
  for (auto& t : senders) t.join();
  REQUIRE(waitFor([&] {
    uint64_t sum = 0;
    for (auto& w : workers) sum += w->counters().received;
    return sum == kThreads * kPerThread;
  }));
  for (auto& w : workers) w->stop();
  std::lock_guard<std::mutex> lock(mu);
  CHECK(judge.count == kThreads * kPerThread);  // no count lost: never two threads inside
}

TEST_CASE_FIXTURE(SharedJudge, "a broken socket ends its thread and is reported once") {
  auto q = std::make_unique<FakeQueue>();
  FakeQueue* queue = q.get();
  std::atomic<int> failures{0};
  std::string message;
  QueueWorker worker("muzzle-q100", std::move(q), locked, [&](const Status& s) {
    message = s.message();
    ++failures;
  });
  REQUIRE(worker.start().ok());
  queue->inject(2);
  REQUIRE(waitFor([&] { return worker.counters().received == 2; }));
  queue->failNextDrain();
  queue->inject(5);
  REQUIRE(waitFor([&] { return failures.load() == 1; }));
  worker.stop();  // joins a thread that already ended
  CHECK(failures.load() == 1);
  CHECK(message == "fake queue: the socket broke");
  CHECK(judge.count == 2);  // the 5 after the break are never judged
}

TEST_CASE_FIXTURE(SharedJudge, "stop() wakes an idle thread, which then judges nothing more; stop() is idempotent") {
  auto q = std::make_unique<FakeQueue>();
  FakeQueue* queue = q.get();
  QueueWorker worker("muzzle-q100", std::move(q), locked, [](const Status&) {});
  REQUIRE(worker.start().ok());
  queue->inject(3);
  REQUIRE(waitFor([&] { return worker.counters().received == 3; }));
  worker.stop();  // would hang (ctest times out) if the idle thread's wait never ended
  worker.stop();
  const uint64_t drains = queue->drains;
  queue->inject(7);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(queue->drains == drains);
  CHECK(worker.counters().received == 3);
  CHECK(judge.count == 3);
}

TEST_CASE_FIXTURE(
    SharedJudge,
    "a queue's wait ends with nothing when no packet comes in time, and drains what came") {
  FakeQueue queue;  // PacketQueue's own waitAndDrain: poll(2), then drain()
  auto idle = queue.waitAndDrain(locked, std::chrono::milliseconds(20));
  REQUIRE(idle.ok());
  CHECK(*idle == 0);
  CHECK(queue.drains == 0);  // the wait ended without a drain
  queue.inject(4);
  auto busy = queue.waitAndDrain(locked, std::chrono::hours(1));  // returns at once: packets wait
  REQUIRE(busy.ok());
  CHECK(*busy == 4);
  CHECK(queue.drains == 1);
  CHECK(judge.count == 4);
}

TEST_CASE_FIXTURE(SharedJudge,
                  "requestStop() asks several threads at once; stop() then only waits for each") {
  std::vector<std::unique_ptr<QueueWorker>> workers;
  for (int i = 0; i < 3; ++i) {
    workers.push_back(
        std::make_unique<QueueWorker>("muzzle-q" + std::to_string(i), std::make_unique<FakeQueue>(),
                                      locked, [](const Status&) { FAIL("no queue fails here"); }));
    REQUIRE(workers.back()->start().ok());
  }
  for (auto& w : workers) w->requestStop();
  for (auto& w : workers) w->stop();  // would hang if a requested stop were lost
  CHECK(judge.count == 0);
}

TEST_CASE_FIXTURE(
    SharedJudge, "the thread's turns count every wait that ended, and stand still while it hangs") {
  auto q = std::make_unique<testing::WedgeableQueue>();
  testing::WedgeableQueue& queue = *q;
  QueueWorker worker("muzzle-q100", std::move(q), locked,
                     [](const Status&) { FAIL("no queue fails here"); });
  // Released before the worker stops (declared after it), also when a REQUIRE fails.
  struct ReleaseOnExit {
    testing::WedgeableQueue& queue;
    ~ReleaseOnExit() { queue.release(); }
  } release_on_exit{queue};
  CHECK(worker.turns() == 0);
  REQUIRE(worker.start().ok());
  REQUIRE(waitFor([&] { return worker.turns() >= 3; }));  // idle waits turn too
  queue.wedge();
  REQUIRE(queue.waitStuck());
  const uint64_t stuck_at = worker.turns();
  queue.release();
  REQUIRE(waitFor([&] { return worker.turns() > stuck_at; }));  // the wait that hung ended
  worker.stop();
}

}  // namespace
}  // namespace muzzle
