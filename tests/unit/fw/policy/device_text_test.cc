// withDevice: one device's entry written into the site policy's text; every other line, and
// the comments everywhere, stay as they were.
#include "fw/policy/device_text.h"

#include <doctest/doctest.h>

#include "tests/unit/support/site_policy.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using testing::policyCompileError;
using testing::siteExampleText;

v1::Device device(const char* mac, const char* name, const char* profile,
                  const char* quarantined_from = "") {
  v1::Device d;
  d.set_mac(mac);
  d.set_name(name);
  d.set_profile(profile);
  d.set_quarantined_from(quarantined_from);
  return d;
}

DeviceTextResult placed(const std::string& text, const v1::Device& d) {
  auto r = withDevice(text, d);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  return *r;
}

// `text` with its one occurrence of `from` replaced by `to` (the test stops if it is not there
// exactly once).
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  REQUIRE(text.find(from, at + 1) == std::string::npos);
  return text.replace(at, from.size(), to);
}

const std::string kGarage =
    "  - name: garage-cam\n"
    "    mac: \"44:47:cc:00:00:12\"\n"
    "    profile: camera\n";

TEST_CASE("quarantine and release change the entry's own lines and nothing else") {
  const std::string site = siteExampleText();
  DeviceTextResult q =
      placed(site, device("44:47:cc:00:00:12", "garage-cam", "quarantine", "camera"));
  CHECK(!q.added);
  CHECK(!q.reformatted);
  CHECK(q.text == replaced(site, kGarage,
                           "  - name: garage-cam\n"
                           "    mac: \"44:47:cc:00:00:12\"\n"
                           "    profile: quarantine\n"
                           "    quarantined_from: camera\n"));
  CHECK(policyCompileError(q.text) == "");
  // Released: the entry (and so the whole text) is as the admin wrote it.
  CHECK(placed(q.text, device("44:47:cc:00:00:12", "garage-cam", "camera")).text == site);
}

TEST_CASE("a new name and profile rewrite their lines; an unchanged entry is the same text") {
  const std::string site = siteExampleText();
  CHECK(placed(site, device("44:47:cc:00:00:12", "garage-cam", "camera")).text == site);
  CHECK(placed(site, device("44:47:cc:00:00:12", "carport-cam", "vacuum")).text ==
        replaced(site, kGarage,
                 "  - name: carport-cam\n"
                 "    mac: \"44:47:cc:00:00:12\"\n"
                 "    profile: vacuum\n"));
}

constexpr const char* kCommented = R"(version: 1
profiles:
  cam: {}
  quarantine: {}
devices:
  # the lobby, installed 2025
  - name: lobby   # by the door
    # camera firmware 1.2
    mac: 44-47-CC-00-00-11
    profile: cam  # until the NVR moves
  # the garage
  - {name: garage, mac: "44:47:cc:00:00:12", profile: cam}  # flow style
  # more to come
# the end
)";

TEST_CASE("comments before, after and inside entries stay; the address matches in any spelling") {
  DeviceTextResult r =
      placed(kCommented, device("44:47:cc:00:00:11", "lobby", "quarantine", "cam"));
  CHECK(r.text == replaced(kCommented, "    profile: cam  # until the NVR moves\n",
                           "    profile: quarantine\n"
                           "    quarantined_from: cam\n"));
  // The MAC as written: the entry is the same device, its line is not touched.
  CHECK(r.text.find("    mac: 44-47-CC-00-00-11\n") != std::string::npos);
  CHECK(placed(r.text, device("44:47:CC:00:00:11", "lobby", "cam")).text ==
        replaced(kCommented, "    profile: cam  # until the NVR moves\n", "    profile: cam\n"));
}

TEST_CASE("a flow-style entry is written again whole, in its place") {
  DeviceTextResult r =
      placed(kCommented, device("44:47:cc:00:00:12", "garage", "quarantine", "cam"));
  CHECK(r.text == replaced(kCommented,
                           "  - {name: garage, mac: \"44:47:cc:00:00:12\", profile: cam}  # flow "
                           "style\n",
                           "  - name: garage\n"
                           "    mac: \"44:47:cc:00:00:12\"\n"
                           "    profile: quarantine\n"
                           "    quarantined_from: cam\n"));
}

TEST_CASE("a new device goes at the end of devices:, before the comments that follow it") {
  DeviceTextResult r = placed(kCommented, device("44:47:cc:00:00:13", "shed", "cam"));
  CHECK(r.added);
  CHECK(r.text == replaced(kCommented, "  # more to come\n",
                           "  - name: shed\n"
                           "    mac: \"44:47:cc:00:00:13\"\n"
                           "    profile: cam\n"
                           "  # more to come\n"));
  const std::string site = siteExampleText();
  DeviceTextResult s = placed(site, device("44:47:cc:00:00:13", "shed", "camera"));
  CHECK(s.text == replaced(site, "    profile: speaker\n\n# Devices the list above",
                           "    profile: speaker\n"
                           "  - name: shed\n"
                           "    mac: \"44:47:cc:00:00:13\"\n"
                           "    profile: camera\n\n# Devices the list above"));
  CHECK(policyCompileError(s.text) == "");
}

