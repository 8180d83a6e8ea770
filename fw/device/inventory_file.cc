// The inventory's saved form, inventory.pb (proto/muzzle/v1/inventory.proto): plain records to
// and from muzzle.v1.DeviceRecord, with the address bindings. The format is the one muzzled has
// always written; only this file knows it.
#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <google/protobuf/arena.h>

#include "fw/device/inventory.h"

namespace muzzle {
namespace {

// The saved file is parsed into an arena whose blocks come straight from the kernel and go back
// to it when the load ends. Parsed onto the heap, the messages (dropped after the load) would sit
// between the records that stay, and the heap could not shrink: 1.1 MB more resident for the
// bench's 1,000 devices, for as long as muzzled runs.
void* mapBlock(size_t size) {
  void* block = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (block == MAP_FAILED) {
    // What the default block allocator (operator new) would do, minus the exception.
    std::fputs("muzzled: out of memory while loading the inventory\n", stderr);
    std::abort();
  }
  return block;
}
void unmapBlock(void* block, size_t size) { ::munmap(block, size); }

google::protobuf::ArenaOptions loadArenaOptions() {
  google::protobuf::ArenaOptions options;
  options.start_block_size = 64 << 10;
  options.max_block_size = 1 << 20;
  options.block_alloc = mapBlock;
  options.block_dealloc = unmapBlock;
  return options;
}

void toProto(const DeviceRecord& r, v1::DeviceRecord* out) {
  out->set_mac(r.mac.toString());
  out->set_randomised_mac(r.randomised_mac);
  out->set_vendor(r.vendor.str());
  for (const IpAddress& ip : r.addresses) out->add_addresses(ip.toString());
  out->set_segment(r.segment.str());
  out->set_first_seen_unix(r.first_seen_unix);
  out->set_last_seen_unix(r.last_seen_unix);
  out->set_dhcp_hostname(r.dhcp_hostname.str());
  out->set_dhcp_parameter_list(r.dhcp_parameter_list.str());
  out->set_dhcp_vendor_class(r.dhcp_vendor_class.str());
  out->set_dhcp_client_id(r.dhcp_client_id.str());
  out->set_mud_url(r.mud_url.str());
  out->set_profile(r.profile.str());
  out->set_assignment(r.assignment.str());
  out->set_assigned_by(r.assigned_by.str());
  out->set_allowed_flows(r.allowed_flows);
  out->set_denied_flows(r.denied_flows);
  out->set_name(r.name.str());
  out->set_upload_bytes(r.upload.bytes);
  out->set_upload_packets(r.upload.packets);
  out->set_download_bytes(r.download.bytes);
  out->set_download_packets(r.download.packets);
  for (const ClassTraffic& c : r.by_class) {
    v1::ClassTotals* t = out->add_by_class();
    t->set_to(c.to.str());
    t->set_upload_bytes(c.upload.bytes);
    t->set_upload_packets(c.upload.packets);
    t->set_download_bytes(c.download.bytes);
    t->set_download_packets(c.download.packets);
  }
}

// `mac` is the record's, already parsed. Addresses that do not parse are left out (at most
// kMaxAddresses are kept, as the inventory keeps them).
DeviceRecord fromProto(const v1::DeviceRecord& r, MacAddress mac) {
  DeviceRecord out;
  out.mac = mac;
  out.randomised_mac = r.randomised_mac();
  out.vendor = r.vendor();
  for (const std::string& text : r.addresses()) {
    if (out.addresses.size() >= DeviceInventory::kMaxAddresses) break;
    if (auto ip = IpAddress::parse(text)) out.addresses.push_back(*ip);
  }
  out.segment = r.segment();
  out.first_seen_unix = r.first_seen_unix();
  out.last_seen_unix = r.last_seen_unix();
  out.dhcp_hostname = r.dhcp_hostname();
  out.dhcp_parameter_list = r.dhcp_parameter_list();
  out.dhcp_vendor_class = r.dhcp_vendor_class();
  out.dhcp_client_id = r.dhcp_client_id();
  out.mud_url = r.mud_url();
  out.profile = r.profile();
  out.assignment = r.assignment();
  out.assigned_by = r.assigned_by();
  out.allowed_flows = r.allowed_flows();
  out.denied_flows = r.denied_flows();
  out.name = r.name();
  out.upload.bytes = r.upload_bytes();
  out.upload.packets = r.upload_packets();
  out.download.bytes = r.download_bytes();
  out.download.packets = r.download_packets();
  // The file is not trusted: as many classes as a policy can have, names of a group's length.
  for (const v1::ClassTotals& c : r.by_class()) {
    if (out.by_class.size() >= DeviceInventory::kMaxTrafficClasses) break;
    if (c.to().empty() || c.to().size() > DeviceInventory::kMaxClassName) continue;
    out.by_class.push_back({c.to(), {c.upload_bytes(), c.upload_packets(), 0},
                            {c.download_bytes(), c.download_packets(), 0}});
  }
  return out;
}

}  // namespace

std::string DeviceInventory::serialize() const {
  v1::Inventory inv;
  for (const auto& [mac, e] : devices_) toProto(e.record, inv.add_devices());
  bindings_.save(&inv);
  std::string out;
  inv.SerializeToString(&out);
  return out;
}

Status DeviceInventory::load(const std::string& bytes) {
  google::protobuf::Arena arena(loadArenaOptions());
  v1::Inventory& inv = *google::protobuf::Arena::CreateMessage<v1::Inventory>(&arena);
  if (!inv.ParseFromString(bytes)) {
    return Status::error("the saved inventory does not parse; starting with an empty one");
  }
  devices_.clear();
  size_t skipped = bindings_.load(inv);
  const bool derive_bindings = inv.bindings_size() == 0;
  // Keep the most recently seen devices when the saved file is larger than the capacity.
  auto* list = inv.mutable_devices();
  std::sort(list->begin(), list->end(),
            [](const auto& a, const auto& b) { return a.last_seen_unix() > b.last_seen_unix(); });
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
    e.record = fromProto(r, *mac);
    devices_.emplace(mac->value, std::move(e));
  }
  if (skipped > 0) {
    return Status::error(std::to_string(skipped) +
                         " saved devices or address bindings were dropped (unreadable or repeated "
                         "MAC, or over capacity)");
  }
  return Status();
}

}  // namespace muzzle
