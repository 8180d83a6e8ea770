#include "fw/device/inventory.h"

#include <algorithm>

namespace muzzle {
namespace {

int64_t unixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

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
bool update(std::string* field, std::string value) {
  if (*field == value) return false;
  *field = std::move(value);
  return true;
}

}  // namespace

void DeviceInventory::evictOldest() {
  // O(n), but only when full; a full inventory means a flood, and the flood pays for it.
  auto oldest = std::min_element(devices_.begin(), devices_.end(), [](const auto& a, const auto& b) {
    return a.second.last_seen < b.second.last_seen;
  });
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
    it->second.record.set_last_seen_unix(unixSeconds(clock_.wallNow()));
    return it->second;
  }
  if (devices_.size() >= capacity_) evictOldest();
  Entry e;
  e.last_seen = clock_.now();
  v1::DeviceRecord& r = e.record;
  r.set_mac(mac.toString());
  r.set_randomised_mac(mac.locallyAdministered());
  if (oui_ != nullptr) {
    if (auto vendor = oui_->vendorOf(mac)) r.set_vendor(std::string(*vendor));
  }
  r.set_segment(segment);
  r.set_first_seen_unix(unixSeconds(clock_.wallNow()));
  r.set_last_seen_unix(r.first_seen_unix());
  return devices_.emplace(mac.value, std::move(e)).first->second;
}

std::pair<v1::DeviceRecord*, bool> DeviceInventory::touch(MacAddress mac, const std::string& segment) {
  bool created = false;
  Entry& e = entryFor(mac, segment, &created);
  return {&e.record, created};
}

std::pair<v1::DeviceRecord*, bool> DeviceInventory::observe(MacAddress mac, const IpAddress& ip,
                                                            const std::string& segment) {
  auto [record, created] = touch(mac, segment);
  std::string text = ip.toString();
  auto* addrs = record->mutable_addresses();
  if (!addrs->empty() && addrs->Get(0) == text) return {record, created};
  auto found = std::find(addrs->begin(), addrs->end(), text);
  if (found != addrs->end()) addrs->erase(found);
  addrs->Add(std::move(text));
  // Most recent first: rotate the new one to the front, then cut the tail.
  std::rotate(addrs->begin(), addrs->end() - 1, addrs->end());
  while (static_cast<size_t>(addrs->size()) > kMaxAddresses) addrs->RemoveLast();
  return {record, created};
}

void DeviceInventory::forgetAddress(MacAddress mac, const IpAddress& ip) {
  v1::DeviceRecord* record = find(mac);
  if (record == nullptr) return;
  const std::string text = ip.toString();
  auto* addrs = record->mutable_addresses();
  auto found = std::find(addrs->begin(), addrs->end(), text);
  if (found != addrs->end()) addrs->erase(found);
}

bool DeviceInventory::applyDhcp(const DhcpInfo& dhcp, v1::DeviceRecord* r) {
  bool changed = false;
  changed |= update(r->mutable_dhcp_hostname(), printableOption(dhcp.hostname));
  changed |= update(r->mutable_dhcp_vendor_class(), printableOption(dhcp.vendor_class));
  changed |= update(r->mutable_mud_url(), printableOption(dhcp.mud_url, 255));
  update(r->mutable_dhcp_parameter_list(), parameterListText(dhcp.parameter_request_list));
  update(r->mutable_dhcp_client_id(), hex(dhcp.client_id));
  return changed;
}

bool DeviceInventory::observeDhcp(const DhcpInfo& dhcp, const std::string& segment) {
  bool created = false;
  v1::DeviceRecord& r = entryFor(dhcp.client_mac, segment, &created).record;
  return applyDhcp(dhcp, &r) || created;
}

bool DeviceInventory::mayReassign(MacAddress mac) const {
  auto it = devices_.find(mac.value);
  if (it == devices_.end() || !it->second.last_reassigned) return true;
  return clock_.now() - *it->second.last_reassigned >= kMinReassignInterval;
}

void DeviceInventory::noteReassigned(MacAddress mac) {
  auto it = devices_.find(mac.value);
  if (it != devices_.end()) it->second.last_reassigned = clock_.now();
}

v1::DeviceRecord* DeviceInventory::find(MacAddress mac) {
  auto it = devices_.find(mac.value);
  return it == devices_.end() ? nullptr : &it->second.record;
}

const v1::DeviceRecord* DeviceInventory::find(MacAddress mac) const {
  auto it = devices_.find(mac.value);
  return it == devices_.end() ? nullptr : &it->second.record;
}

std::string DeviceInventory::serialize() const {
  v1::Inventory inv;
  for (const auto& [mac, e] : devices_) *inv.add_devices() = e.record;
  bindings_.save(&inv);
  std::string out;
  inv.SerializeToString(&out);
  return out;
}

Status DeviceInventory::load(const std::string& bytes) {
  v1::Inventory inv;
  if (!inv.ParseFromString(bytes)) {
    return Status::error("the saved inventory does not parse; starting with an empty one");
  }
  devices_.clear();
  size_t skipped = bindings_.load(inv);
  const bool derive_bindings = inv.bindings_size() == 0;
  // Keep the most recently seen devices when the saved file is larger than the capacity.
  auto* list = inv.mutable_devices();
  std::sort(list->begin(), list->end(), [](const auto& a, const auto& b) {
    return a.last_seen_unix() > b.last_seen_unix();
  });
  const auto now = clock_.now();
  const int64_t wall = unixSeconds(clock_.wallNow());
  const int64_t oldest = wall - std::chrono::duration_cast<std::chrono::seconds>(kMaxAge).count();
  for (auto& r : *list) {
    if (r.last_seen_unix() < oldest) {
      ++aged_out_;
      continue;
    }
    auto mac = MacAddress::parse(r.mac());
    // A MAC saved twice (a damaged or hand-made file) keeps its newest record; the older one's
    // addresses must not point at it, or they would outlive its eviction.
    if (!mac || devices_.size() >= capacity_ || devices_.count(mac->value) != 0) {
      ++skipped;
      continue;
    }
    Entry e;
    // Older devices age out first: map wall-clock age onto the monotonic clock.
    e.last_seen = now - std::chrono::seconds(std::max<int64_t>(0, wall - r.last_seen_unix()));
    if (derive_bindings) {
      for (const std::string& text : r.addresses()) {
        if (auto ip = IpAddress::parse(text)) bindings_.restoreSeen(*mac, *ip, e.last_seen);
      }
    }
    e.record = std::move(r);
    devices_.emplace(mac->value, std::move(e));
  }
  if (skipped > 0) {
    return Status::error(std::to_string(skipped) + " saved devices or address bindings were dropped (unreadable or repeated MAC, or over capacity)");
  }
  return Status();
}

}  // namespace muzzle
