// ExplainPolicy without gRPC or an engine: the example site policy, whose cameras are built on
// the camera-nvr-only preset by name, explained device by device.
#include "mgmt/revisions/policy_explain.h"

#include <doctest/doctest.h>

#include "fw/common/confined_file.h"
#include "fw/policy/policy_loader.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

const std::string kPolicies = std::string(MUZZLE_SOURCE_DIR) + "/policies";

std::shared_ptr<const CompiledPolicy> siteExample() {
  auto text = readRegularFile(kPolicies + "/site-example.yaml");
  REQUIRE(text.ok());
  auto policy = compilePolicyText(*text, "policy.yaml", SiteFacts{},
                                  PolicyFolders{kPolicies, "", {kPolicies + "/presets"}});
  REQUIRE_MESSAGE(policy.ok(), policy.status().message());
  return *policy;
}

DeviceRecord seen(const char* mac, const std::string& profile, const std::string& why,
                  const std::string& by) {
  DeviceRecord r;
  r.mac = *MacAddress::parse(mac);
  r.profile = profile;
  r.assignment = why;
  r.assigned_by = by;
  return r;
}

TEST_CASE("explain: a listed camera gets the site's rule, then the preset's, each with its place") {
  auto policy = siteExample();
  for (const char* device : {"lobby-cam", "44:47:CC:00:00:11"}) {
    CAPTURE(device);
    auto r = explainDevice(*policy, {}, device);
    REQUIRE_MESSAGE(r.ok(), r.status().message());
    CHECK(r->mac() == "44:47:cc:00:00:11");
    CHECK(r->name() == "lobby-cam");
    CHECK(r->profile() == "camera");
    CHECK(r->assignment() == "listed");
    CHECK(r->preset() == "camera-nvr-only");
    CHECK(r->otherwise() == "reject");
    REQUIRE(r->rules_size() == 8);  // 1 of the site's + 6 egress and 1 inbound of the preset
    const auto& own = r->rules(0);
    CHECK(own.direction() == "egress");
    CHECK(own.label() == "profiles.camera.egress[0]");
    CHECK(own.action() == "reject");
    CHECK(own.rule() == "deny *.p2p.example log");
    CHECK(own.file() == "policy.yaml");
    CHECK(own.line() > 0);
    CHECK(own.preset().empty());
    const auto& preset = r->rules(1);
    CHECK(preset.label() == "profiles.camera.egress[1]");
    CHECK(preset.action() == "allow");
    CHECK(preset.rule() == "allow nvr tcp 554,8000");
    CHECK(preset.file() == kPolicies + "/presets/camera-nvr-only.yaml");
    CHECK(preset.line() == 32);  // the first rule of policies/presets/camera-nvr-only.yaml
    CHECK(preset.preset() == "camera-nvr-only");
    CHECK(r->rules(7).direction() == "inbound");
    CHECK(r->rules(7).label() == "profiles.camera.inbound[0]");
  }
}

TEST_CASE("explain: an unlisted device gets what the Judge gave it, classified or default") {
  auto policy = siteExample();
  const std::vector<DeviceRecord> devices = {
      seen("44:47:cc:00:00:99", "camera", "classified", "classify[0]"),
      seen("02:5a:00:00:00:99", "quarantine", "default", "")};
  auto classified = explainDevice(*policy, devices, "44:47:cc:00:00:99");
  REQUIRE(classified.ok());
  CHECK(classified->name().empty());
  CHECK(classified->profile() == "camera");
  CHECK(classified->assignment() == "classified");
  CHECK(classified->assigned_by() == "classify[0]");
  auto unknown = explainDevice(*policy, devices, "02:5a:00:00:00:99");
  REQUIRE(unknown.ok());
  CHECK(unknown->profile() == "quarantine");
  CHECK(unknown->assignment() == "default");
  REQUIRE(unknown->rules_size() == 1);
  CHECK(unknown->rules(0).file() == kPolicies + "/presets/quarantine.yaml");
}

TEST_CASE("explain: a device neither listed nor seen, a bad name, an empty one") {
  auto policy = siteExample();
  auto absent = explainDevice(*policy, {}, "44:47:cc:00:00:77");
  REQUIRE_FALSE(absent.ok());
  CHECK(absent.status().code() == StatusCode::kNotFound);
  auto no_name = explainDevice(*policy, {}, "front-door");
  REQUIRE_FALSE(no_name.ok());
  CHECK(no_name.status().code() == StatusCode::kNotFound);
  CHECK(no_name.status().message() ==
        "no device \"front-door\": not an Ethernet address, and no device of the policy has "
        "that name");
  auto empty = explainDevice(*policy, {}, "");
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace muzzle
