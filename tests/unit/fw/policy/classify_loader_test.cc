// The `classify` section of a policy: compiled rules and exact errors.
#include <doctest/doctest.h>

#include "fw/policy/policy_loader.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

constexpr const char* kBase = R"(version: 1
profiles:
  camera: {egress: [{allow: [gateway], proto: udp, ports: [53]}]}
  vacuum: {}
  quarantine: {}
classify:
)";

Result<std::shared_ptr<const CompiledPolicy>> withClassify(const std::string& rules) {
  return compilePolicyText(std::string(kBase) + rules, "policy.yaml", SiteFacts{});
}

TEST_CASE("classify rules compile in order with their profiles") {
  auto p = withClassify(
      "  - {vendor: \"Hangzhou Hikvision Digital Technology Co.,Ltd.\", profile: camera}\n"
      "  - {vendor_prefix: \"Zhejiang Dahua\", profile: camera}\n"
      "  - {dhcp_hostname: \"ECOVACS*\", profile: vacuum}\n"
      "  - {dhcp_vendor_class: \"udhcp*\", profile: quarantine}\n"
      "  - {mud_url: \"https://*\", profile: quarantine}\n");
  REQUIRE_MESSAGE(p.ok(), p.status().message());
  const auto& rules = (*p)->classify;
  REQUIRE(rules.size() == 5);
  CHECK(rules[0].field == ClassifyRule::Field::kVendor);
  CHECK((*p)->profiles[rules[0].profile].name == "camera");
  CHECK(rules[2].pattern == "ECOVACS*");
  CHECK((*p)->profiles[rules[2].profile].name == "vacuum");
  CHECK(rules[4].label == "classify[4]");
}

TEST_CASE("classify: exact messages") {
  CHECK(withClassify("  - {vendor: x, dhcp_hostname: y, profile: camera}\n").status().message() ==
        "policy.yaml:7: classify[0]: needs exactly one of vendor, vendor_prefix, dhcp_hostname, "
        "dhcp_vendor_class, mud_url (2 given)");
  CHECK(withClassify("  - {profile: camera}\n").status().message() ==
        "policy.yaml:7: classify[0]: needs exactly one of vendor, vendor_prefix, dhcp_hostname, "
        "dhcp_vendor_class, mud_url (0 given)");
  CHECK(withClassify("  - {vendor: x, profile: speaker}\n").status().message() ==
        "policy.yaml:7: classify[0].profile: \"speaker\" is not a defined profile");
  CHECK(withClassify("  - {vendor: x}\n").status().message() ==
        "policy.yaml:7: classify[0].profile: missing; name the profile devices matching this rule get");
  CHECK(withClassify("  - {vendr: x, profile: camera}\n").status().message().find(
            "policy.yaml:7: classify[0]: unknown field \"vendr\"") == 0);
}

}  // namespace
}  // namespace muzzle
