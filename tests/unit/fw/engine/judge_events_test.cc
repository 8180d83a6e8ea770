// The Judge and its event consumers: judging (under the judge's lock, on a queue thread) never
// waits for the log file, the event ring or a watcher.
#include <doctest/doctest.h>
#include <linux/netfilter.h>

#include <future>
#include <vector>

#include "fw/engine/judge.h"
#include "fw/nft/marks.h"
#include "fw/policy/policy_loader.h"
#include "tests/unit/fw/engine/blocking_sink.h"
#include "tests/unit/fw/engine/test_support.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

constexpr uint32_t kGeneration = 7;

constexpr const char* kPolicy = R"(
version: 1
addresses: {nvr: [198.18.1.10]}
profiles:
  camera: {egress: [{allow: [nvr], proto: tcp, ports: [554]}]}
  quarantine: {egress: []}
devices:
  - {name: lobby-cam, mac: "44:47:cc:00:00:11", profile: camera}
)";

TEST_CASE("judging goes on, verdict after verdict, while an event consumer is stuck") {
  ManualClock clock;
  testing::FakeHost host;
  testing::MemoryFile out;
  testing::BlockingSink sink;
  EventLog log(out.get(), clock, /*max_per_second=*/1000, /*buffer_lines=*/16);
  testing::ReleaseOnExit release{sink};
  log.addConsumer(sink);
  Judge judge(log, clock, host);
  auto policy = compilePolicyText(kPolicy, "policy.yaml", testing::cameraSite());
  REQUIRE_MESSAGE(policy.ok(), policy.status().message());
  judge.setPolicy(*policy, kGeneration);

  // A queue thread's work: denied flows, each an event (and the first a new device too).
  constexpr int kFlows = 100;
  auto queue_thread = std::async(std::launch::async, [&] {
    std::vector<PacketVerdict> verdicts;
    for (int i = 0; i < kFlows; ++i) {
      if (i == 1 && !sink.waitEntered()) break;  // the consumer is stuck from here on
      const auto bytes =
          testing::tcpPacket("198.18.10.11", "203.0.113.10", static_cast<uint16_t>(40000 + i), 443);
      verdicts.push_back(judge.onPacket(testing::queuedPacket(
          bytes, NF_INET_FORWARD, testing::kSegmentIf, testing::kUplinkIf, "44:47:cc:00:00:11")));
    }
    return verdicts;
  });
  const bool judged = testing::finishes(queue_thread);
  CHECK_MESSAGE(judged, "judging waited for a stuck event consumer");
  sink.release();
  const std::vector<PacketVerdict> verdicts = queue_thread.get();
  REQUIRE(verdicts.size() == kFlows);
  for (const PacketVerdict& v : verdicts) {
    REQUIRE(v.mark.has_value());
    CHECK(*v.mark == verdictMark(kGeneration, VerdictCode::kReject));
  }
  CHECK(judge.counters().rejected == kFlows);
  // 1 new device + 100 denials: the consumer held one batch, 16 waited, the rest were counted.
  REQUIRE(log.flush(testing::kWatchdog));
  CHECK(log.dropped() > 0);
  const auto seen = sink.texts();
  REQUIRE_FALSE(seen.empty());
  CHECK(seen.back().find("event=events-dropped count=" + std::to_string(log.dropped())) == 0);
}

}  // namespace
}  // namespace muzzle
