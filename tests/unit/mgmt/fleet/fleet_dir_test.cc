// A fleet directory: fleet.yaml read with its lines, boxes matched to groups, address overrides
// written into the admin's text (the rest kept byte for byte), the offline check locating errors
// in the file the admin edits, with the box.
#include "mgmt/fleet/fleet_dir.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "tests/unit/support/temp_dir.h"

namespace muzzle::fleet {
namespace MUZZLE_UNITY_ID {

using muzzle::testing::TempDir;

void write(const TempDir& dir, const std::string& name, const std::string& text) {
  const auto path = dir / name;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

constexpr char kPolicy[] =
    "version: 1\n"
    "defaults: {profile: quarantine}\n"
    "addresses:\n"
    "  # the recorder\n"
    "  nvr:\n"
    "    - 198.18.1.10\n"
    "    - fd00:1::10\n"
    "  cloud: [203.0.113.20]   # the vendor\n"
    "profiles:\n"
    "  quarantine:\n"
    "    egress:\n"
    "      - allow: [nvr]\n"
    "        proto: tcp\n"
    "        ports: [554]\n";

constexpr char kFleet[] =
    "version: 1\n"
    "tls: {ca: pki/ca.pem, cert: /etc/admin.pem}\n"
    "groups:\n"
    "  - name: cameras\n"
    "    select: {role: cameras}\n"
    "    policy: policies/cameras.yaml\n"
    "    addresses:\n"
    "      cloud: [203.0.113.30]\n"
    "boxes:\n"
    "  - name: north-01\n"
    "    target: 198.51.100.11:7443\n"
    "    labels: {role: cameras, site: north-01}\n"
    "    addresses:\n"
    "      nvr: [198.18.2.10]\n"
    "  - name: north-02\n"
    "    target: 198.51.100.12:7443\n"
    "    labels: {role: cameras, site: north-02}\n"
    "  - name: south-01\n"
    "    target: unix:/run/muzzle/muzzled.sock\n"
    "    labels: {role: cameras}\n";

TEST_CASE("boxes get their group's policy with the group's and their own overrides") {
  TempDir dir("fleet-dir");
  write(dir, "fleet.yaml", kFleet);
  write(dir, "policies/cameras.yaml", kPolicy);
  auto fleet = FleetDir::load(dir.path);
  REQUIRE_MESSAGE(fleet.ok(), fleet.status().message());
  REQUIRE(fleet->members().size() == 3);
  const Member& n1 = fleet->members()[0];
  CHECK(n1.name == "north-01");
  CHECK(n1.group == "cameras");
  CHECK(n1.labels.at("site") == "north-01");
  // The box's nvr replaces the block list (its comment above stays); the group's cloud replaces
  // the flow list on its line; every other line is the admin's.
  CHECK(*n1.text ==
        "version: 1\n"
        "defaults: {profile: quarantine}\n"
        "addresses:\n"
        "  # the recorder\n"
        "  nvr: [\"198.18.2.10\"]\n"
        "  cloud: [\"203.0.113.30\"]\n"
        "profiles:\n"
        "  quarantine:\n"
        "    egress:\n"
        "      - allow: [nvr]\n"
        "        proto: tcp\n"
        "        ports: [554]\n");
  REQUIRE(n1.origins->size() == 12);
  CHECK((*n1.origins)[4].file == "fleet.yaml");
  CHECK((*n1.origins)[4].line == 14);  // boxes[0].addresses.nvr
  CHECK((*n1.origins)[5].line == 8);   // groups[0].addresses.cloud
  CHECK((*n1.origins)[6].file == "policies/cameras.yaml");
  CHECK((*n1.origins)[6].line == 9);  // "profiles:" moved up two lines, its origin did not
  // Two boxes with the same policy and overrides share one text.
  CHECK(fleet->members()[1].text == fleet->members()[2].text);
  CHECK(fleet->members()[1].sha256 != n1.sha256);
  CHECK(fleet->tls().ca() == dir.path + "/pki/ca.pem");
  CHECK(fleet->tls().cert() == "/etc/admin.pem");
}

TEST_CASE("an override for a group the policy lacks adds it; a policy without addresses gets the section") {
  TempDir dir("fleet-dir");
  write(dir, "fleet.yaml",
        "version: 1\n"
        "boxes:\n"
        "  - name: a\n"
        "    target: unix:/x\n"
        "    policy: p.yaml\n"
        "    addresses: {nvr: [198.18.1.10], list: {file: lists/x.txt}}\n");
  write(dir, "p.yaml", "version: 1\n");
  auto fleet = FleetDir::load(dir.path);
  REQUIRE_MESSAGE(fleet.ok(), fleet.status().message());
  CHECK(*fleet->members()[0].text ==
        "version: 1\naddresses:\n  list: {file: \"lists/x.txt\"}\n  nvr: [\"198.18.1.10\"]\n");
  write(dir, "p.yaml", "version: 1\naddresses:\n  other: [192.0.2.1]\nprofiles: {}\n");
  fleet = FleetDir::load(dir.path);
  REQUIRE_MESSAGE(fleet.ok(), fleet.status().message());
  CHECK(*fleet->members()[0].text ==
        "version: 1\naddresses:\n  other: [192.0.2.1]\n  list: {file: \"lists/x.txt\"}\n"
        "  nvr: [\"198.18.1.10\"]\nprofiles: {}\n");
}

TEST_CASE("every problem of fleet.yaml is reported at once, with its line") {
  TempDir dir("fleet-dir");
  write(dir, "p.yaml", kPolicy);
  write(dir, "fleet.yaml",
        "version: 1\n"
        "groups:\n"
        "  - {name: a, select: {role: cameras}, policy: p.yaml}\n"
        "  - {name: b, select: {site: x}, policy: p.yaml}\n"
        "boxes:\n"
        "  - {name: one, target: unix:/a, labels: {role: cameras, site: x}}\n"
        "  - {name: two, target: unix:/b, labels: {role: vacuums}}\n"
        "  - {name: one, target: unix:/c, policy: p.yaml}\n"
        "  - {name: three, target: unix:/d, policy: ../etc/shadow}\n"
        "  - {name: four, policy: missing.yaml}\n");
  auto fleet = FleetDir::load(dir.path);
  REQUIRE_FALSE(fleet.ok());
  const std::string m(fleet.status().message());
  CHECK(m.find("fleet.yaml:6: boxes[0]: box one matches groups a and b") != std::string::npos);
  CHECK(m.find("fleet.yaml:7: boxes[1]: box two matches no group") != std::string::npos);
  CHECK(m.find("fleet.yaml:8: boxes[2].name: box one is listed twice (first at line 6)") !=
        std::string::npos);
  CHECK(m.find("fleet.yaml:9: boxes[3].policy: policy \"../etc/shadow\" must be a path inside") !=
        std::string::npos);
  CHECK(m.find("fleet.yaml:10: boxes[4].target: box four needs a target") != std::string::npos);
  CHECK(m.find("missing.yaml") != std::string::npos);
}

TEST_CASE("unknown keys, a missing fleet.yaml and a policy that cannot take overrides are errors") {
  TempDir dir("fleet-dir");
  auto missing = FleetDir::load(dir.path);
  REQUIRE_FALSE(missing.ok());
  CHECK(std::string(missing.status().message()).find("fleet.yaml") != std::string::npos);

  write(dir, "fleet.yaml", "version: 1\nboxes:\n  - {name: a, target: unix:/x, colour: red}\n");
  auto unknown = FleetDir::load(dir.path);
  REQUIRE_FALSE(unknown.ok());
  CHECK(std::string(unknown.status().message()).find("fleet.yaml:3") != std::string::npos);

  write(dir, "fleet.yaml",
        "version: 1\nboxes:\n  - name: a\n    target: unix:/x\n    policy: p.json\n"
        "    addresses: {nvr: [198.18.1.10]}\n");
  write(dir, "p.json", "{\"version\": 1, \"addresses\": {\"nvr\": [\"198.18.1.1\"]}}\n");
  auto flow = FleetDir::load(dir.path);
  REQUIRE_FALSE(flow.ok());
  CHECK(std::string(flow.status().message()).find("fleet.yaml:6: boxes[0].addresses: box a: p.json: the policy is written in flow style") != std::string::npos);
}

TEST_CASE("a fleet.yaml that is not a regular file, or too large, is refused without reading it") {
  TempDir dir("fleet-dir");
  REQUIRE(::mkfifo((dir / "fleet.yaml").c_str(), 0600) == 0);
  auto fifo = FleetDir::load(dir.path);
  REQUIRE_FALSE(fifo.ok());
  std::filesystem::remove(dir / "fleet.yaml");
  write(dir, "fleet.yaml", std::string(kMaxFleetFileBytes + 1, '#'));
  CHECK_FALSE(FleetDir::load(dir.path).ok());
}

TEST_CASE("check: a box's policy errors name the file and line the admin edits, and the box") {
  TempDir dir("fleet-dir");
  write(dir, "fleet.yaml", kFleet);
  write(dir, "policies/cameras.yaml", kPolicy);
  auto fleet = FleetDir::load(dir.path);
  REQUIRE(fleet.ok());
  CHECK(check(*fleet, {}).empty());

  // An override that is not an address: located on fleet.yaml's line, for north-01 only.
  std::string bad = kFleet;
  bad.replace(bad.find("198.18.2.10"), 11, "not-an-ip");
  write(dir, "fleet.yaml", bad);
  fleet = FleetDir::load(dir.path);
  REQUIRE(fleet.ok());
  auto problems = check(*fleet, {});
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].box == "north-01");
  CHECK(problems[0].diagnostic.file == "fleet.yaml");
  CHECK(problems[0].diagnostic.line == 14);
  CHECK(problems[0].text().rfind("north-01: fleet.yaml:14: addresses.nvr", 0) == 0);

  // A mistake in the group's policy: every box of the group, on the policy file's own line.
  std::string policy = kPolicy;
  policy.replace(policy.find("[554]"), 5, "[70000]");
  write(dir, "fleet.yaml", kFleet);
  write(dir, "policies/cameras.yaml", policy);
  fleet = FleetDir::load(dir.path);
  REQUIRE(fleet.ok());
  problems = check(*fleet, {});
  REQUIRE(problems.size() == 3);
  for (const BoxDiagnostic& p : problems) {
    CHECK(p.diagnostic.file == "policies/cameras.yaml");
    CHECK(p.diagnostic.line == 14);
  }
  CHECK(problems[2].box == "south-01");
}

}  // namespace
}  // namespace muzzle::fleet
