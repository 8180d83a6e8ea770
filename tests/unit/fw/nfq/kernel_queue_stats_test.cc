// The kernel's per-queue counters, parsed from text as /proc/net/netfilter/nfnetlink_queue prints
// it ("%5u %6u %5u %1u %5u %5u %5u %8u %2d\n"), and the reader's failure for a missing file.
#include "fw/nfq/kernel_queue_stats.h"

#include <doctest/doctest.h>

#include <string>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

TEST_CASE("one bound queue: waiting, queue_dropped, user_dropped and id_sequence") {
  auto q = parseKernelQueueStats("  100   4321     7 2 65535    12     3     5000  1\n", 100, 1);
  REQUIRE(q.ok());
  REQUIRE(q->size() == 1);
  const KernelQueueStats& s = q->front();
  CHECK(s.queue == 100);
  CHECK(s.peer_portid == 4321);
  CHECK(s.waiting == 7);
  CHECK(s.queue_dropped == 12);
  CHECK(s.user_dropped == 3);
  CHECK(s.id_sequence == 5000);
}

TEST_CASE("several queues: those in our range are kept, in file order, and summed") {
  const std::string text =
      "    0    111     0 2 65535     9     9       40  1\n"  // someone else's queue
      "  100    222     1 2 65535     2     0      100  1\n"
      "  101    222     0 2 65535     0     4      200  1\n"
      "  102    222     5 2 65535     1     1      300  1\n"
      "  103    333     0 2 65535    50    50      400  1\n";  // past our range
  auto q = parseKernelQueueStats(text, 100, 3);
  REQUIRE(q.ok());
  REQUIRE(q->size() == 3);
  CHECK((*q)[0].queue == 100);
  CHECK((*q)[1].queue == 101);
  CHECK((*q)[2].queue == 102);
  KernelQueueTotals t = sumKernelQueueStats(*q);
  CHECK(t.queues == 3);
  CHECK(t.waiting == 6);
  CHECK(t.queue_dropped == 3);
  CHECK(t.user_dropped == 5);
}

TEST_CASE("queues outside the range are ignored; an unbound queue of the range is just absent") {
  auto q = parseKernelQueueStats("    7      1     0 2 65535     9     9       40  1\n", 100, 4);
  REQUIRE(q.ok());
  CHECK(q->empty());
  CHECK(sumKernelQueueStats(*q).queues == 0);
  CHECK(sumKernelQueueStats(*q).queue_dropped == 0);
}

TEST_CASE("the range ends at the last queue number without wrapping") {
  auto q = parseKernelQueueStats("65535 1 2 2 65535 3 4 5 1\n    0 1 0 2 65535 9 9 9 1\n", 65535, 1);
  REQUIRE(q.ok());
  REQUIRE(q->size() == 1);
  CHECK(q->front().queue == 65535);
  CHECK(q->front().queue_dropped == 3);
}

TEST_CASE("an empty file (no queue bound) and blank lines give no queues, not an error") {
  auto empty = parseKernelQueueStats("", 100, 1);
  REQUIRE(empty.ok());
  CHECK(empty->empty());
  auto blank = parseKernelQueueStats("\n   \n", 100, 1);
  REQUIRE(blank.ok());
  CHECK(blank->empty());
}

TEST_CASE("a last line without a newline and extra columns are read") {
  auto q = parseKernelQueueStats("100 1 2 2 65535 3 4 5 1 77 88", 100, 1);
  REQUIRE(q.ok());
  REQUIRE(q->size() == 1);
  CHECK(q->front().user_dropped == 4);
  CHECK(q->front().id_sequence == 5);
}

TEST_CASE("a short line fails the parse, naming the file, the line number and the line") {
  auto q = parseKernelQueueStats("100 1 2 2 65535 3 4 5 1\n101 1 2 2\n", 100, 2, "nfq.txt");
  REQUIRE_FALSE(q.ok());
  CHECK(q.status().code() == StatusCode::kInvalidArgument);
  CHECK(q.status().message().find("nfq.txt:2: expected at least 8 numbers") == 0);
  CHECK(q.status().message().find("\"101 1 2 2\"") != std::string::npos);
}

TEST_CASE("a field that is not an unsigned number fails the parse, also outside our range") {
  // The format is the kernel's ABI: a surprise anywhere means our reading of it is wrong.
  for (const char* line : {"  5 1 2 2 65535 x 4 5 1", "100 1 -2 2 65535 3 4 5 1", "100 1 2 2 65535 3 4 5z 1",
                           "70000 1 2 2 65535 3 4 5 1"}) {
    CAPTURE(line);
    auto q = parseKernelQueueStats(line, 100, 1, "f");
    REQUIRE_FALSE(q.ok());
    CHECK(q.status().message().find("f:1: ") == 0);
  }
}

TEST_CASE("a file that cannot be read is an error naming the file") {
  auto q = readKernelQueueStats(100, 1, "/nonexistent/nfnetlink_queue");
  REQUIRE_FALSE(q.ok());
  CHECK(q.status().code() == StatusCode::kNotFound);
  CHECK(q.status().message().find("/nonexistent/nfnetlink_queue") != std::string::npos);
}

}  // namespace
}  // namespace muzzle
