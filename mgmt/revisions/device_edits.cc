#include "mgmt/revisions/device_edits.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <set>

#include "fw/config/yaml_proto.h"
#include "fw/policy/device_text.h"

namespace muzzle {

Result<MacAddress> parseDeviceMac(const std::string& text) {
  auto mac = MacAddress::parse(text);
  if (!mac) {
    return Status::error(
        StatusCode::kInvalidArgument,
        "mac: \"" + text + "\" is not an Ethernet address (like 44:47:cc:12:34:56)");
  }
  return *mac;
}

std::optional<v1::Device> listedDevice(const CompiledPolicy* policy, MacAddress mac) {
  if (policy == nullptr) return std::nullopt;
  const int index = policy->deviceByMac(mac);
  if (index < 0) return std::nullopt;
  const CompiledDevice& compiled = policy->devices[static_cast<size_t>(index)];
  v1::Device device;
  device.set_name(compiled.name);
  device.set_mac(mac.toString());
  // By name even when the file left it to the default, so Quarantine remembers what to give
  // back.
  device.set_profile(policy->profiles[compiled.profile].name);
  return device;
}

v1::Device* findOrAddDevice(v1::Policy* policy, MacAddress mac,
                            const std::optional<v1::Device>& listed) {
  v1::Device* entry = nullptr;
  for (auto& d : *policy->mutable_devices()) {
    auto parsed = MacAddress::parse(d.mac());
    if (parsed && *parsed == mac) entry = &d;
  }
  if (entry != nullptr) return entry;
  entry = policy->add_devices();
  if (listed) {
    *entry = *listed;
    return entry;
  }
  entry->set_mac(mac.toString());
  std::string name = "device-" + mac.toString();
  std::replace(name.begin(), name.end(), ':', '-');
  entry->set_name(name);
  entry->set_profile(policy->defaults().profile().empty() ? kQuarantineProfile
                                                          : policy->defaults().profile());
  return entry;
}

Status setDevice(v1::Device* device, const std::string& name, const std::string& profile) {
  if (!name.empty()) device->set_name(name);
  if (!profile.empty()) device->set_profile(profile);
  return Status();
}

Status quarantineDevice(v1::Device* device, const std::string& mac) {
  if (device->profile() == kQuarantineProfile) {
    return Status::error(StatusCode::kFailedPrecondition, mac + " is already quarantined");
  }
  device->set_quarantined_from(device->profile());
  device->set_profile(kQuarantineProfile);
  return Status();
}

Status releaseDevice(v1::Device* device, const std::string& mac) {
  if (device->profile() != kQuarantineProfile || device->quarantined_from().empty()) {
    return Status::error(StatusCode::kFailedPrecondition,
                         mac + " was not quarantined with Quarantine; set its profile instead");
  }
  device->set_profile(device->quarantined_from());
  device->clear_quarantined_from();
  return Status();
}

Result<std::string> editDeviceText(const std::string& text, std::string_view label, MacAddress mac,
                                   const std::function<Status(v1::Device*)>& change,
                                   const std::optional<v1::Device>& listed) {
  v1::Policy policy;
  if (Status s = yamlToProto(text, label, &policy, nullptr); !s.ok()) return s;
  v1::Device* device = findOrAddDevice(&policy, mac, listed);
  if (Status s = change(device); !s.ok()) return s;
  auto placed = withDevice(text, *device);
  if (!placed.ok()) return placed.status();
  // What is committed must be what the change made: a text that reads otherwise is refused.
  v1::Policy again;
  if (!yamlToProto(placed->text, label, &again, nullptr).ok() ||
      !google::protobuf::util::MessageDifferencer::Equals(policy, again)) {
    return Status::error("the change to " + mac.toString() +
                         " could not be written into the policy text so that it reads back the "
                         "same; nothing was changed. Edit the device's entry by hand "
                         "(muzzlectl policy apply)");
  }
  return std::move(placed->text);
}

std::vector<DeviceView> mergeDevices(const CompiledPolicy& policy,
                                     const std::vector<DeviceRecord>& seen) {
  std::vector<std::pair<MacAddress, DeviceView>> all;
  std::set<MacAddress> done;
  for (const DeviceRecord& d : seen) {
    all.push_back({d.mac, DeviceView{&d, policy.deviceByMac(d.mac)}});
    done.insert(d.mac);
  }
  for (size_t i = 0; i < policy.devices.size(); ++i) {
    if (done.count(policy.devices[i].mac)) continue;
    all.push_back({policy.devices[i].mac, DeviceView{nullptr, static_cast<int>(i)}});
  }
  // Addresses print at a fixed width, so this is also the order of their text.
  std::stable_sort(all.begin(), all.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<DeviceView> out;
  out.reserve(all.size());
  for (const auto& [mac, view] : all) out.push_back(view);
  return out;
}

Result<DeviceView> findDevice(const CompiledPolicy& policy, const std::vector<DeviceRecord>& seen,
                              MacAddress mac) {
  const int index = policy.deviceByMac(mac);
  const std::string text = mac.toString();
  for (const DeviceRecord& d : seen) {
    if (d.mac == mac) return DeviceView{&d, index};
  }
  if (index >= 0) return DeviceView{nullptr, index};
  return Status::error(StatusCode::kNotFound, "no device " + text + " is listed or was seen");
}

}  // namespace muzzle
