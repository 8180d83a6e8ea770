// Devices read from a device list file: `devices: [{file: lists/devices.csv}, ...]`.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fw/policy/device_list.h"
#include "fw/policy/policy_limits.h"
#include "fw/policy/policy_loader.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

MacAddress mac(const char* text) { return *MacAddress::parse(text); }

// A scratch folder with a policy naming lists/devices.csv; removed with everything in it.
class DeviceDir {
 public:
  DeviceDir() { std::filesystem::create_directory(dir_.path + "/lists"); }

  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_.path + "/" + name, std::ios::binary | std::ios::trunc) << text;
  }
  void writeDevices(const std::string& text) const { write("lists/devices.csv", text); }
  std::string policyPath() const { return dir_.path + "/policy.yaml"; }
  const std::string& base() const { return dir_.path; }

  Result<std::shared_ptr<const CompiledPolicy>> compile(const std::string& policy) const {
    return compilePolicyText(policy, policyPath(), SiteFacts{});
  }
  // The error of compiling `policy`, or "compiled" when there is none.
  std::string errorOf(const std::string& policy) const {
    auto p = compile(policy);
    return p.ok() ? "compiled" : p.status().message();
  }

 private:
  testing::TempDir dir_{"muzzle-devices-test"};
};

constexpr char kProfiles[] = R"(version: 1
profiles:
  quarantine: {egress: [{deny: [internet]}]}
  cams: {egress: [{allow: [local]}]}
)";

// Line 6 names the file.
const std::string kPolicy = std::string(kProfiles) + "devices:\n  - {file: lists/devices.csv}\n";

// Line 6 names the file, line 7 holds `entry`.
std::string withEntry(const std::string& entry) { return kPolicy + "  - " + entry + "\n"; }

std::string fileError(const DeviceDir& dir, int line, const std::string& what) {
  return dir.policyPath() + ":6: devices[0].file: lists/devices.csv: line " + std::to_string(line) +
         ": " + what;
}

const CompiledDevice& deviceOf(const CompiledPolicy& policy, const char* address) {
  const int index = policy.deviceByMac(mac(address));
  REQUIRE(index >= 0);
  return policy.devices[static_cast<size_t>(index)];
}

TEST_CASE("device file: lines, comments, a header, spaces, quotes, CRLF, a BOM") {
  DeviceDir dir;
  dir.writeDevices(
      "\xEF\xBB\xBF# exported from the asset database, 2026-12-04\n"
      "Name,MAC,Profile\r\n"
      "door,44:47:cc:12:34:56,cams\r\n"
      "\n"
      "  hall , 44-47-CC-12-34-57 ,  # no profile: the default\n"
      "\"lobby\",\"44:47:cc:12:34:58\",\"cams\"\n"
      "tv,44:47:cc:12:34:59");  // two fields, no newline at the end
  auto p = dir.compile(kPolicy);
  REQUIRE_MESSAGE(p.ok(), p.status().message());
  const CompiledPolicy& policy = **p;
  CHECK(policy.devices.size() == 4);
  const uint32_t cams = policy.profiles[0].name == "cams" ? 0 : 1;
  CHECK(deviceOf(policy, "44:47:cc:12:34:56").name == "door");
  CHECK(deviceOf(policy, "44:47:cc:12:34:56").profile == cams);
  CHECK(deviceOf(policy, "44:47:cc:12:34:57").name == "hall");
  CHECK(deviceOf(policy, "44:47:cc:12:34:57").profile == policy.default_profile);
  CHECK(deviceOf(policy, "44:47:cc:12:34:58").name == "lobby");
  CHECK(deviceOf(policy, "44:47:cc:12:34:58").profile == cams);
  CHECK(deviceOf(policy, "44:47:cc:12:34:59").profile == policy.default_profile);
}

