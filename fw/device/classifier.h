// Classification: which profile a device that the policy does not list gets, from what Muzzle
// learned about it (vendor, DHCP fingerprint, MUD URL). First matching rule wins.
//
// Vendor names match exactly or by an explicit prefix, never by substring: "Dahua" as a
// substring would also hit an unrelated company. Text fields (hostname, vendor class, MUD URL)
// match a glob where `*` is any run of characters and `?` one character, ignoring ASCII case.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/device/device_record.h"

namespace muzzle {

struct ClassifyRule {
  enum class Field : uint8_t { kVendor, kVendorPrefix, kDhcpHostname, kDhcpVendorClass, kMudUrl };
  Field field = Field::kVendor;
  std::string pattern;
  uint32_t profile = 0;  // index into CompiledPolicy::profiles
  std::string label;     // "classify[2]"
};

bool globMatch(std::string_view pattern, std::string_view text);

// Index of the first rule that matches `device`, or nullopt.
std::optional<size_t> classify(const std::vector<ClassifyRule>& rules, const DeviceRecord& device);

}  // namespace muzzle
