// DeviceAdmission: a burst of new devices per segment, then a steady rate, moved by a fake clock;
// segments kept by name across a policy swap; refusals counted and reported at most every
// kReportInterval.
#include "fw/device/device_admission.h"

#include <doctest/doctest.h>

#include <chrono>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Fixture {
  Fixture(uint32_t per_minute, uint32_t burst) : admission(clock, {per_minute, burst}) {
    admission.setSegments({"cameras", "iot"});
  }
  int admitted(int segment, int tries) {
    int n = 0;
    for (int i = 0; i < tries; ++i) n += admission.admit(segment) ? 1 : 0;
    return n;
  }
  ManualClock clock;
  DeviceAdmission admission;
};

TEST_CASE("a burst at once, then one per interval, never more than the burst saved up") {
  Fixture f(/*per_minute=*/6, /*burst=*/5);  // one every 10 s
  CHECK(f.admission.status()[0].tokens == 5);
  CHECK(f.admitted(0, 40) == 5);
  CHECK(f.admission.status()[0].tokens == 0);
  CHECK(f.admission.status()[0].admitted == 5);
  f.clock.advance(milliseconds(9999));
  CHECK_FALSE(f.admission.admit(0));
  f.clock.advance(milliseconds(1));
  CHECK(f.admission.status()[0].tokens == 1);
  CHECK(f.admission.admit(0));
  CHECK_FALSE(f.admission.admit(0));
  // A long quiet time fills the bucket to its burst, no further.
  f.clock.advance(std::chrono::hours(5));
  CHECK(f.admission.status()[0].tokens == 5);
  CHECK(f.admitted(0, 40) == 5);
  // The other segment's bucket is its own.
  CHECK(f.admitted(1, 40) == 5);
}

TEST_CASE("the box's defaults: 64 at once, then one a second; 200 devices are in within 136 s") {
  Fixture f(60, 64);
  int in = f.admitted(0, 200);
  CHECK(in == 64);
  int waited = 0;
  while (in < 200 && waited < 1000) {
    f.clock.advance(seconds(1));
    ++waited;
    in += f.admitted(0, 200 - in);
  }
  CHECK(in == 200);
  CHECK(waited == 136);
}

TEST_CASE("off (0 a minute) admits everything and counts nothing; an unknown segment is let in") {
  Fixture off(0, 64);
  CHECK_FALSE(off.admission.on());
  CHECK(off.admitted(0, 10000) == 10000);
  Fixture on(6, 1);
  CHECK(on.admission.admit(-1));
  CHECK(on.admission.admit(7));
  CHECK(on.admitted(0, 3) == 1);
}

TEST_CASE("a burst of 0 is one") {
  ManualClock clock;
  DeviceAdmission a(clock, {6, 0});
  a.setSegments({"cameras"});
  CHECK(a.limits().burst == 1);
  CHECK(a.admit(0));
  CHECK_FALSE(a.admit(0));
}

TEST_CASE("a policy swap keeps a segment's bucket and counts by name; a new segment starts full") {
  Fixture f(6, 2);
  CHECK(f.admitted(0, 3) == 2);
  f.admission.refuse(0);
  f.admission.setSegments({"lab", "cameras"});
  const auto st = f.admission.status();
  REQUIRE(st.size() == 2);
  CHECK(st[0].name == "lab");
  CHECK(st[0].tokens == 2);
  CHECK(st[1].name == "cameras");
  CHECK(st[1].tokens == 0);
  CHECK(st[1].admitted == 2);
  CHECK(st[1].refused == 1);
  CHECK_FALSE(f.admission.admit(1));
  CHECK(f.admission.admit(0));
}

TEST_CASE("refusals are reported per segment, at most every kReportInterval, all on the way out") {
  Fixture f(6, 1);
  CHECK(f.admission.takeReports().empty());
  for (int i = 0; i < 3; ++i) f.admission.refuse(0);
  f.admission.refuse(-1);  // no segment: in the total only
  CHECK(f.admission.refused() == 4);
  auto r = f.admission.takeReports();
  REQUIRE(r.size() == 1);
  CHECK(r[0].segment == "cameras");
  CHECK(r[0].refused == 3);
  CHECK(r[0].total == 3);
  // More refusals within the interval wait for it.
  f.admission.refuse(0);
  f.clock.advance(DeviceAdmission::kReportInterval - milliseconds(1));
  CHECK(f.admission.takeReports().empty());
  // The other segment's first refusal is not held back by this one's report.
  f.admission.refuse(1);
  r = f.admission.takeReports();
  REQUIRE(r.size() == 1);
  CHECK(r[0].segment == "iot");
  f.clock.advance(milliseconds(1));
  r = f.admission.takeReports();
  REQUIRE(r.size() == 1);
  CHECK(r[0].segment == "cameras");
  CHECK(r[0].refused == 1);
  CHECK(r[0].total == 4);
  // Quiet: nothing to say. On the way out, what is left, whatever the interval.
  f.clock.advance(seconds(60));
  CHECK(f.admission.takeReports().empty());
  f.admission.refuse(0);
  CHECK(f.admission.takeReports().size() == 1);
  f.admission.refuse(0);
  CHECK(f.admission.takeReports().empty());
  r = f.admission.takeReports(/*all=*/true);
  REQUIRE(r.size() == 1);
  CHECK(r[0].refused == 1);
  CHECK(r[0].total == 6);
}

}  // namespace MUZZLE_UNITY_ID
}  // namespace muzzle