TEST_CASE("device file: every kind of bad line, by number and field, never by content") {
  DeviceDir dir;
  const std::string secret = "s3cr3t";
  dir.writeDevices(
      "name,mac,profile\n"             // 1: the header
      "door,44:47:cc:12:34:56,cams\n"  // 2
      "door2," +
      secret +
      ",cams\n"                           // 3: bad mac
      ",44:47:cc:12:34:60,cams\n"         // 4: empty name
      "a b,44:47:cc:12:34:61,cams\n"      // 5: bad name
      "x,44:47:cc:12:34:62,cams,extra\n"  // 6: four fields
      + secret +
      "\n"                             // 7: one field
      "y,44:47:cc:12:34:63,c@ms\n"     // 8: bad profile
      "z,44:47:cc:12:34:64,nvr\n"      // 9: no such profile
      "door,44:47:cc:12:34:65,cams\n"  // 10: name again
      "w,44-47-CC-12-34-56,\n"         // 11: mac again
      "v,44:47:cc:12:34:66," +
      std::string(1100, 'k') +
      "\n"  // 12: too long
      "u\xff" +
      secret +
      ",44:47:cc:12:34:67,cams\n"        // 13: not UTF-8
      "name,44:47:cc:12:34:68,cams\n");  // 14: fine, not a header
  const std::string message = dir.errorOf(kPolicy);
  CHECK(message.find(secret) == std::string::npos);
  CHECK(message.find("nvr") == std::string::npos);
  const char* fields =
      "not name,mac,profile (two or three fields separated by commas; # starts "
      "a comment)";
  const char* name = "the name is empty or not a valid name (use letters, digits, _ . -)";
  CHECK(message ==
        fileError(dir, 3, "the mac is not an Ethernet address (e.g. 44:47:cc:12:34:56)") + "\n" +
            fileError(dir, 4, name) + "\n" + fileError(dir, 5, name) + "\n" +
            fileError(dir, 6, fields) + "\n" + fileError(dir, 7, fields) + "\n" +
            fileError(dir, 8,
                      "the profile is not a valid profile name (use letters, digits, _ . -; "
                      "empty: the default profile)") +
            "\n" +
            fileError(dir, 12,
                      "longer than 1024 bytes; is it a device list (name,mac,profile a "
                      "line)?") +
            "\n" + fileError(dir, 13, "not UTF-8 text; save the file as UTF-8 (or plain ASCII)") +
            "\n" + fileError(dir, 9, "the profile is not a defined profile") + "\n" +
            fileError(dir, 10, "the name is already that of lists/devices.csv line 2") + "\n" +
            fileError(dir, 11, "the mac is already that of lists/devices.csv line 2"));
}

TEST_CASE("device file: UTF-8 in a comment is fine, a line just at the bound too") {
  DeviceDir dir;
  const std::string line = "door,44:47:cc:12:34:56,cams";
  dir.writeDevices("# Büro, 2. Stock\n" + line +
                   std::string(kMaxDeviceLineBytes - line.size(), ' ') + "\n");
  CHECK(dir.errorOf(kPolicy) == "compiled");
}

TEST_CASE("device file: a file that is not a device list stops after 20 lines with a summary") {
  DeviceDir dir;
  std::string text;
  for (int i = 0; i < 25; ++i) text += "-----BEGIN PRIVATE KEY-----\n";
  dir.writeDevices(text);
  const std::string message = dir.errorOf(kPolicy);
  CHECK(message.find("line 20: ") != std::string::npos);
  CHECK(message.find("line 21: ") == std::string::npos);
  CHECK(message.find("PRIVATE") == std::string::npos);
  CHECK(
      message.ends_with("devices[0].file: lists/devices.csv: 5 more lines are not devices; is "
                        "it a device list (name,mac,profile a line)?"));
}

TEST_CASE("device file: an entry of the policy wins over the file's line for its mac") {
  DeviceDir dir;
  dir.writeDevices("door,44:47:cc:12:34:56,cams\nhall,44:47:cc:12:34:57,cams\n");
  auto p =
      dir.compile(withEntry("{name: front-door, mac: \"44-47-CC-12-34-56\", profile: quarantine, "
                            "quarantined_from: cams}"));
  REQUIRE_MESSAGE(p.ok(), p.status().message());
  CHECK((*p)->devices.size() == 2);
  const CompiledDevice& door = deviceOf(**p, "44:47:cc:12:34:56");
  CHECK(door.name == "front-door");
  CHECK((*p)->profiles[door.profile].name == "quarantine");
  CHECK(deviceOf(**p, "44:47:cc:12:34:57").name == "hall");
  // Also when the entry stands before the file's.
  auto before = dir.compile(std::string(kProfiles) +
                            "devices:\n  - {name: door, mac: \"44:47:cc:12:34:56\"}\n"
                            "  - {file: lists/devices.csv}\n");
  REQUIRE_MESSAGE(before.ok(), before.status().message());
  CHECK((*before)->profiles[deviceOf(**before, "44:47:cc:12:34:56").profile].name == "quarantine");
}

TEST_CASE("device file: a name of the policy's own entries on another device is refused") {
  DeviceDir dir;
  dir.writeDevices("door,44:47:cc:12:34:56,cams\n");
  CHECK(dir.errorOf(withEntry("{name: door, mac: \"44:47:cc:12:34:99\"}")) ==
        fileError(dir, 1, "the name is already that of devices[1]"));
}

