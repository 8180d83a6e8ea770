// The device-edit rules behind SetDevice, Quarantine and Release, those edits made in the
// policy's text, and the merge of seen and listed devices, without gRPC or an engine.
#include "mgmt/revisions/device_edits.h"

#include <doctest/doctest.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fw/config/yaml_proto.h"
#include "fw/policy/policy_loader.h"
#include "tests/unit/support/site_policy.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

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

using testing::kPoliciesDir;
using testing::siteExampleText;

std::shared_ptr<const CompiledPolicy> compiled(const std::string& text) {
  auto c = compilePolicyText(text, "policy.yaml", SiteFacts{},
                             PolicyFolders{kPoliciesDir, kPoliciesDir});
  REQUIRE_MESSAGE(c.ok(), c.status().message());
  return *c;
}

// What a compiled policy gives devices: each listed device's name, address and profile, and
// the profiles there are.
std::string devicesOf(const CompiledPolicy& p) {
  std::string out;
  for (const CompiledProfile& profile : p.profiles) out += "profile " + profile.name + "\n";
  out += "default " + p.profiles[p.default_profile].name + "\n";
  for (const CompiledDevice& d : p.devices) {
    out += d.name + " " + d.mac.toString() + " " + p.profiles[d.profile].name + "\n";
  }
  return out;
}

// `change` made to `m` in `text`, both ways: in the text (editDeviceText) and in the message
// (what the edit meant). The text must read back as exactly that message, and compile to the
// same devices as the message does (written as JSON, as edits were before). Returns the text.
std::string editedBothWays(const std::string& text, MacAddress m,
                           const std::function<Status(v1::Device*)>& change) {
  auto edited = editDeviceText(text, "policy.yaml", m, change);
  REQUIRE_MESSAGE(edited.ok(), edited.status().message());
  v1::Policy meant;
  REQUIRE(yamlToProto(text, "policy.yaml", &meant, nullptr).ok());
  REQUIRE(change(findOrAddDevice(&meant, m)).ok());
  v1::Policy read;
  REQUIRE(yamlToProto(*edited, "policy.yaml", &read, nullptr).ok());
  CHECK(google::protobuf::util::MessageDifferencer::Equals(meant, read));
  std::string json;
  REQUIRE(google::protobuf::util::MessageToJsonString(meant, &json).ok());
  CHECK(devicesOf(*compiled(*edited)) == devicesOf(*compiled(json)));
  return *edited;
}

// The lines of `b` that are not lines of `a` at the same place, once the common head and tail
// are set aside: what a diff of the two shows.
std::string changedLines(const std::string& a, const std::string& b) {
  std::vector<std::string> la, lb;
  std::string l;
  for (std::istringstream s(a); std::getline(s, l);) la.push_back(l);
  for (std::istringstream s(b); std::getline(s, l);) lb.push_back(l);
  size_t head = 0;
  while (head < la.size() && head < lb.size() && la[head] == lb[head]) ++head;
  size_t tail = 0;
  while (tail < la.size() - head && tail < lb.size() - head &&
         la[la.size() - 1 - tail] == lb[lb.size() - 1 - tail]) {
    ++tail;
  }
  std::string out;
  for (size_t i = head; i < la.size() - tail; ++i) out += "-" + la[i] + "\n";
  for (size_t i = head; i < lb.size() - tail; ++i) out += "+" + lb[i] + "\n";
  return out;
}

TEST_CASE("set, quarantine, release, a new device: the text is the message, the diff the entry") {
  const std::string site = siteExampleText();
  const MacAddress garage = mac("44:47:CC:00:00:12");

  const std::string set = editedBothWays(
      site, garage, [](v1::Device* d) { return setDevice(d, "carport-cam", "vacuum"); });
  CHECK(changedLines(site, set) ==
        "-  - name: garage-cam\n"
        "-    mac: \"44:47:cc:00:00:12\"\n"
        "-    profile: camera\n"
        "+  - name: carport-cam\n"
        "+    mac: \"44:47:cc:00:00:12\"\n"
        "+    profile: vacuum\n");

  const std::string quarantined = editedBothWays(
      site, garage, [](v1::Device* d) { return quarantineDevice(d, "44:47:CC:00:00:12"); });
  CHECK(changedLines(site, quarantined) ==
        "-    profile: camera\n"
        "+    profile: quarantine\n"
        "+    quarantined_from: camera\n");
  CHECK(quarantined.find("# Cameras talk to the NVR") != std::string::npos);

  const std::string released = editedBothWays(
      quarantined, garage, [](v1::Device* d) { return releaseDevice(d, "44:47:cc:00:00:12"); });
  CHECK(released == site);

  const std::string added = editedBothWays(
      site, mac("44:47:cc:00:00:13"), [](v1::Device* d) { return setDevice(d, "", "camera"); });
  CHECK(changedLines(site, added) ==
        "+  - name: device-44-47-cc-00-00-13\n"
        "+    mac: \"44:47:cc:00:00:13\"\n"
        "+    profile: camera\n");
}

