#include "fw/device/inventory.h"

#include <doctest/doctest.h>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

MacAddress mac(const char* t) { return *MacAddress::parse(t); }
IpAddress ip(const char* t) { return *IpAddress::parse(t); }

OuiDatabase oui() {
  OuiDatabase db;
  db.addCsv("MA-L,4447CC,\"Hangzhou Hikvision Digital Technology Co.,Ltd.\",x\n");
  return db;
}

TEST_CASE("a new device gets a record with vendor, address and times") {
  ManualClock clock;
  auto db = oui();
  DeviceInventory inv(16, &db, clock);
  auto [rec, created] = inv.observe(mac("44:47:cc:00:00:11"), ip("198.18.10.11"), "cameras");
  CHECK(created);
  CHECK(rec->vendor == "Hangzhou Hikvision Digital Technology Co.,Ltd.");
  CHECK(rec->segment == "cameras");
  CHECK(rec->addresses.size() == 1);
  CHECK(rec->first_seen_unix == rec->last_seen_unix);
  clock.advance(std::chrono::seconds(30));
  auto again = inv.observe(mac("44:47:cc:00:00:11"), ip("fd00:10::11"), "cameras");
  CHECK_FALSE(again.second);
  CHECK(again.first->last_seen_unix == rec->first_seen_unix + 30);
  CHECK(again.first->addresses.at(0).toString() == "fd00:10::11");  // most recent first
  CHECK(again.first->addresses.at(1).toString() == "198.18.10.11");
}

TEST_CASE("randomised MACs are marked and get no vendor") {
  ManualClock clock;
  auto db = oui();
  DeviceInventory inv(16, &db, clock);
  auto [rec, created] = inv.observe(mac("02:5a:00:00:00:99"), ip("198.18.10.99"), "cameras");
  CHECK(rec->randomised_mac);
  CHECK(rec->vendor.empty());
}

TEST_CASE(
    "a MAC flapping between many IPs lists only its most recent addresses; a moved one is "
    "forgotten") {
  ManualClock clock;
  DeviceInventory inv(16, nullptr, clock);
  for (int i = 1; i <= 50; ++i) {
    inv.observe(mac("44:47:cc:00:00:11"), *IpAddress::parse("198.18.10." + std::to_string(i)),
                "cameras");
  }
  const auto* rec = inv.find(mac("44:47:cc:00:00:11"));
  REQUIRE(rec != nullptr);
  CHECK(rec->addresses.size() == DeviceInventory::kMaxAddresses);
  CHECK(rec->addresses.at(0).toString() == "198.18.10.50");
  // The address moved to another device (the bindings decided): it leaves this record.
  inv.forgetAddress(mac("44:47:cc:00:00:11"), ip("198.18.10.50"));
  CHECK(rec->addresses.at(0).toString() == "198.18.10.49");
  // Listing an address never binds it: who owns an address is the bindings' call.
  CHECK_FALSE(inv.bindings().ownerOf(ip("198.18.10.49"), 0).has_value());
}

TEST_CASE("a flood of random MACs stays bounded: the longest-unseen device is evicted") {
  ManualClock clock;
  DeviceInventory inv(100, nullptr, clock);
  inv.observe(mac("44:47:cc:00:00:11"), ip("198.18.10.11"), "cameras");
  for (uint64_t i = 0; i < 1000; ++i) {
    clock.advance(std::chrono::milliseconds(1));
    if (i % 50 == 0)
      inv.observe(mac("44:47:cc:00:00:11"), ip("198.18.10.11"), "cameras");  // stays active
    inv.observe(MacAddress{0x020000000000ull + i},
                IpAddress::v4FromHostOrder(0xC6120B00u + static_cast<uint32_t>(i % 250)),
                "cameras");
  }
  CHECK(inv.size() == 100);
  CHECK(inv.evictions() == 901);
  CHECK(inv.find(mac("44:47:cc:00:00:11")) != nullptr);  // the active device survived
}

TEST_CASE("DHCP fingerprints are stored printable and report classification-relevant changes") {
  ManualClock clock;
  DeviceInventory inv(16, nullptr, clock);
  DhcpInfo d;
  d.client_mac = mac("50:ec:50:00:00:21");
  d.hostname = std::string_view("ECOVACS\x01", 8);
  d.vendor_class = "udhcp 1.30";
  const uint8_t prl[] = {1, 3, 6};
  d.parameter_request_list = prl;
  CHECK(inv.observeDhcp(d, "cameras"));
  const auto* rec = inv.find(d.client_mac);
  REQUIRE(rec != nullptr);
  CHECK(rec->dhcp_hostname == "ECOVACS\\x01");
  CHECK(rec->dhcp_parameter_list == "1,3,6");
  CHECK_FALSE(inv.observeDhcp(d, "cameras"));  // same facts: nothing to re-classify
}

TEST_CASE("devices not seen for a month are aged out when the inventory is read back") {
  ManualClock clock;
  DeviceInventory inv(16, nullptr, clock);
  inv.observe(mac("44:47:cc:00:00:11"), ip("198.18.10.11"), "cameras");
  clock.advance(std::chrono::hours(24 * 20));
  inv.observe(mac("44:47:cc:00:00:12"), ip("198.18.10.12"), "cameras");
  const std::string saved = inv.serialize();
  clock.advance(std::chrono::hours(24 * 11));  // the first is now 31 days old, the second 11
  DeviceInventory restored(16, nullptr, clock);
  REQUIRE(restored.load(saved).ok());
  CHECK(restored.size() == 1);
  CHECK(restored.agedOut() == 1);
  CHECK(restored.find(mac("44:47:cc:00:00:11")) == nullptr);
  CHECK_FALSE(restored.bindings().ownerOf(ip("198.18.10.11"), 0).has_value());
  CHECK(restored.find(mac("44:47:cc:00:00:12")) != nullptr);
}

TEST_CASE("the inventory survives a restart; a corrupt file is an error, not a crash") {
  ManualClock clock;
  auto db = oui();
  DeviceInventory inv(16, &db, clock);
  inv.observe(mac("44:47:cc:00:00:11"), ip("198.18.10.11"), "cameras");
  inv.observe(mac("02:5a:00:00:00:99"), ip("198.18.10.99"), "cameras");
  std::string saved = inv.serialize();

  DeviceInventory restored(16, &db, clock);
  REQUIRE(restored.load(saved).ok());
  CHECK(restored.size() == 2);
  // Saved without bindings (as before bindings existed): they come from the records' addresses.
  CHECK(restored.bindings().ownerOf(ip("198.18.10.99"), 0)->toString() == "02:5a:00:00:00:99");

  DeviceInventory small(1, &db, clock);
  auto s = small.load(saved);
  CHECK_FALSE(s.ok());
  CHECK(s.message().find("1 saved devices or address bindings were dropped") != std::string::npos);
  CHECK(small.size() == 1);

  DeviceInventory broken(16, &db, clock);
  CHECK_FALSE(broken.load("\xff\xff\xff garbage").ok());
  CHECK(broken.size() == 0);
}

}  // namespace
}  // namespace muzzle
