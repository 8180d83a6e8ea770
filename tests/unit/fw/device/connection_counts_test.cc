// ConnectionCounts (fw/device/connection_counts.h): the connection limit as muzzled counts it.
// A device's allowed new connections count up to the limit and are refused past it; each recount
// makes the counts anew from the dump, keeping what was admitted while the dump ran; refusals are
// reported per device and forgotten two minutes after the last.
#include "fw/device/connection_counts.h"

#include <doctest/doctest.h>

#include <algorithm>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

const MacAddress kCam = *MacAddress::parse("44:47:cc:00:00:11");
const MacAddress kVacuum = *MacAddress::parse("d4:ad:fc:00:00:22");

// How many of `n` new connections `device` is let open.
int admitted(ConnectionCounts& c, MacAddress device, int n) {
  int yes = 0;
  for (int i = 0; i < n; ++i) yes += c.admit(device) ? 1 : 0;
  return yes;
}

TEST_CASE("a device's connections count up to the limit; past it each is refused and counted") {
  ManualClock clock;
  ConnectionCounts c(clock, 20);
  CHECK(c.on());
  CHECK(admitted(c, kCam, 25) == 20);
  CHECK(c.count(kCam) == 20);
  CHECK(c.refused() == 5);
  // Another device has a count of its own.
  CHECK(admitted(c, kVacuum, 3) == 3);
  CHECK(c.count(kVacuum) == 3);
  const std::vector<ConnectionCounts::Refusals> r = c.refusals();
  REQUIRE(r.size() == 1);
  CHECK(r[0].device == kCam);
  CHECK(r[0].refused == 5);
}

TEST_CASE("off (limit 0): every connection admitted, nothing counted") {
  ManualClock clock;
  ConnectionCounts c(clock, 0);
  CHECK_FALSE(c.on());
  CHECK(admitted(c, kCam, 5000) == 5000);
  CHECK(c.count(kCam) == 0);
  CHECK(c.refused() == 0);
}

TEST_CASE("turned off (the kernel counts instead): every connection admitted from then on") {
  ManualClock clock;
  ConnectionCounts c(clock, 20);
  c.turnOff();
  CHECK_FALSE(c.on());
  CHECK(admitted(c, kCam, 25) == 25);
  CHECK(c.refused() == 0);
}

TEST_CASE("a recount makes the counts anew: closed connections give their room back") {
  ManualClock clock;
  ConnectionCounts c(clock, 20);
  CHECK(admitted(c, kCam, 20) == 20);
  CHECK(admitted(c, kVacuum, 4) == 4);
  CHECK_FALSE(c.admit(kCam));
  // The dump finds 12 of the camera's alive (8 closed) and none of the vacuum's.
  c.beginRecount();
  MacMap<uint32_t> live;
  live[kCam.value] = 12;
  const MacMap<uint32_t> replaced = c.finishRecount(std::move(live));
  CHECK(replaced.at(kCam.value) == 20);  // handed back, to be freed outside the lock
  CHECK(c.count(kCam) == 12);
  CHECK(c.count(kVacuum) == 0);
  CHECK(admitted(c, kCam, 10) == 8);
}

TEST_CASE("connections admitted while the dump runs are kept by its recount, never lost") {
  ManualClock clock;
  ConnectionCounts c(clock, 20);
  CHECK(admitted(c, kCam, 10) == 10);
  c.beginRecount();
  CHECK(admitted(c, kCam, 5) == 5);  // after the request: the dump may or may not hold them
  MacMap<uint32_t> live;
  live[kCam.value] = 10;  // it did not
  c.finishRecount(std::move(live));
  CHECK(c.count(kCam) == 15);
  // Admitted after the recount ended: counted once, not set aside for the next.
  CHECK(c.admit(kCam));
  c.beginRecount();
  live = {};
  live[kCam.value] = 16;
  c.finishRecount(std::move(live));
  CHECK(c.count(kCam) == 16);
}

TEST_CASE("an abandoned recount (the read failed, or was not complete) keeps the counts") {
  ManualClock clock;
  ConnectionCounts c(clock, 20);
  CHECK(admitted(c, kCam, 20) == 20);
  c.beginRecount();
  c.abandonRecount();
  CHECK(c.count(kCam) == 20);
  CHECK_FALSE(c.admit(kCam));
  // What the abandoned one set aside is not added to the next.
  c.beginRecount();
  c.finishRecount({});
  CHECK(c.count(kCam) == 0);
}

// A recount that takes `took` and finds the camera holding one connection.
void recountTaking(ConnectionCounts& c, ManualClock& clock, std::chrono::milliseconds took) {
  c.beginRecount();
  clock.advance(took);
  c.finishRecount({{kCam.value, 1}});
}

