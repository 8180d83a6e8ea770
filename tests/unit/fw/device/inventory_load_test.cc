// DeviceInventory::load of a damaged saved inventory: a MAC saved twice keeps its newest record
// only, and only that record's addresses are bound to it (found by inventory_fuzz).
#include <doctest/doctest.h>

#include <string>

#include "fw/device/inventory.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

TEST_CASE(
    "a MAC saved twice keeps its newest record, and the older one's addresses are not bound") {
  ManualClock clock;
  const int64_t now = unixSeconds(clock.wallNow());
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
        "1 saved devices or address bindings were dropped (unreadable or repeated MAC, or over "
        "capacity)");
  REQUIRE(inv.size() == 1);
  const MacAddress cam = *MacAddress::parse("44:47:cc:00:00:11");
  CHECK(inv.bindings().ownerOf(*IpAddress::parse("198.18.10.11"), 0) == cam);
  CHECK_FALSE(inv.bindings().ownerOf(*IpAddress::parse("198.18.10.99"), 0).has_value());
}

}  // namespace
}  // namespace muzzle
