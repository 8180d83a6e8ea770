// DeviceInventory::load of a damaged saved inventory: a MAC saved twice keeps its newest record
// only, so no address is left pointing at a device the inventory no longer holds (found by
// inventory_fuzz).
#include <doctest/doctest.h>

#include <string>

#include "fw/device/inventory.h"

namespace muzzle {
namespace {

TEST_CASE("a MAC saved twice keeps its newest record, and the older one's addresses go") {
  ManualClock clock;
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(clock.wallNow().time_since_epoch()).count();
  v1::Inventory saved;
  v1::DeviceRecord* newest = saved.add_devices();
  newest->set_mac("44:47:cc:00:00:11");
  newest->add_addresses("198.18.10.11");
  newest->set_last_seen_unix(now);
  v1::DeviceRecord* older = saved.add_devices();
  older->set_mac("44:47:cc:00:00:11");
  older->add_addresses("198.18.10.99");
  older->set_last_seen_unix(now - 60);

  DeviceInventory inv(2, nullptr, clock);
  const Status s = inv.load(saved.SerializeAsString());
  CHECK_FALSE(s.ok());
  CHECK(s.message() ==
        "1 saved devices were dropped (unreadable or repeated MAC, or over capacity)");
  REQUIRE(inv.size() == 1);
  const MacAddress cam = *MacAddress::parse("44:47:cc:00:00:11");
  CHECK(inv.macOf(*IpAddress::parse("198.18.10.11")) == cam);
  CHECK_FALSE(inv.macOf(*IpAddress::parse("198.18.10.99")).has_value());

  // Two new devices evict it: then none of the saved addresses leads anywhere.
  clock.advance(std::chrono::seconds(1));
  inv.observe(*MacAddress::parse("02:00:00:00:00:01"), *IpAddress::parse("198.18.10.51"),
              "cameras");
  clock.advance(std::chrono::seconds(1));
  inv.observe(*MacAddress::parse("02:00:00:00:00:02"), *IpAddress::parse("198.18.10.52"),
              "cameras");
  CHECK(inv.find(cam) == nullptr);
  CHECK_FALSE(inv.macOf(*IpAddress::parse("198.18.10.11")).has_value());
  CHECK_FALSE(inv.macOf(*IpAddress::parse("198.18.10.99")).has_value());
}

}  // namespace
}  // namespace muzzle
