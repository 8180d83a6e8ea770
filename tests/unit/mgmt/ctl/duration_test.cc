// --confirm's durations: every spelling, the largest the API carries, and what is refused.
#include "mgmt/ctl/duration.h"

#include <doctest/doctest.h>

namespace muzzle::ctl {
namespace MUZZLE_UNITY_ID {

uint64_t seconds(const std::string& text) {
  auto r = parseDuration("--confirm", text);
  REQUIRE_MESSAGE(r.ok(), std::string(r.status().message()));
  return *r;
}

std::string refusal(const std::string& text) {
  auto r = parseDuration("--confirm", text);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST_CASE("durations in seconds, minutes and hours") {
  CHECK(seconds("90") == 90);
  CHECK(seconds("90s") == 90);
  CHECK(seconds("5m") == 300);
  CHECK(seconds("1h") == 3600);
  CHECK(seconds("0") == 0);
  CHECK(seconds("007m") == 420);
}

TEST_CASE("the largest duration the API carries is accepted; one past it is refused") {
  CHECK(seconds("4294967295") == 4294967295u);
  CHECK(seconds("4294967295s") == 4294967295u);
  CHECK(seconds("71582788m") == 71582788ull * 60);  // the most whole minutes
  CHECK(seconds("1193046h") == 1193046ull * 3600);  // the most whole hours
  for (const char* text :
       {"4294967296", "4294967296s", "71582789m", "1193047h", "99999999999999999999999999h"}) {
    CAPTURE(text);
    const std::string m = refusal(text);
    CHECK(m.find("--confirm \"" + std::string(text) + "\" is too long") != std::string::npos);
    CHECK(m.find("the most is 4294967295 seconds") != std::string::npos);
    CHECK(m.find("give a shorter duration") != std::string::npos);
  }
}

TEST_CASE("anything but digits and one unit is refused, saying what a duration looks like") {
  for (const char* text :
       {"", "10x", "-5m", "+5m", "h", "5 m", " 5m", "5mm", "1.5h", "5M", "0x10"}) {
    CAPTURE(text);
    const std::string m = refusal(text);
    CHECK(m.find("is not a duration") != std::string::npos);
    CHECK(m.find("90s, 5m or 1h") != std::string::npos);
  }
}

}  // namespace
}  // namespace muzzle::ctl
