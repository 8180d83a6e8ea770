#include "fw/device/classifier.h"

#include <doctest/doctest.h>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using Field = ClassifyRule::Field;

TEST_CASE("glob: star, question mark, ASCII case, no catastrophic backtracking") {
  CHECK(globMatch("ECOVACS*", "ecovacs-deebot"));
  CHECK(globMatch("udhcp*", "udhcp 1.30.1"));
  CHECK(globMatch("https://*", "https://mud.example.com/cam.json"));
  CHECK(globMatch("cam-??", "CAM-01"));
  CHECK_FALSE(globMatch("cam-??", "cam-001"));
  CHECK_FALSE(globMatch("ECOVACS*", "my-ECOVACS"));
  CHECK(globMatch("*", ""));
  CHECK_FALSE(globMatch("a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}

TEST_CASE("vendor matches exactly or by explicit prefix, never by substring") {
  std::vector<ClassifyRule> rules = {
      {Field::kVendor, "Hangzhou Hikvision Digital Technology Co.,Ltd.", 1, "classify[0]"},
      {Field::kVendorPrefix, "Zhejiang Dahua", 1, "classify[1]"},
      {Field::kDhcpHostname, "ECOVACS*", 2, "classify[2]"},
      {Field::kDhcpVendorClass, "udhcp*", 3, "classify[3]"},
  };
  DeviceRecord hik;
  hik.vendor = "Hangzhou Hikvision Digital Technology Co.,Ltd.";
  CHECK(classify(rules, hik) == 0u);
  DeviceRecord dahua;
  dahua.vendor = "Zhejiang Dahua Technology Co., Ltd.";
  CHECK(classify(rules, dahua) == 1u);
  DeviceRecord scale;  // a substring hit would be wrong
  scale.vendor = "Shanghai Dahua Scale Factory";
  CHECK_FALSE(classify(rules, scale).has_value());
  DeviceRecord vacuum;
  vacuum.dhcp_hostname = "ECOVACS-DEEBOT";
  vacuum.dhcp_vendor_class = "udhcp 1.30";
  CHECK(classify(rules, vacuum) == 2u);  // first match wins
  DeviceRecord blank;
  CHECK_FALSE(classify(rules, blank).has_value());
  // An empty fact never matches, not even "*".
  CHECK_FALSE(classify({{Field::kMudUrl, "*", 0, "classify[0]"}}, blank).has_value());
}

}  // namespace
}  // namespace muzzle
