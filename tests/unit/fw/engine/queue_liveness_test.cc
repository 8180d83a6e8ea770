// QueueLiveness alone: turn counts and times given by the test, so a stall of seconds takes none.
#include "fw/engine/queue_liveness.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using std::chrono::seconds;

std::vector<std::string> texts(const std::vector<LogLine>& lines) {
  std::vector<std::string> out;
  for (const LogLine& l : lines) out.push_back(l.text());
  return out;
}

// Two flow queues as the Daemon watches them: the last one drains the inspection queue too.
struct TwoThreads {
  TwoThreads() {
    liveness.watch("muzzle-q100", "100");
    liveness.watch("muzzle-q101", "101,102");
  }
  std::vector<std::string> check(std::vector<uint64_t> turns, seconds at) {
    return texts(liveness.check(turns, t0 + at));
  }
  QueueLiveness liveness;
  const std::chrono::steady_clock::time_point t0 =
      std::chrono::steady_clock::time_point() + std::chrono::hours(1);
};

TEST_CASE_FIXTURE(TwoThreads,
                  "a thread that has not turned for longer than kStallAfter is stalled: said once, "
                  "and again when it turns") {
  REQUIRE(QueueLiveness::kStallAfter == seconds(5));
  CHECK(check({3, 7}, seconds(0)).empty());  // the first check takes the counts
  // q100 idle for exactly the threshold is not stalled yet; q101 turns.
  CHECK(check({3, 8}, seconds(5)).empty());
  CHECK_FALSE(liveness.anyStalled());
  CHECK(check({3, 9}, seconds(6)) ==
        std::vector<std::string>{"event=queue-stalled queue=100 thread=muzzle-q100 seconds=6"});
  CHECK(liveness.anyStalled());
  CHECK(liveness.stalledNow() == 1);
  CHECK(liveness.stalls() == 1);
  CHECK(check({3, 10}, seconds(20)).empty());  // once, not at every check
  CHECK(liveness.stalledNow() == 1);
  CHECK(check({4, 11}, seconds(21)) ==
        std::vector<std::string>{"event=queue-resumed queue=100 thread=muzzle-q100 seconds=21"});
  CHECK_FALSE(liveness.anyStalled());
  CHECK(liveness.stalls() == 1);
}

TEST_CASE_FIXTURE(TwoThreads, "each thread stalls on its own; every stall is counted") {
  check({0, 0}, seconds(0));
  CHECK(
      check({0, 0}, seconds(10)) ==
      std::vector<std::string>{"event=queue-stalled queue=100 thread=muzzle-q100 seconds=10",
                               "event=queue-stalled queue=101,102 thread=muzzle-q101 seconds=10"});
  CHECK(liveness.stalledNow() == 2);
  CHECK(check({0, 1}, seconds(11)) ==
        std::vector<std::string>{"event=queue-resumed queue=101,102 thread=muzzle-q101 "
                                 "seconds=11"});
  CHECK(liveness.stalledNow() == 1);
  CHECK(liveness.anyStalled());
  CHECK(check({1, 1}, seconds(12)) ==
        std::vector<std::string>{"event=queue-resumed queue=100 thread=muzzle-q100 seconds=12"});
  // A thread that resumed is watched anew from the turn that ended its stall.
  CHECK(check({1, 1}, seconds(17)) ==
        std::vector<std::string>{"event=queue-stalled queue=101,102 thread=muzzle-q101 seconds=6"});
  CHECK(liveness.stalls() == 3);
}

TEST_CASE("a threshold of the caller's, and no thread at all") {
  QueueLiveness none;
  CHECK(none.check({}, std::chrono::steady_clock::time_point()).empty());
  CHECK_FALSE(none.anyStalled());
  QueueLiveness quick(std::chrono::milliseconds(500));
  quick.watch("muzzle-q7", "7,8");
  const auto t0 = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
  quick.check(std::vector<uint64_t>{1}, t0);
  CHECK(quick.check(std::vector<uint64_t>{1}, t0 + std::chrono::milliseconds(500)).empty());
  CHECK(texts(quick.check(std::vector<uint64_t>{1}, t0 + std::chrono::milliseconds(900))) ==
        std::vector<std::string>{"event=queue-stalled queue=7,8 thread=muzzle-q7 seconds=0"});
}

}  // namespace MUZZLE_UNITY_ID
}  // namespace muzzle
