#include "fw/device/inventory.h"

#include <algorithm>

namespace muzzle {
namespace {

std::string hex(std::span<const uint8_t> bytes, size_t max_bytes = 32) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < max_bytes; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 0xf];
  }
  return out;
}

// Sets *field to value; reports whether it changed.
bool update(SharedText* field, const std::string& value) {
  if (*field == value) return false;
  *field = value;
  return true;
}

}  // namespace

void DeviceInventory::evictOldest() {
  // O(n), but only when full; a full inventory means a flood, and the flood pays for it.
  auto oldest = std::min_element(
      devices_.begin(), devices_.end(),
      [](const auto& a, const auto& b) { return a.second.last_seen < b.second.last_seen; });
  if (oldest == devices_.end()) return;
  devices_.erase(oldest);
  ++evictions_;
}

DeviceInventory::Entry& DeviceInventory::entryFor(MacAddress mac, const std::string& segment,
                                                  bool* created) {
  auto it = devices_.find(mac.value);
  *created = it == devices_.end();
  if (!*created) {
    it->second.last_seen = clock_.now();
    it->second.record.last_seen_unix = unixSeconds(clock_.wallNow());
    return it->second;
  }
  if (devices_.size() >= capacity_) evictOldest();
  Entry e;
  e.last_seen = clock_.now();
  DeviceRecord& r = e.record;
  r.mac = mac;
  r.randomised_mac = mac.locallyAdministered();
  if (oui_ != nullptr) {
    if (auto vendor = oui_->vendorOf(mac)) r.vendor = *vendor;
  }
  r.segment = segment;
  r.first_seen_unix = unixSeconds(clock_.wallNow());
  r.last_seen_unix = r.first_seen_unix;
  return devices_.emplace(mac.value, std::move(e)).first->second;
}

std::pair<DeviceRecord*, bool> DeviceInventory::touch(MacAddress mac, const std::string& segment) {
  bool created = false;
  Entry& e = entryFor(mac, segment, &created);
  return {&e.record, created};
}

std::pair<DeviceRecord*, bool> DeviceInventory::observe(MacAddress mac, const IpAddress& ip,
                                                        const std::string& segment) {
  auto [record, created] = touch(mac, segment);
  std::vector<IpAddress>& addrs = record->addresses;
  if (!addrs.empty() && addrs.front() == ip) return {record, created};
  auto found = std::find(addrs.begin(), addrs.end(), ip);
  if (found != addrs.end()) addrs.erase(found);
  // Most recent first, then cut the tail.
  addrs.insert(addrs.begin(), ip);
  if (addrs.size() > kMaxAddresses) addrs.resize(kMaxAddresses);
  return {record, created};
}

void DeviceInventory::forgetAddress(MacAddress mac, const IpAddress& ip) {
  DeviceRecord* record = find(mac);
  if (record == nullptr) return;
  std::vector<IpAddress>& addrs = record->addresses;
  auto found = std::find(addrs.begin(), addrs.end(), ip);
  if (found != addrs.end()) addrs.erase(found);
}

bool DeviceInventory::applyDhcp(const DhcpInfo& dhcp, DeviceRecord* r) {
  bool changed = false;
  changed |= update(&r->dhcp_hostname, printableOption(dhcp.hostname));
  changed |= update(&r->dhcp_vendor_class, printableOption(dhcp.vendor_class));
  changed |= update(&r->mud_url, printableOption(dhcp.mud_url, 255));
  update(&r->dhcp_parameter_list, parameterListText(dhcp.parameter_request_list));
  update(&r->dhcp_client_id, hex(dhcp.client_id));
  return changed;
}

bool DeviceInventory::observeDhcp(const DhcpInfo& dhcp, const std::string& segment) {
  bool created = false;
  DeviceRecord& r = entryFor(dhcp.client_mac, segment, &created).record;
  return applyDhcp(dhcp, &r) || created;
}

bool DeviceInventory::mayReassign(MacAddress mac) const {
  auto it = devices_.find(mac.value);
  if (it == devices_.end() || it->second.last_reassigned == kNever) return true;
  return clock_.now() - it->second.last_reassigned >= kMinReassignInterval;
}

void DeviceInventory::noteReassigned(MacAddress mac) {
  auto it = devices_.find(mac.value);
  if (it != devices_.end()) it->second.last_reassigned = clock_.now();
}

DeviceRecord* DeviceInventory::ownerOf(const IpAddress& ip) {
  const std::optional<MacAddress> mac = bindings_.ownerOf(ip, /*segment=*/-1);
  return mac ? find(*mac) : nullptr;
}

DeviceRecord* DeviceInventory::find(MacAddress mac) {
  auto it = devices_.find(mac.value);
  return it == devices_.end() ? nullptr : &it->second.record;
}

const DeviceRecord* DeviceInventory::find(MacAddress mac) const {
  auto it = devices_.find(mac.value);
  return it == devices_.end() ? nullptr : &it->second.record;
}

}  // namespace muzzle
