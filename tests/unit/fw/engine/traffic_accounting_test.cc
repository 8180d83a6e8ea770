#include "fw/engine/traffic_accounting.h"

#include <doctest/doctest.h>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using std::chrono::minutes;
using std::chrono::seconds;
using Time = TrafficAccounting::Time;

const IpAddress kCam = *IpAddress::parse("198.18.10.5");
const IpAddress kCam6 = *IpAddress::parse("fd00:10::5");

AccountingCount count(const IpAddress& ip, bool upload, uint64_t bytes, uint64_t packets) {
  return AccountingCount{ip, upload, bytes, packets};
}

TEST_CASE("each read yields what every element grew by since the read before") {
  TrafficAccounting acct;
  const Time t0{};
  auto first = acct.update({count(kCam, true, 1000, 10), count(kCam, false, 300, 3)}, t0);
  REQUIRE(first.size() == 2);  // a new element: all of its count is new
  CHECK(first[0].bytes + first[1].bytes == 1300);

  auto second = acct.update({count(kCam, true, 1500, 14), count(kCam, false, 300, 3),
                             count(kCam6, true, 80, 1)},
                            t0 + seconds(10));
  REQUIRE(second.size() == 2);  // the download did not grow: left out
  for (const auto& g : second) {
    if (g.address == kCam) {
      CHECK(g.upload);
      CHECK(g.bytes == 500);
      CHECK(g.packets == 4);
    } else {
      CHECK(g.address == kCam6);
      CHECK(g.bytes == 80);
    }
  }
  CHECK(acct.size() == 3);
}

TEST_CASE("a count lower than last time was forgotten and added again: all of it is new") {
  TrafficAccounting acct;
  const Time t0{};
  acct.update({count(kCam, true, 1000, 10)}, t0);
  auto again = acct.update({count(kCam, true, 400, 2)}, t0 + seconds(10));
  REQUIRE(again.size() == 1);
  CHECK(again[0].bytes == 400);
  CHECK(again[0].packets == 2);
}

TEST_CASE("an element missing from a read is gone; when it comes back it counts from zero") {
  TrafficAccounting acct;
  const Time t0{};
  acct.update({count(kCam, true, 1000, 10), count(kCam6, true, 50, 1)}, t0);
  CHECK(acct.update({count(kCam6, true, 50, 1)}, t0 + seconds(10)).empty());
  CHECK(acct.size() == 1);
  // Back with a higher count than before it left: still all new, not 1200 - 1000.
  auto back = acct.update({count(kCam, true, 1200, 12), count(kCam6, true, 50, 1)},
                          t0 + seconds(20));
  REQUIRE(back.size() == 1);
  CHECK(back[0].bytes == 1200);
}

TEST_CASE("elements idle for the given time are offered to forget, and dropped once forgotten") {
  TrafficAccounting acct;
  const Time t0{};
  acct.update({count(kCam, true, 1000, 10), count(kCam6, true, 50, 1)}, t0);
  acct.update({count(kCam, true, 1000, 10), count(kCam6, true, 90, 2)}, t0 + minutes(20));
  CHECK(acct.idle(t0 + minutes(25), minutes(30)).empty());
  auto idle = acct.idle(t0 + minutes(30), minutes(30));
  REQUIRE(idle.size() == 1);  // kCam6 grew at 20 minutes
  CHECK(idle[0].address == kCam);
  CHECK(idle[0].upload);
  CHECK(acct.size() == 2);  // not dropped until the kernel has forgotten it too
  acct.forget(idle);
  CHECK(acct.size() == 1);
  // The kernel made it again since: it counts from zero.
  auto fresh = acct.update({count(kCam, true, 60, 1), count(kCam6, true, 90, 2)},
                           t0 + minutes(31));
  REQUIRE(fresh.size() == 1);
  CHECK(fresh[0].bytes == 60);
}

}  // namespace
}  // namespace muzzle
