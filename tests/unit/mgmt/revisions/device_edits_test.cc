// The device-edit rules behind SetDevice, Quarantine and Release, and the merge of seen and
// listed devices, without gRPC or an engine.
#include "mgmt/revisions/device_edits.h"

#include <doctest/doctest.h>

namespace muzzle {
namespace {

MacAddress mac(const char* text) { return *MacAddress::parse(text); }

// A compiled policy that lists `macs`, in that order.
CompiledPolicy listing(std::initializer_list<const char*> macs) {
  CompiledPolicy p;
  for (const char* m : macs) {
    p.device_by_mac[mac(m).value] = static_cast<uint32_t>(p.devices.size());
    p.devices.push_back(CompiledDevice{std::string("d-") + m, mac(m), 0});
  }
  return p;
}

DeviceRecord seenRecord(const char* m) {
  DeviceRecord r;
  r.mac = mac(m);
  return r;
}

TEST_CASE("parseDeviceMac: an Ethernet address, or INVALID_ARGUMENT naming the text") {
  auto ok = parseDeviceMac("44:47:CC:12:34:56");
  REQUIRE(ok.ok());
  CHECK(ok->toString() == "44:47:cc:12:34:56");
  auto bad = parseDeviceMac("not-a-mac");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message().find("\"not-a-mac\" is not an Ethernet address") !=
        std::string::npos);
}

TEST_CASE("findOrAddDevice finds the listed entry whatever its spelling, or adds one") {
  v1::Policy policy;
  v1::Device* listed = policy.add_devices();
  listed->set_mac("44:47:CC:00:00:01");
  listed->set_name("camera");
  listed->set_profile("cameras");

  CHECK(findOrAddDevice(&policy, mac("44:47:cc:00:00:01")) == listed);
  CHECK(policy.devices_size() == 1);

  SUBCASE("a new device takes the policy's default profile") {
    policy.mutable_defaults()->set_profile("guests");
    v1::Device* added = findOrAddDevice(&policy, mac("44:47:cc:00:00:02"));
    CHECK(policy.devices_size() == 2);
    CHECK(added->mac() == "44:47:cc:00:00:02");
    CHECK(added->name() == "device-44-47-cc-00-00-02");
    CHECK(added->profile() == "guests");
  }
  SUBCASE("without a default profile, quarantine") {
    v1::Device* added = findOrAddDevice(&policy, mac("44:47:cc:00:00:02"));
    CHECK(added->profile() == "quarantine");
  }
}

TEST_CASE("setDevice changes only the fields given") {
  v1::Device d;
  d.set_name("camera");
  d.set_profile("cameras");
  REQUIRE(setDevice(&d, "", "nvr").ok());
  CHECK(d.name() == "camera");
  CHECK(d.profile() == "nvr");
  REQUIRE(setDevice(&d, "front-door", "").ok());
  CHECK(d.name() == "front-door");
  CHECK(d.profile() == "nvr");
}

TEST_CASE("quarantine remembers the profile, release gives it back") {
  v1::Device d;
  d.set_mac("44:47:cc:00:00:01");
  d.set_profile("cameras");
  REQUIRE(quarantineDevice(&d, "44:47:CC:00:00:01").ok());
  CHECK(d.profile() == "quarantine");
  CHECK(d.quarantined_from() == "cameras");

  auto again = quarantineDevice(&d, "44:47:CC:00:00:01");
  REQUIRE_FALSE(again.ok());
  CHECK(again.code() == StatusCode::kFailedPrecondition);
  CHECK(again.message() == "44:47:CC:00:00:01 is already quarantined");
  CHECK(d.quarantined_from() == "cameras");

  REQUIRE(releaseDevice(&d, "44:47:cc:00:00:01").ok());
  CHECK(d.profile() == "cameras");
  CHECK(d.quarantined_from().empty());
}

TEST_CASE("release refuses a device Quarantine did not put in quarantine") {
  v1::Device d;
  d.set_profile("cameras");
  auto not_quarantined = releaseDevice(&d, "44:47:cc:00:00:01");
  REQUIRE_FALSE(not_quarantined.ok());
  CHECK(not_quarantined.code() == StatusCode::kFailedPrecondition);
  CHECK(not_quarantined.message().find("set its profile instead") != std::string::npos);

  d.set_profile("quarantine");  // listed in quarantine by hand: nothing to go back to
  CHECK(releaseDevice(&d, "44:47:cc:00:00:01").code() == StatusCode::kFailedPrecondition);
  CHECK(d.profile() == "quarantine");
}

TEST_CASE("mergeDevices lists every seen and every listed device once, by address") {
  const CompiledPolicy policy = listing({"44:47:cc:00:00:03", "44:47:cc:00:00:01"});
  const std::vector<DeviceRecord> seen = {seenRecord("44:47:cc:00:00:02"),
                                          seenRecord("44:47:cc:00:00:01")};
  auto merged = mergeDevices(policy, seen);
  REQUIRE(merged.size() == 3);
  CHECK(merged[0].seen == &seen[1]);  // 01: seen and listed
  CHECK(merged[0].listed == 1);
  CHECK(merged[1].seen == &seen[0]);  // 02: seen only
  CHECK(merged[1].listed == -1);
  CHECK(merged[2].seen == nullptr);  // 03: listed only
  CHECK(merged[2].listed == 0);
}

TEST_CASE("findDevice: seen, listed, or NOT_FOUND") {
  const CompiledPolicy policy = listing({"44:47:cc:00:00:01"});
  const std::vector<DeviceRecord> seen = {seenRecord("44:47:cc:00:00:02")};
  auto listed = findDevice(policy, seen, mac("44:47:cc:00:00:01"));
  REQUIRE(listed.ok());
  CHECK(listed->seen == nullptr);
  CHECK(listed->listed == 0);
  auto seen_only = findDevice(policy, seen, mac("44:47:cc:00:00:02"));
  REQUIRE(seen_only.ok());
  CHECK(seen_only->seen == &seen[0]);
  CHECK(seen_only->listed == -1);
  auto missing = findDevice(policy, seen, mac("44:47:cc:00:00:09"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK(missing.status().message() == "no device 44:47:cc:00:00:09 is listed or was seen");
}

}  // namespace
}  // namespace muzzle
