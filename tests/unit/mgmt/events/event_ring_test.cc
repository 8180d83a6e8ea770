// EventRing: sequence numbers, resumption, the gap marker, wake-ups.
#include <doctest/doctest.h>

#include "mgmt/events/event_ring.h"

#include <chrono>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

void pushDeny(EventRing& ring, int n) {
  for (int i = 0; i < n; ++i) ring.onEvent(LogLine("deny").add("device", "cam").add("n", static_cast<uint64_t>(i)));
}

TEST_CASE("events carry increasing sequence numbers, kind and fields") {
  EventRing ring(8);
  ring.onEvent(LogLine("new-device").add("mac", "44:47:cc:00:00:11"));
  ring.onEvent(LogLine("policy-applied").add("revision", 2));
  auto b = ring.after(0, 10);
  CHECK_FALSE(b.gap);
  REQUIRE(b.events.size() == 2);
  CHECK(b.events[0].sequence() == 1);
  CHECK(b.events[0].kind() == v1::EVENT_KIND_NEW_DEVICE);
  CHECK(b.events[0].fields().at("mac") == "44:47:cc:00:00:11");
  CHECK(b.events[1].kind() == v1::EVENT_KIND_POLICY);
  CHECK(b.events[1].text() == "event=policy-applied revision=2");
}

TEST_CASE("resuming after a sequence returns exactly what was missed") {
  EventRing ring(8);
  pushDeny(ring, 5);
  auto b = ring.after(3, 10);
  CHECK_FALSE(b.gap);
  REQUIRE(b.events.size() == 2);
  CHECK(b.events[0].sequence() == 4);
  CHECK(ring.after(5, 10).events.empty());
  CHECK(ring.after(2, 1).events.size() == 1);
}

TEST_CASE("a reader the buffer moved past gets a gap marker, then the oldest held events") {
  EventRing ring(4);
  pushDeny(ring, 10);  // holds 7..10
  CHECK(ring.firstSequence() == 7);
  auto b = ring.after(2, 10);
  REQUIRE(b.gap);
  CHECK(b.gap->first_missing() == 3);
  CHECK(b.gap->first_available() == 7);
  CHECK(b.gap->reason() == "the event buffer (4 events) no longer holds events 3..6");
  REQUIRE(b.events.size() == 4);
  CHECK(b.events[0].sequence() == 7);
  CHECK_FALSE(ring.after(6, 10).gap);
  CHECK_FALSE(ring.after(0, 10).gap);  // "from the oldest" is not a gap
}

TEST_CASE("every event carries the ring's epoch; each ring (each run) has its own, never 0") {
  EventRing a(8), b(8);
  CHECK(a.epoch() != 0);
  CHECK(a.epoch() != b.epoch());
  pushDeny(a, 2);
  for (const v1::Event& e : a.after(0, 10).events) CHECK(e.epoch() == a.epoch());
}

TEST_CASE("resuming from an earlier run: a gap marked restarted, then this run from its oldest") {
  EventRing ring(4, /*epoch=*/77);
  pushDeny(ring, 6);  // 1 and 2 are gone: the ring holds 3..6

  SUBCASE("this run's epoch, or none, with a sequence it reached: no gap") {
    for (uint64_t epoch : {uint64_t{0}, uint64_t{77}}) {
      const EventRing::Resume r = ring.resume(epoch, 5);
      CHECK_FALSE(r.restarted);
      CHECK(r.after == 5);
    }
  }
  SUBCASE("another run's epoch: whatever the sequence") {
    for (uint64_t sequence : {uint64_t{2}, uint64_t{900}}) {
      const EventRing::Resume r = ring.resume(41, sequence);
      REQUIRE(r.restarted);
      CHECK(r.after == 0);
      CHECK(r.restarted->restarted());
      CHECK(r.restarted->first_missing() == sequence + 1);
      CHECK(r.restarted->first_available() == 3);
      CHECK(r.restarted->reason() ==
            "muzzled restarted since event 41:" + std::to_string(sequence) +
                "; what came after it is not in this stream; this run's events follow from 77:3");
    }
  }
  SUBCASE("no epoch and a sequence this run never reached: an earlier run's") {
    const EventRing::Resume r = ring.resume(0, 9);
    REQUIRE(r.restarted);
    CHECK(r.after == 0);
    CHECK(r.restarted->reason().find("this run of muzzled never reached event 9 (it has 6)") == 0);
  }
  SUBCASE("this run's epoch and a sequence beyond its newest: waits for it, as before") {
    CHECK_FALSE(ring.resume(77, 9).restarted);
  }
}

TEST_CASE("an event's time is when its line was written, not when it reached the ring") {
  EventRing ring(4);
  LogLine line("deny");
  const auto written = std::chrono::system_clock::time_point(std::chrono::seconds(1'790'000'000)) +
                       std::chrono::milliseconds(250);
  line.setTime(written);
  ring.onEvent(line);
  auto b = ring.after(0, 1);
  REQUIRE(b.events.size() == 1);
  CHECK(b.events[0].time().seconds() == 1'790'000'000);
  CHECK(b.events[0].time().nanos() == 250'000'000);
}

TEST_CASE("subscribers are woken on every push until their subscription ends") {
  EventRing ring(4);
  int woken = 0;
  auto sub = ring.subscribe([&] { ++woken; });
  pushDeny(ring, 3);
  CHECK(woken == 3);
  sub.reset();
  pushDeny(ring, 1);
  CHECK(woken == 3);
}

}  // namespace
}  // namespace muzzle