TEST_CASE("without devices:, or with `devices: []`, the list is made") {
  const v1::Device d = device("44:47:cc:00:00:11", "cam", "quarantine");
  const std::string entry =
      "devices:\n  - name: cam\n    mac: \"44:47:cc:00:00:11\"\n    profile: quarantine\n";
  const std::string bare = "version: 1  # ours\nprofiles: {quarantine: {}}\n# the end\n";
  DeviceTextResult none = placed(bare, d);
  CHECK(none.added);
  CHECK(none.text == bare + entry);
  DeviceTextResult empty = placed("version: 1  # ours\ndevices: []  # none yet\n# the end\n", d);
  CHECK(empty.reformatted);
  CHECK(empty.text == "version: 1  # ours\n" + entry + "# the end\n");
  CHECK(placed("", d).text == entry);
}

TEST_CASE("JSON text (what device edits wrote before) is written again whole, as YAML") {
  const std::string json = R"({"version": 1, "profiles": {"quarantine": {"egress": [{"allow":
    ["gateway"], "proto": "udp", "ports": ["53"]}]}, "cam": {}}, "devices": [{"name": "a",
    "mac": "44:47:cc:00:00:11", "profile": "cam"}, {"name": "b", "mac": "44:47:cc:00:00:12",
    "profile": "cam"}]})";
  DeviceTextResult r = placed(json, device("44:47:cc:00:00:12", "b", "quarantine", "cam"));
  CHECK(r.reformatted);
  CHECK(!r.added);
  CHECK_MESSAGE(policyCompileError(r.text) == "", r.text);
  CHECK_MESSAGE(r.text.find("version: 1\nprofiles:\n  quarantine:\n    egress:\n") == 0, r.text);
  CHECK(r.text.find("\"") == std::string::npos);
  CHECK(r.text.find("\n  cam: {}\n") != std::string::npos);
  CHECK(r.text.find("devices:\n"
                    "  - name: a\n"
                    "    mac: 44:47:cc:00:00:11\n"
                    "    profile: cam\n"
                    "  - name: b\n"
                    "    mac: 44:47:cc:00:00:12\n"
                    "    profile: quarantine\n"
                    "    quarantined_from: cam\n") != std::string::npos);
}

TEST_CASE("several entries for one address: the last is edited, as the compiler reads them") {
  const std::string text =
      "devices:\n  - {name: a, mac: \"44:47:cc:00:00:11\", profile: x}\n"
      "  - name: b\n    mac: \"44:47:cc:00:00:11\"\n    profile: x\n";
  CHECK(placed(text, device("44:47:cc:00:00:11", "b", "y")).text ==
        "devices:\n  - {name: a, mac: \"44:47:cc:00:00:11\", profile: x}\n"
        "  - name: b\n    mac: \"44:47:cc:00:00:11\"\n    profile: y\n");
}

TEST_CASE("damaged text: every line left out, every cut: an edit that holds, or a refusal") {
  const std::string site = siteExampleText();
  const v1::Device d = device("44:47:cc:00:00:12", "garage-cam", "quarantine", "camera");
  std::vector<std::string> variants;
  for (size_t at = 0, next = 0; at < site.size(); at = next + 1) {
    next = site.find('\n', at);
    variants.push_back(site.substr(0, at) + site.substr(next + 1));  // line left out
    variants.push_back(site.substr(0, at + (next - at) / 2));        // cut mid-line
  }
  for (const std::string& text : variants) {
    auto r = withDevice(text, d);  // a yaml-cpp exception escaping would fail the test
    if (!r.ok()) {
      CHECK(!r.status().message().empty());
      continue;
    }
    // What was written holds the device as given (withDevice checked it; so does this).
    auto again = withDevice(r->text, d);
    REQUIRE(again.ok());
    CHECK(again->text == r->text);
  }
}

TEST_CASE("refused: text that is not a mapping, devices that are not a list, a bad address") {
  const v1::Device d = device("44:47:cc:00:00:11", "cam", "quarantine");
  CHECK(withDevice("- a\n- b\n", d).status().code() == StatusCode::kInvalidArgument);
  CHECK(withDevice("a: [\n", d).status().code() == StatusCode::kInvalidArgument);
  CHECK(withDevice("devices: {cam: x}\n", d).status().message() ==
        "devices: is not a list; write it as one");
  CHECK(withDevice("devices: []\n", device("44:47:cc", "cam", "q")).status().message() ==
        "mac: \"44:47:cc\" is not an Ethernet address");
}

}  // namespace
}  // namespace muzzle
