// The saved inventory (inventory.pb): every field of a device record survives a load and a save
// unchanged, so the plain records in memory keep the file muzzled has always written.
#include <doctest/doctest.h>
#include <google/protobuf/util/message_differencer.h>

#include <string>

#include "fw/device/inventory.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

TEST_CASE("every field of a saved device record is written back as it was read") {
  ManualClock clock;
  const int64_t now = unixSeconds(clock.wallNow());
  v1::Inventory saved;
  v1::DeviceRecord* r = saved.add_devices();
  r->set_mac("02:47:cc:00:00:11");
  r->set_randomised_mac(true);
  r->set_vendor("Example Cameras");
  r->add_addresses("fd00:10::11");
  r->add_addresses("198.18.10.11");
  r->set_segment("cameras");
  r->set_first_seen_unix(now - 3600);
  r->set_last_seen_unix(now - 60);
  r->set_dhcp_hostname("cam-lobby");
  r->set_dhcp_parameter_list("1,3,6,15");
  r->set_dhcp_vendor_class("udhcp 1.30");
  r->set_dhcp_client_id("01024700000011");
  r->set_mud_url("https://mud.example/cam.json");
  r->set_profile("camera");
  r->set_assignment("classified");
  r->set_assigned_by("classify[0]");
  r->set_allowed_flows(12);
  r->set_denied_flows(3);
  r->set_name("lobby-cam");
  r->set_upload_bytes(123456789012);
  r->set_upload_packets(98765);
  r->set_download_bytes(4321);
  r->set_download_packets(12);
  v1::ClassTotals* c = r->add_by_class();
  c->set_to("vendor-cloud");
  c->set_upload_bytes(123456789000);
  c->set_upload_packets(98700);
  c->set_download_bytes(4000);
  c->set_download_packets(10);
  c = r->add_by_class();
  c->set_to("gateway");
  c->set_upload_bytes(12);
  c->set_upload_packets(65);
  c->set_download_bytes(321);
  c->set_download_packets(2);
  v1::AddressBinding* b = saved.add_bindings();
  b->set_address("198.18.10.11");
  b->set_mac("02:47:cc:00:00:11");
  b->set_evidence("seen");
  b->set_since_unix(now - 3600);
  b->set_last_active_unix(now - 60);

  DeviceInventory inv(4, nullptr, clock);
  REQUIRE(inv.load(saved.SerializeAsString()).ok());
  const DeviceRecord* loaded = inv.find(*MacAddress::parse("02:47:cc:00:00:11"));
  REQUIRE(loaded != nullptr);
  CHECK(loaded->profile == "camera");
  REQUIRE(loaded->addresses.size() == 2);
  CHECK(loaded->addresses[0].toString() == "fd00:10::11");

  v1::Inventory again;
  REQUIRE(again.ParseFromString(inv.serialize()));
  REQUIRE(again.devices_size() == 1);
  std::string difference;
  google::protobuf::util::MessageDifferencer diff;
  diff.ReportDifferencesToString(&difference);
  CHECK_MESSAGE(diff.Compare(saved.devices(0), again.devices(0)), difference);
}

TEST_CASE("a saved device's traffic classes are bounded: nameless, overlong and extra ones dropped") {
  ManualClock clock;
  v1::Inventory saved;
  v1::DeviceRecord* r = saved.add_devices();
  r->set_mac("44:47:cc:00:00:11");
  r->set_last_seen_unix(unixSeconds(clock.wallNow()));  // recent: a stale record is not loaded
  r->add_by_class()->set_to("");  // no name: dropped
  r->add_by_class()->set_to(std::string(DeviceInventory::kMaxClassName + 1, 'x'));
  for (size_t i = 0; i < DeviceInventory::kMaxTrafficClasses + 10; ++i) {
    v1::ClassTotals* c = r->add_by_class();
    c->set_to("group-" + std::to_string(i));
    c->set_upload_bytes(i);
  }
  DeviceInventory inv(4, nullptr, clock);
  REQUIRE(inv.load(saved.SerializeAsString()).ok());
  const DeviceRecord* loaded = inv.find(*MacAddress::parse("44:47:cc:00:00:11"));
  REQUIRE(loaded != nullptr);
  REQUIRE(loaded->by_class.size() == DeviceInventory::kMaxTrafficClasses);
  CHECK(loaded->by_class.front().to == "group-0");
  CHECK(loaded->by_class.back().upload.bytes == DeviceInventory::kMaxTrafficClasses - 1);
}

}  // namespace
}  // namespace muzzle
