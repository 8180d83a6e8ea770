// Policy compiles run on the compile thread, never on the engine thread: while one is held at a
// gate, the engine thread (the test's thread here) still runs timers and other calls. And the
// compile queue is bounded, except for the commit-confirmed rollback. Its thread is a background
// thread (fw/common/thread_priority.h).
#include <future>

#include "fw/common/thread_priority.h"
#include "mgmt/revisions/compile_queue.h"
#include "tests/unit/mgmt/revisions/test_box.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using namespace testing;

TEST_CASE_FIXTURE(
    SeededBox,
    "a compile never holds the engine thread: ticks and other calls run while it compiles") {
  REQUIRE(box.apply(kPolicyB, 0, 30).ok());  // a commit awaiting confirmation, rollback to 1

  box.engine.gate.close();
  std::optional<Result<ValidateOutcome>> validated;
  box.commits.validate(kPolicyC, [&](Result<ValidateOutcome> v) { validated.emplace(v); });
  // The compile is on the compile thread, held at the gate; validate() already returned.
  REQUIRE(box.engine.gate.waitEntered());
  CHECK_FALSE(validated);

  // The engine thread is free: the commit-confirmed timer ticks, a status-like call is served,
  // a confirmation (no compile) goes through.
  clock.advance(std::chrono::seconds(10));
  box.tick();
  bool status_served = false;
  box.engine.post(
      [&] { status_served = box.commits.current() == 2 && box.commits.pending().has_value(); });
  REQUIRE(box.engine.runUntil([&] { return status_served; }));
  REQUIRE(box.commits.confirm(0, kAdmin).ok());
  CHECK_FALSE(validated);

  box.engine.gate.open();
  REQUIRE(box.engine.runUntil([&] { return validated.has_value(); }));
  REQUIRE(validated->ok());
  CHECK((*validated)->valid);
}

// On a 2-core box a compile (~90 ms for a 10,000-device site) at the queue threads' priority
// would take half a core from verdicts whenever a client asks for one.
TEST_CASE("compiles run as a background thread, the caller's priority untouched") {
  const int mine = currentThreadNice();
  REQUIRE_MESSAGE(mine < kBackgroundNice, "the tests run at nice ", mine, ": run them under 10");
  CompileQueue queue;
  std::promise<int> nice;
  REQUIRE(queue.submit([&] { nice.set_value(currentThreadNice()); }).ok());
  CHECK(nice.get_future().get() == kBackgroundNice);
  CHECK(currentThreadNice() == mine);
}

TEST_CASE_FIXTURE(SeededBox, "at most four compiles wait or run; the fifth is RESOURCE_EXHAUSTED") {
  box.engine.gate.close();
  int answered = 0;
  for (size_t i = 0; i < CompileQueue::kMaxPending; ++i) {
    box.commits.validate(kPolicyB, [&](Result<ValidateOutcome> v) {
      CHECK(v.ok());
      ++answered;
    });
  }
  REQUIRE(box.engine.gate.waitEntered());
  auto refused = box.apply(kPolicyC);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kResourceExhausted);
  CHECK(refused.status().message() ==
        "too many policy compiles in progress (limit 4); try again when they finished");
  CHECK(box.commits.current() == 1);
  box.engine.gate.open();
  REQUIRE(box.engine.runUntil([&] { return answered == 4; }));
  REQUIRE(box.apply(kPolicyC).ok());  // room again
}

TEST_CASE_FIXTURE(
    SeededBox, "the commit-confirmed rollback is never refused and goes before waiting compiles") {
  REQUIRE(box.apply(kPolicyB, 0, 30).ok());
  box.engine.gate.close();
  // Clients fill the queue: one compiling (held), three waiting.
  std::vector<std::string> order;
  for (size_t i = 0; i < CompileQueue::kMaxPending; ++i) {
    box.commits.validate(kPolicyC, [&](Result<ValidateOutcome>) { order.push_back("validate"); });
  }
  REQUIRE(box.engine.gate.waitEntered());
  clock.advance(std::chrono::seconds(30));
  box.tick();  // the window closed: the rollback's compile is queued ahead of the waiting ones
  box.engine.gate.open();
  bool rolled_back = false;
  REQUIRE(box.engine.runUntil([&] {
    if (!rolled_back && !box.commits.pending()) {
      rolled_back = true;
      order.push_back("rollback");
    }
    return order.size() == CompileQueue::kMaxPending + 1;
  }));
  // The held compile finishes first, then the rollback, then the rest.
  CHECK(order[0] == "validate");
  CHECK(order[1] == "rollback");
  CHECK(box.commits.current() == 3);
  CHECK(box.engine.installed == kPolicyA);
}

TEST_CASE_FIXTURE(SeededBox,
                  "a rollback that compiles while the commit is confirmed does nothing") {
  REQUIRE(box.apply(kPolicyB, 0, 30).ok());
  box.engine.gate.close();
  clock.advance(std::chrono::seconds(30));
  box.tick();
  REQUIRE(box.engine.gate.waitEntered());
  box.tick();  // no second rollback while the first compiles
  REQUIRE(box.commits.confirm(0, kAdmin).ok());
  box.engine.gate.open();
  bool idle = false;
  // The compile thread runs one job at a time: once this validate answers, the rollback's
  // compile has finished and its result was posted before it.
  box.commits.validate(kPolicyA, [&](Result<ValidateOutcome>) { idle = true; });
  REQUIRE(box.engine.runUntil([&] { return idle; }));
  CHECK(box.commits.current() == 2);
  CHECK(box.engine.installed == kPolicyB);
  CHECK(box.engine.compiles == 4);  // boot's A, B, the rollback's A, the validate
}

}  // namespace
}  // namespace muzzle
