// VolumeLimits (fw/engine/volume_limits.h): windows open at the first growth, a limit passed is
// told once per window, a blocking one blocks its class (or all) until the window ends or an
// admin releases the device, and a reload keeps the windows of limits it left as they were.
#include "fw/engine/volume_limits.h"

#include <doctest/doctest.h>

#include "fw/policy/policy_loader.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using std::chrono::minutes;

std::shared_ptr<const CompiledPolicy> policyWith(const std::string& limits) {
  const std::string text =
      "version: 1\naddresses: {cloud: [203.0.113.0/28]}\n"
      "profiles:\n  camera:\n    egress: [{allow: [cloud, internet]}]\n    limits:\n" +
      limits + "  quarantine: {}\n";
  auto p = compilePolicyText(text, "policy.yaml", SiteFacts{});
  REQUIRE_MESSAGE(p.ok(), p.status().message());
  return *p;
}

const MacAddress kCam = *MacAddress::parse("44:47:cc:00:00:11");
const MacAddress kOther = *MacAddress::parse("44:47:cc:00:00:12");

VolumeLimits::Growth up(MacAddress device, uint8_t traffic_class, uint64_t bytes) {
  return {device, 0, traffic_class, bytes, 0};
}

TEST_CASE("a limit passed: one event per window, a block of its class, lifted when it ends") {
  auto policy = policyWith("      - {to: internet, upload: 30MB, per: 10m, action: block}\n");
  VolumeLimits limits;
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  // 10 MB per interval: under, at the bound (not past it), then past.
  CHECK(limits.update(*policy, {up(kCam, kClassInternet, 10'000'000)}, t0).empty());
  CHECK(limits.update(*policy, {up(kCam, kClassInternet, 20'000'000)}, t0 + minutes(1)).empty());
  CHECK_FALSE(limits.blocksChanged());
  // Traffic in another class, or of another direction, does not count.
  CHECK(limits.update(*policy, {up(kCam, kClassLocal, 90'000'000), {kCam, 0, kClassInternet, 0, 90'000'000}},
                      t0 + minutes(2)).empty());
  auto events = limits.update(*policy, {up(kCam, kClassInternet, 1)}, t0 + minutes(3));
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == VolumeLimits::Event::kExceeded);
  CHECK(events[0].device == kCam);
  CHECK(events[0].limit == "profiles.camera.limits[0]");
  CHECK(events[0].source == "internet upload 30MB per 10m block");
  CHECK(events[0].upload);
  CHECK(events[0].observed == 30'000'001);
  CHECK(events[0].block);
  CHECK(limits.blocksChanged());
  CHECK(limits.blocks() == MacMap<uint64_t>{
                               {kCam.value, uint64_t{1} << kClassInternet}});
  // Still over: no second event, no change.
  CHECK(limits.update(*policy, {up(kCam, kClassInternet, 50'000'000)}, t0 + minutes(4)).empty());
  CHECK_FALSE(limits.blocksChanged());
  // The window opened at t0: at t0 + 10 min it is over, and the block with it.
  events = limits.update(*policy, {}, t0 + minutes(10));
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == VolumeLimits::Event::kReleased);
  CHECK(std::string(events[0].why) == "window-ended");
  CHECK(limits.blocksChanged());
  CHECK(limits.blocks().empty());
  CHECK(limits.windows() == 0);
  // A new window from the next growth: counting starts again.
  CHECK(limits.update(*policy, {up(kCam, kClassInternet, 29'000'000)}, t0 + minutes(11)).empty());
  CHECK(limits.windows() == 1);
}

TEST_CASE("alert only: the event, no block; a limit without `to` counts every class") {
  auto policy = policyWith("      - {download: 1MB, per: 1h}\n");
  VolumeLimits limits;
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  auto events = limits.update(
      *policy,
      {{kCam, 0, kClassLocal, 0, 600'000}, {kCam, 0, 3, 0, 600'000}, up(kOther, kClassLocal, 5)},
      t0);
  REQUIRE(events.size() == 1);
  CHECK_FALSE(events[0].upload);
  CHECK(events[0].observed == 1'200'000);
  CHECK_FALSE(events[0].block);
  CHECK_FALSE(limits.blocksChanged());
  CHECK(limits.blocks().empty());
  CHECK(limits.windows() == 2);  // one per device
}

TEST_CASE("an admin's release lifts the block; the window does not block again before it ends") {
  auto policy = policyWith("      - {upload: 1MB, per: 1h, action: block}\n");
  VolumeLimits limits;
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  CHECK(limits.release(kCam).empty());  // nothing blocked
  REQUIRE(limits.update(*policy, {up(kCam, kClassInternet, 2'000'000)}, t0).size() == 1);
  CHECK(limits.blocks().at(kCam.value) == ~uint64_t{0});  // every class
  auto events = limits.release(kCam);
  REQUIRE(events.size() == 1);
  CHECK(std::string(events[0].why) == "admin");
  CHECK(limits.blocksChanged());
  CHECK(limits.blocks().empty());
  CHECK(limits.update(*policy, {up(kCam, kClassInternet, 9'000'000)}, t0 + minutes(5)).empty());
  CHECK(limits.blocks().empty());
}

TEST_CASE("a reload keeps the windows of unchanged limits; a changed limit's block is lifted") {
  auto policy = policyWith("      - {upload: 1MB, per: 1h, action: block}\n");
  VolumeLimits limits;
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  REQUIRE(limits.update(*policy, {up(kCam, kClassInternet, 2'000'000)}, t0).size() == 1);
  auto same = policyWith("      - {upload: 1MB, per: 1h, action: block}\n");
  CHECK(limits.update(*same, {}, t0 + minutes(1)).empty());
  CHECK(limits.blocks().size() == 1);
  auto changed = policyWith("      - {upload: 5MB, per: 1h, action: block}\n");
  auto events = limits.update(*changed, {}, t0 + minutes(2));
  REQUIRE(events.size() == 1);
  CHECK(std::string(events[0].why) == "limit-removed");
  CHECK(limits.blocks().empty());
}

TEST_CASE("a limit with `when` counts only while its schedule holds; its block ends with it") {
  auto policy = policyWith(
      "      - {upload: 1MB, per: 1h, action: block, when: {hours: \"22:00-06:00\"}}\n");
  const CompiledLimit& limit = policy->profiles[0].limits.at(0);
  REQUIRE(limit.schedule == 0);
  CHECK(limit.source == "all upload 1MB per 1h block when 22:00-06:00");
  VolumeLimits limits;
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  const ScheduleMask day = 0, night = 1;
  // By day nothing counts: no window, however much is sent.
  CHECK(limits.update(*policy, {up(kCam, kClassInternet, 5'000'000)}, t0, day).empty());
  CHECK(limits.windows() == 0);
  // At night it does, and blocks.
  REQUIRE(limits.update(*policy, {up(kCam, kClassInternet, 2'000'000)}, t0 + minutes(1), night)
              .size() == 1);
  CHECK(limits.blocks().size() == 1);
  // Morning: the schedule closed, the block is lifted at the next interval.
  auto events = limits.update(*policy, {}, t0 + minutes(2), day);
  REQUIRE(events.size() == 1);
  CHECK(std::string(events[0].why) == "schedule-closed");
  CHECK(limits.blocks().empty());
  CHECK(limits.windows() == 0);
}

}  // namespace
}  // namespace muzzle
