// The console's login worker: jobs run in order on its own thread, at most `max_waiting` wait
// (then submit refuses at once), and stopping drops what still waits.
#include "mgmt/web/work_queue.h"

#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "fw/common/thread_priority.h"

namespace muzzle::web {
namespace MUZZLE_UNITY_ID {

TEST_CASE("jobs run in order, on the queue's own thread") {
  WorkQueue queue(8);
  std::mutex mu;
  std::vector<int> order;
  std::promise<std::thread::id> ran_on;
  for (int i = 0; i < 5; ++i) {
    REQUIRE(queue.submit([&, i] {
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(i);
    }));
  }
  REQUIRE(queue.submit([&] { ran_on.set_value(std::this_thread::get_id()); }));
  CHECK(ran_on.get_future().get() != std::this_thread::get_id());
  std::lock_guard<std::mutex> lock(mu);
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("the jobs run as a background thread: a burst of logins yields the cores to verdicts") {
  const int mine = currentThreadNice();
  REQUIRE_MESSAGE(mine < kBackgroundNice, "the tests run at nice ", mine, ": run them under 10");
  WorkQueue queue(1);
  std::promise<int> nice;
  REQUIRE(queue.submit([&] { nice.set_value(currentThreadNice()); }));
  CHECK(nice.get_future().get() == kBackgroundNice);
  CHECK(currentThreadNice() == mine);
}

TEST_CASE("past max_waiting a job is refused at once; stopping drops the waiting ones") {
  WorkQueue queue(2);
  std::promise<void> started, release;
  std::shared_future<void> gate = release.get_future().share();
  REQUIRE(queue.submit([&] {
    started.set_value();
    gate.wait();
  }));
  started.get_future().wait();  // the first job runs: the next two wait
  std::atomic<int> ran{0};
  CHECK(queue.submit([&] { ran++; }));
  CHECK(queue.submit([&] { ran++; }));
  CHECK_FALSE(queue.submit([&] { ran++; }));  // a third would wait: refused
  CHECK(queue.waiting() == 2);
  std::thread stopper([&] { queue.stop(); });              // waits for the running job
  while (queue.waiting() != 0) std::this_thread::yield();  // the waiting ones are dropped
  release.set_value();
  stopper.join();
  CHECK(ran == 0);                            // dropped, never run
  CHECK_FALSE(queue.submit([&] { ran++; }));  // stopped
}

}  // namespace
}  // namespace muzzle::web
