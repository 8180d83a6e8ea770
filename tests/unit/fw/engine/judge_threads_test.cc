// The Judge shared as muzzled shares it: several queue threads judge real packets through one
// LockedSink while the engine thread swaps policies and copies state out under the same mutex,
// and the event log's sink sees lines from every thread. The test checks what must hold (every
// packet judged once; each queue's verdicts carry generations that never go back); built with
// MUZZLE_TSAN (tests/run-tests.sh does) it also shows that the sharing is free of data races.
#include <doctest/doctest.h>
#include <linux/netfilter.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fw/engine/judge.h"
#include "fw/engine/queue_worker.h"
#include "fw/nft/marks.h"
#include "fw/policy/policy_loader.h"
#include "tests/unit/fw/engine/test_support.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

constexpr const char* kPolicy = R"(
version: 1
profiles:
  camera:
    egress:
      - {allow: [gateway], proto: udp, ports: [53]}
    otherwise: reject
  quarantine: {}
defaults: {profile: camera}
)";

// One device's packets, alternately allowed (DNS to the gateway) and denied (to the internet,
// which writes a log line). Readable through an eventfd while packets wait.
class DeviceQueue : public testing::InjectedQueue {
 public:
  explicit DeviceQueue(int device) {
    const std::string ip = "198.18.10." + std::to_string(100 + device);
    mac_ = "44:47:cc:00:01:" + std::to_string(10 + device);
    allowed_ = testing::udpPacket(ip.c_str(), "198.18.10.1", 40000, 53);
    denied_ = testing::udpPacket(ip.c_str(), "203.0.113.10", 40000, 9999);
  }
  uint64_t judged() const { return counters().received; }
  std::vector<uint32_t> verdicts;

 protected:
  void deliver(PacketSink& sink, uint64_t) override {
    const auto& bytes = (verdicts.size() % 2 == 0) ? allowed_ : denied_;
    const PacketVerdict v = sink.onPacket(testing::queuedPacket(
        bytes, NF_INET_FORWARD, testing::kSegmentIf, testing::kUplinkIf, mac_.c_str()));
    verdicts.push_back(v.mark.value_or(0));  // this thread only; read after stop()
  }

 private:
  std::string mac_;
  std::vector<uint8_t> allowed_, denied_;
};

// Counts the lines it sees; called by the log's delivery thread.
class CountingSink : public EventSink {
 public:
  void onEvent(const LogLine&) override { lines.fetch_add(1, std::memory_order_relaxed); }
  std::atomic<uint64_t> lines{0};
};

TEST_CASE("queue threads judge through one lock while the engine thread swaps policies") {
  constexpr int kQueues = 4;
  constexpr uint64_t kBursts = 20, kPerBurst = 50;
  testing::MemoryFile out;
  ManualClock clock;
  CountingSink lines;  // before the log, which feeds it until it stops
  EventLog log(out.get(), clock, 1'000'000);
  log.addConsumer(lines);
  testing::FakeHost host;
  Judge judge(log, clock, host);
  auto policy = compilePolicyText(kPolicy, "policy.yaml", testing::cameraSite());
  REQUIRE_MESSAGE(policy.ok(), policy.status().message());
  std::mutex mu;
  uint32_t generation = 1;
  judge.setPolicy(*policy, generation);
  LockedSink locked(mu, judge);

  std::vector<DeviceQueue*> queues;
  std::vector<std::unique_ptr<QueueWorker>> workers;
  for (int i = 0; i < kQueues; ++i) {
    auto queue = std::make_unique<DeviceQueue>(i);
    queues.push_back(queue.get());
    workers.push_back(std::make_unique<QueueWorker>(
        "muzzle-q" + std::to_string(i), std::move(queue), locked, [](const Status&) {}));
    REQUIRE(workers.back()->start().ok());
  }

  // The engine thread: new generations and state copies, between bursts of packets.
  for (uint64_t burst = 0; burst < kBursts; ++burst) {
    for (DeviceQueue* q : queues) q->inject(kPerBurst);
    {
      std::lock_guard<std::mutex> lock(mu);
      judge.setPolicy(*policy, ++generation);
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      size_t devices = 0;
      judge.devices().forEach([&](const DeviceRecord&) { ++devices; });
      CHECK(devices <= static_cast<size_t>(kQueues));
      (void)judge.counters();
    }
    (void)lines.lines.load();
  }
  const uint64_t total = kQueues * kBursts * kPerBurst;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto judged = [&] {
    uint64_t n = 0;
    for (DeviceQueue* q : queues) n += q->judged();
    return n;
  };
  while (judged() < total && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (auto& w : workers) w->stop();

  REQUIRE(judged() == total);
  {
    std::lock_guard<std::mutex> lock(mu);
    CHECK(judge.counters().packets == total);
    CHECK(judge.counters().allowed == total / 2);
    CHECK(judge.counters().rejected == total / 2);
    CHECK(judge.devices().size() == static_cast<size_t>(kQueues));
  }
  log.flush();
  CHECK(lines.lines.load() >= static_cast<uint64_t>(kQueues));  // the new devices, at least
  for (DeviceQueue* q : queues) {
    REQUIRE(q->verdicts.size() == kBursts * kPerBurst);
    uint32_t last = 0;
    for (uint32_t mark : q->verdicts) {
      const uint32_t g = mark >> 8;
      CHECK(g >= 1);
      CHECK(g <= generation);
      CHECK(g >= last);  // a swap is seen by every later packet of every queue
      last = g;
    }
  }
}

}  // namespace
}  // namespace muzzle