TEST_CASE("quarantine and release of a device listed only in a device file") {
  testing::TempDir dir("muzzle-device-edits");
  std::filesystem::create_directory(dir / "lists");
  std::ofstream(dir / "lists/devices.csv")
      << "door,44:47:cc:12:34:56,cams\nhall,44:47:cc:12:34:57,\n";
  const std::string policy_path = (dir / "policy.yaml").string();
  const std::string text = R"(version: 1
profiles:
  quarantine: {egress: [{deny: [internet]}]}
  cams: {egress: [{allow: [local]}]}
devices:
  - {file: lists/devices.csv}
)";
  const auto compile = [&](const std::string& t) {
    auto c = compilePolicyText(t, policy_path, SiteFacts{});
    REQUIRE_MESSAGE(c.ok(), c.status().message());
    return *c;
  };
  const auto profileOf = [](const CompiledPolicy& p, MacAddress m) {
    const int i = p.deviceByMac(m);
    REQUIRE(i >= 0);
    return p.profiles[p.devices[static_cast<size_t>(i)].profile].name + " " +
           p.devices[static_cast<size_t>(i)].name;
  };
  const auto installed = compile(text);
  const MacAddress door = mac("44:47:cc:12:34:56");
  const auto quarantine = [](v1::Device* d) { return quarantineDevice(d, "44:47:cc:12:34:56"); };

  // The new entry starts from the file's line: its name stays, Release knows what to give back.
  auto quarantined =
      editDeviceText(text, "policy.yaml", door, quarantine, listedDevice(installed.get(), door));
  REQUIRE_MESSAGE(quarantined.ok(), quarantined.status().message());
  CHECK(changedLines(text, *quarantined) ==
        "+  - name: door\n"
        "+    mac: \"44:47:cc:12:34:56\"\n"
        "+    profile: quarantine\n"
        "+    quarantined_from: cams\n");
  const auto now = compile(*quarantined);
  CHECK(profileOf(*now, door) == "quarantine door");
  CHECK(profileOf(*now, mac("44:47:cc:12:34:57")) == "quarantine hall");
  CHECK(now->devices.size() == 2);

  auto released = editDeviceText(
      *quarantined, "policy.yaml", door,
      [](v1::Device* d) { return releaseDevice(d, "44:47:cc:12:34:56"); },
      listedDevice(now.get(), door));
  REQUIRE_MESSAGE(released.ok(), released.status().message());
  CHECK(profileOf(*compile(*released), door) == "cams door");

  // A line that left its profile to the default names it, so Release can give it back.
  const MacAddress hall = mac("44:47:cc:12:34:57");
  auto listed = listedDevice(installed.get(), hall);
  REQUIRE(listed.has_value());
  CHECK(listed->profile() == "quarantine");
  CHECK_FALSE(listedDevice(installed.get(), mac("44:47:cc:12:34:99")).has_value());
  // No policy installed (a box that has none yet, a test's engine): nothing is listed.
  CHECK_FALSE(listedDevice(nullptr, door).has_value());
}

TEST_CASE("editDeviceText: the change's refusal, and text that does not read, are its errors") {
  const std::string site = siteExampleText();
  auto again = editDeviceText(site, "policy.yaml", mac("44:47:cc:00:00:12"), [](v1::Device* d) {
    return releaseDevice(d, "44:47:cc:00:00:12");
  });
  CHECK(again.status().code() == StatusCode::kFailedPrecondition);
  auto bad = editDeviceText("version: 1\nprofiles: {q: {egress: 3}}\n", "policy.yaml",
                            mac("44:47:cc:00:00:12"), [](v1::Device*) { return Status(); });
  REQUIRE(!bad.ok());
  CHECK(bad.status().message().find("policy.yaml:2") == 0);
}

}  // namespace
}  // namespace muzzle