TEST_CASE("device file: the same device in two files names both places") {
  DeviceDir dir;
  dir.writeDevices("door,44:47:cc:12:34:56,cams\n");
  dir.write("lists/more.csv", "# more\nhall,44:47:cc:12:34:57,\ndoor2,44:47:cc:12:34:56,\n");
  CHECK(dir.errorOf(kPolicy + "  - {file: lists/more.csv}\n") ==
        dir.policyPath() +
            ":7: devices[1].file: lists/more.csv: line 3: the mac is already that of "
            "lists/devices.csv line 1");
}

TEST_CASE("device file: an entry naming a file sets nothing else") {
  DeviceDir dir;
  dir.writeDevices("door,44:47:cc:12:34:56,cams\n");
  CHECK(dir.errorOf(std::string(kProfiles) +
                    "devices:\n  - {file: lists/devices.csv, profile: cams}\n") ==
        dir.policyPath() +
            ":6: devices[0]: an entry names a file or one device, not both; put this device in "
            "its own entry or as a line of the file");
}

TEST_CASE("device file: missing, outside the folders, or a folder: refused at the entry") {
  DeviceDir dir;
  CHECK(dir.errorOf(kPolicy) ==
        dir.policyPath() + ":6: devices[0].file: \"lists/devices.csv\" does not exist in " +
            dir.base() + "; check the name (relative to the policy's folder)");
  const std::string outside =
      dir.errorOf(std::string(kProfiles) + "devices:\n  - {file: /etc/passwd}\n");
  CHECK(outside.starts_with(dir.policyPath() + ":6: devices[0].file: \"/etc/passwd\" is outside "
                                               "the folders a policy may name files in"));
  CHECK(dir.errorOf(std::string(kProfiles) + "devices:\n  - {file: ../x.csv}\n")
            .find("climbs out of its folder") != std::string::npos);
  std::filesystem::create_directory(dir.base() + "/lists/devices.csv");
  CHECK(dir.errorOf(kPolicy) == dir.policyPath() +
                                    ":6: devices[0].file: \"lists/devices.csv\" is a folder; "
                                    "name a file in it");
}

TEST_CASE("device file: the digest follows the file's contents") {
  DeviceDir dir;
  std::vector<std::string> digests;
  for (const char* text : {"door,44:47:cc:12:34:56,cams\n", "door,44:47:cc:12:34:56,cams\n",
                           "door,44:47:cc:12:34:56,\n", "door,44:47:cc:12:34:56,\n# a comment\n"}) {
    dir.writeDevices(text);
    auto p = dir.compile(kPolicy);
    REQUIRE_MESSAGE(p.ok(), p.status().message());
    digests.push_back((*p)->digest);
  }
  CHECK(digests[0] == digests[1]);
  CHECK(digests[1] != digests[2]);
  CHECK(digests[2] != digests[3]);
}

TEST_CASE("device file: kMaxDevices counts the policy's entries and the files' lines together") {
  DeviceDir dir;
  std::string text;
  char line[64];
  for (size_t i = 0; i < kMaxDevices; ++i) {
    std::snprintf(line, sizeof line, "d%zu,02:00:00:%02zx:%02zx:%02zx,\n", i, (i >> 16) & 0xff,
                  (i >> 8) & 0xff, i & 0xff);
    text += line;
  }
  dir.writeDevices(text);
  CHECK(dir.errorOf(kPolicy) == "compiled");
  CHECK(dir.errorOf(withEntry("{name: door, mac: \"44:47:cc:12:34:99\"}")) ==
        dir.policyPath() +
            ":6: devices[0].file: with lists/devices.csv, the policy would list more than 100000 "
            "devices; split the site over more boxes");
}

TEST_CASE("device file: parseDeviceList stops at its bound") {
  const std::string text = "a,44:47:cc:12:34:56,\nb,44:47:cc:12:34:57,\nc,44:47:cc:12:34:58,\n";
  const DeviceList two = parseDeviceList(text, 2);
  CHECK(two.devices.size() == 2);
  CHECK(two.over_limit);
  const DeviceList three = parseDeviceList(text, 3);
  CHECK(three.devices.size() == 3);
  CHECK_FALSE(three.over_limit);
  CHECK(three.devices[2].name == "c");
  CHECK(three.devices[2].line == 3);
}

}  // namespace
}  // namespace muzzle
