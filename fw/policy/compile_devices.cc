// Devices listed by MAC address, in the policy or in device list files it names (device_list.h),
// and the classification rules that give unlisted ones a profile.
#include <algorithm>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "fw/common/excerpt.h"
#include "fw/policy/address_list.h"
#include "fw/policy/device_list.h"
#include "fw/policy/policy_compiler.h"
#include "fw/policy/policy_syntax.h"

namespace muzzle {

void PolicyCompiler::compileDevices(const v1::Policy& policy, CompiledPolicy* out) {
  // Views into the policy's strings and the device files' texts, which outlive the compile.
  std::unordered_map<std::string_view, uint32_t> names;
  for (int i = 0; i < policy.devices_size(); ++i) {
    const v1::Device& device = policy.devices(i);
    const std::string path = "devices[" + std::to_string(i) + "]";
    if (!device.file().empty()) {
      if (!device.name().empty() || !device.mac().empty() || !device.profile().empty() ||
          !device.quarantined_from().empty()) {
        fail(path,
             "an entry names a file or one device, not both; put this device in its own "
             "entry or as a line of the file");
      }
      continue;
    }
    bool ok = true;
    if (device.name().empty()) {
      fail(path + ".name", "a device needs a name");
      ok = false;
    } else if (auto it = names.find(device.name()); it != names.end()) {
      fail(path + ".name",
           inQuotes(device.name()) + " is already the name of " + devicePlace(policy, it->second));
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
      fail(path + ".mac", inQuotes(device.mac()) + " is already the mac of " +
                              devicePlace(policy, it->second) + " (" +
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
    names.emplace(device.name(), index);
    device_places_.push_back(DevicePlace{i, 0});
  }
  // Files after every entry of the policy's own, so an entry wins over a file's line for the
  // same device wherever it stands: the management plane's edits (device_text.h) append one.
  compileDeviceFiles(policy, &names, out);
}

void PolicyCompiler::compileDeviceFiles(const v1::Policy& policy,
                                        std::unordered_map<std::string_view, uint32_t>* names,
                                        CompiledPolicy* out) {
  size_t files = 0;
  for (const v1::Device& device : policy.devices()) files += device.file().empty() ? 0 : 1;
  if (files == 0) return;
  // Reserved, so the texts never move: `names` and the parsed lines point into them.
  device_files_.reserve(files);
  std::unordered_map<std::string_view, uint32_t> profiles(profile_index_.begin(),
                                                          profile_index_.end());
  for (int i = 0; i < policy.devices_size(); ++i) {
    const v1::Device& device = policy.devices(i);
    if (device.file().empty()) continue;
    const std::string field = "devices[" + std::to_string(i) + "].file";
    IncludedFile& included = device_files_.emplace_back();
    included.name = device.file();
    if (!readNamedFile(device.file(), field, &included.text)) continue;
    const size_t room = kMaxDevices - std::min(kMaxDevices, out->devices.size());
    const DeviceList list = parseDeviceList(included.text, room);
    const std::string shown = excerpt(device.file());
    for (const DeviceLineError& error : list.bad) {
      fail(field, shown + ": line " + std::to_string(error.line) + ": " +
                      deviceLineProblemText(error.problem));
    }
    if (list.bad_count > kMaxListErrors) {
      fail(field, shown + ": " + std::to_string(list.bad_count - kMaxListErrors) +
                      " more lines are not devices; is it a device list (name,mac,profile a "
                      "line)?");
    }
    if (list.over_limit) {
      fail(field, "with " + shown + ", the policy would list more than " +
                      std::to_string(kMaxDevices) + " devices; split the site over more boxes");
    }
    out->devices.reserve(out->devices.size() + list.devices.size());
    device_places_.reserve(out->devices.size() + list.devices.size());
    out->device_by_mac.reserve(out->devices.size() + list.devices.size());
    names->reserve(out->devices.size() + list.devices.size());
    // Built only for an error: a good line costs no string.
    const auto lineError = [&](const DeviceLine& line, const std::string& what) {
      fail(field, shown + ": line " + std::to_string(line.line) + ": " + what);
    };
    for (const DeviceLine& line : list.devices) {
      if (auto it = out->device_by_mac.find(line.mac.value); it != out->device_by_mac.end()) {
        // The policy's own entry for the device wins, name and profile included.
        if (device_places_[it->second].line == 0) continue;
        lineError(line, "the mac is already that of " + devicePlace(policy, it->second));
        continue;
      }
      if (auto it = names->find(line.name); it != names->end()) {
        lineError(line, "the name is already that of " + devicePlace(policy, it->second));
        continue;
      }
      uint32_t profile = out->default_profile;
      if (!line.profile.empty()) {
        auto it = profiles.find(line.profile);
        if (it == profiles.end()) {
          lineError(line, "the profile is not a defined profile");
          continue;
        }
        profile = it->second;
      }
      const auto index = static_cast<uint32_t>(out->devices.size());
      out->devices.push_back(CompiledDevice{std::string(line.name), line.mac, profile});
      out->device_by_mac.emplace(line.mac.value, index);
      names->emplace(line.name, index);
      device_places_.push_back(DevicePlace{i, line.line});
    }
  }
}

std::string PolicyCompiler::devicePlace(const v1::Policy& policy, uint32_t device) const {
  const DevicePlace& place = device_places_[device];
  if (place.line == 0) return "devices[" + std::to_string(place.entry) + "]";
  return excerpt(policy.devices(place.entry).file()) + " line " + std::to_string(place.line);
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
