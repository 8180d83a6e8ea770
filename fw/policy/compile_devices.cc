// Devices listed by MAC address, and the classification rules that give unlisted ones a profile.
#include <optional>
#include <unordered_map>
#include <utility>

#include "fw/policy/policy_compiler.h"
#include "fw/policy/policy_syntax.h"

namespace muzzle {

void PolicyCompiler::compileDevices(const v1::Policy& policy, CompiledPolicy* out) {
  std::unordered_map<std::string, int> names;
  for (int i = 0; i < policy.devices_size(); ++i) {
    const v1::Device& device = policy.devices(i);
    const std::string path = "devices[" + std::to_string(i) + "]";
    bool ok = true;
    if (device.name().empty()) {
      fail(path + ".name", "a device needs a name");
      ok = false;
    } else if (auto [it, inserted] = names.emplace(device.name(), i); !inserted) {
      fail(path + ".name", inQuotes(device.name()) + " is already the name of devices[" +
                               std::to_string(it->second) + "]");
      ok = false;
    }

    std::optional<MacAddress> mac;
    if (device.mac().empty()) {
      fail(path + ".mac", "a device needs a mac (e.g. \"44:47:cc:12:34:56\")");
      ok = false;
    } else if (mac = MacAddress::parse(device.mac()); !mac) {
      fail(path + ".mac",
           inQuotes(device.mac()) + " is not an Ethernet address (e.g. \"44:47:cc:12:34:56\")");
      ok = false;
    } else if (auto it = out->device_by_mac.find(mac->value); it != out->device_by_mac.end()) {
      fail(path + ".mac", inQuotes(device.mac()) + " is already the mac of devices[" +
                              std::to_string(device_index_[it->second]) + "] (" +
                              out->devices[it->second].name + ")");
      ok = false;
    }

    // A listed device without a profile gets the default one, like an unlisted device.
    uint32_t profile = out->default_profile;
    if (!device.profile().empty()) {
      if (auto it = profile_index_.find(device.profile()); it != profile_index_.end()) {
        profile = it->second;
      } else {
        fail(path + ".profile", inQuotes(device.profile()) + " is not a defined profile");
        ok = false;
      }
    }

    if (!ok) continue;
    const auto index = static_cast<uint32_t>(out->devices.size());
    out->devices.push_back(CompiledDevice{device.name(), *mac, profile});
    out->device_by_mac.emplace(mac->value, index);
    device_index_.push_back(i);
  }
}

void PolicyCompiler::compileClassify(const v1::Policy& policy, CompiledPolicy* out) {
  using Field = ClassifyRule::Field;
  for (int i = 0; i < policy.classify_size(); ++i) {
    const v1::ClassifyRule& rule = policy.classify(i);
    const std::string path = "classify[" + std::to_string(i) + "]";
    const std::pair<Field, const std::string*> matchers[] = {
        {Field::kVendor, &rule.vendor()},
        {Field::kVendorPrefix, &rule.vendor_prefix()},
        {Field::kDhcpHostname, &rule.dhcp_hostname()},
        {Field::kDhcpVendorClass, &rule.dhcp_vendor_class()},
        {Field::kMudUrl, &rule.mud_url()}};
    ClassifyRule compiled;
    compiled.label = path;
    int set = 0;
    for (const auto& [field, value] : matchers) {
      if (value->empty()) continue;
      ++set;
      compiled.field = field;
      compiled.pattern = *value;
    }
    bool ok = true;
    if (set != 1) {
      fail(path,
           "needs exactly one of vendor, vendor_prefix, dhcp_hostname, dhcp_vendor_class, "
           "mud_url (" +
               std::to_string(set) + " given)");
      ok = false;
    }
    if (rule.profile().empty()) {
      fail(path + ".profile", "missing; name the profile devices matching this rule get");
      ok = false;
    } else if (auto it = profile_index_.find(rule.profile()); it == profile_index_.end()) {
      fail(path + ".profile", inQuotes(rule.profile()) + " is not a defined profile");
      ok = false;
    } else {
      compiled.profile = it->second;
    }
    if (ok) out->classify.push_back(std::move(compiled));
  }
}

}  // namespace muzzle
