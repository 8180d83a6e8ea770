// Background threads (thread_priority.h): the nice value is the calling thread's alone, it goes
// to kBackgroundNice, and a thread already nicer is never raised back.
#include "fw/common/thread_priority.h"

#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

// What runs `fn` on a thread of its own reports: the thread's nice value before and after.
struct Seen {
  int before = -100;
  int after = -100;
  bool result = false;
};

template <typename Fn>
Seen onThread(Fn fn) {
  Seen seen;
  std::thread t([&] {
    seen.before = currentThreadNice();
    fn();
    seen.result = runAsBackgroundThread();
    seen.after = currentThreadNice();
  });
  t.join();
  return seen;
}

TEST_CASE("a background thread runs at kBackgroundNice; the thread that started it does not") {
  const int mine = currentThreadNice();
  REQUIRE_MESSAGE(mine < kBackgroundNice, "the tests run at nice ", mine, ": run them under 10");
  const Seen seen = onThread([] {});
  CHECK(seen.before == mine);  // a new thread starts at its creator's value
  CHECK(seen.result);
  CHECK(seen.after == kBackgroundNice);
  CHECK(currentThreadNice() == mine);  // per thread: the caller's own is unchanged
}

TEST_CASE("a thread already nicer than kBackgroundNice stays as nice") {
  const Seen seen = onThread(
      [] { REQUIRE(setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 15) == 0); });
  CHECK(seen.result);
  CHECK(seen.after == 15);  // not raised to 10: that would need CAP_SYS_NICE, and undo a choice
}

}  // namespace MUZZLE_UNITY_ID
}  // namespace muzzle