TEST_CASE("a refusal asks for a recount at once, at most once a second") {
  ManualClock clock;
  ConnectionCounts c(clock, 1);
  CHECK(c.admit(kCam));
  CHECK_FALSE(c.admit(kCam));
  CHECK(c.wantsRecount());
  CHECK_FALSE(c.admit(kCam));
  CHECK_FALSE(c.wantsRecount());  // asked already
  clock.advance(std::chrono::milliseconds(1000));
  CHECK(c.wantsRecount());
  // A recount begun (the periodic one) counts as asked for.
  clock.advance(std::chrono::milliseconds(1500));
  recountTaking(c, clock, std::chrono::milliseconds(5));
  clock.advance(std::chrono::milliseconds(495));
  CHECK_FALSE(c.wantsRecount());
  clock.advance(std::chrono::milliseconds(500));
  CHECK(c.wantsRecount());
}

TEST_CASE("a slow recount spaces the next requests: at most a twentieth of the time recounting") {
  ManualClock clock;
  ConnectionCounts c(clock, 1);
  CHECK(c.admit(kCam));
  CHECK_FALSE(c.admit(kCam));
  // A large table: the recount took 150 ms, so the next request waits for 3 s after it began.
  c.beginRecount();
  clock.advance(std::chrono::milliseconds(100));
  CHECK_FALSE(c.wantsRecount());  // one is under way
  clock.advance(std::chrono::milliseconds(50));
  c.finishRecount({{kCam.value, 1}});
  CHECK_FALSE(c.admit(kCam));
  clock.advance(std::chrono::milliseconds(2800));
  CHECK_FALSE(c.wantsRecount());
  clock.advance(std::chrono::milliseconds(60));
  CHECK(c.wantsRecount());
  // A quick one again: back to once a second.
  recountTaking(c, clock, std::chrono::milliseconds(5));
  clock.advance(std::chrono::milliseconds(1000));
  CHECK(c.wantsRecount());
  // A recount slower than the spacing: no request while it runs, and all of it is its time.
  c.beginRecount();
  clock.advance(std::chrono::milliseconds(1200));
  CHECK_FALSE(c.wantsRecount());
  clock.advance(std::chrono::milliseconds(300));
  c.finishRecount({{kCam.value, 1}});
  clock.advance(std::chrono::milliseconds(28000));  // 29.5 s after it began: 30 s needed
  CHECK_FALSE(c.wantsRecount());
  clock.advance(std::chrono::milliseconds(600));
  CHECK(c.wantsRecount());
  // A quick one again.
  recountTaking(c, clock, std::chrono::milliseconds(5));
  clock.advance(std::chrono::milliseconds(1000));
  CHECK(c.wantsRecount());
  // An abandoned recount (the dump failed) leaves the last time as it was.
  c.beginRecount();
  clock.advance(std::chrono::milliseconds(400));
  c.abandonRecount();
  clock.advance(std::chrono::milliseconds(700));
  CHECK(c.wantsRecount());
}

TEST_CASE("refusals: reported while the device was refused in the last two minutes") {
  ManualClock clock;
  ConnectionCounts c(clock, 1);
  CHECK(c.admit(kCam));
  CHECK_FALSE(c.admit(kCam));
  CHECK_FALSE(c.admit(kCam));
  clock.advance(std::chrono::seconds(90));
  CHECK(admitted(c, kVacuum, 4) == 1);
  std::vector<ConnectionCounts::Refusals> r = c.refusals();
  std::sort(r.begin(), r.end(),
            [](const auto& a, const auto& b) { return a.device.value < b.device.value; });
  REQUIRE(r.size() == 2);
  CHECK(r[0].device == kCam);
  CHECK(r[0].refused == 2);
  CHECK(r[1].device == kVacuum);
  CHECK(r[1].refused == 3);
  clock.advance(std::chrono::seconds(60));  // the camera's last refusal 150 s ago, the vacuum's 60
  r = c.refusals();
  REQUIRE(r.size() == 1);
  CHECK(r[0].device == kVacuum);
  // Forgotten: a new refusal starts its count again (as the kernel's count did).
  CHECK_FALSE(c.admit(kCam));
  r = c.refusals();
  REQUIRE(r.size() == 2);
  CHECK(std::any_of(r.begin(), r.end(),
                    [](const auto& x) { return x.device == kCam && x.refused == 1; }));
  CHECK(c.refused() == 6);
}

}  // namespace MUZZLE_UNITY_ID
}  // namespace muzzle
