// DeviceInventory: every device seen on a managed segment, keyed by Ethernet address — the
// addresses bound to it, its vendor (OUI), its DHCP fingerprint, when it was first and last
// seen, its flow counts, and the profile it is judged by and why — and the AddressBindings that
// say which device owns each address (fw/device/address_bindings.h: evidence, conflict rules).
//
// The inventory records what the Judge decided; it does not decide who owns an address. The
// Judge asks bindings() first and calls addAddress only for an address the device now owns, so
// a spoofed packet never lists an address on anyone's record.
//
// Bounded: at `capacity` devices the one seen longest ago is evicted (a flood of random MACs
// cannot grow memory; its address bindings stay until they lapse), and each record lists at most
// kMaxAddresses addresses (most recent first). Not thread-safe: the Judge owns it (under its
// lock). Records are plain values (fw/device/device_record.h); serialize() and load()
// (fw/device/inventory_file.cc) convert them to and from muzzle.v1.Inventory, bindings included,
// for restarts.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "fw/common/clock.h"
#include "fw/common/keyed_hash.h"
#include "fw/common/net.h"
#include "fw/common/status.h"
#include "fw/device/address_bindings.h"
#include "fw/device/device_record.h"
#include "fw/device/oui_database.h"
#include "fw/dhcp/dhcp.h"
#include "muzzle/v1/inventory.pb.h"

namespace muzzle {

class DeviceInventory {
 public:
  static constexpr size_t kMaxAddresses = 8;
  // Traffic classes kept per device (DeviceRecord::by_class), and the longest class name read
  // back from a saved inventory: as many as a policy can have (compiled_policy.h).
  static constexpr size_t kMaxTrafficClasses = 64;
  static constexpr size_t kMaxClassName = 256;
  // Address bindings per device of capacity: room for IPv4, link-local and IPv6 addresses.
  static constexpr size_t kBindingsPerDevice = 4;
  // What a device says over DHCP may move it to another profile at most this often; the
  // Judge refuses (and reports) the ones in between.
  static constexpr std::chrono::seconds kMinReassignInterval{60};

  // "*oui" (may be null: no vendor names) and "*clock" must outlive the inventory.
  DeviceInventory(size_t capacity, const OuiDatabase* oui, const Clock& clock)
      : capacity_(capacity),
        oui_(oui),
        clock_(clock),
        bindings_(capacity * kBindingsPerDevice, clock) {}

  // Records that `mac` on `segment` was seen now. Returns the record and whether it is new.
  std::pair<DeviceRecord*, bool> touch(MacAddress mac, const std::string& segment);
  // touch, and lists `ip` first among the device's addresses (the caller checked the binding).
  std::pair<DeviceRecord*, bool> observe(MacAddress mac, const IpAddress& ip,
                                         const std::string& segment);
  // Takes `ip` off `mac`'s list (the address moved to another device).
  void forgetAddress(MacAddress mac, const IpAddress& ip);
  // Records a DHCP fingerprint. Returns true if the facts that classification reads changed.
  bool observeDhcp(const DhcpInfo& dhcp, const std::string& segment);
  // Writes the fingerprint in `dhcp` into `record`; true if classification facts changed.
  static bool applyDhcp(const DhcpInfo& dhcp, DeviceRecord* record);
  // Whether `mac` may be moved to another profile by what it said over DHCP now (at most once
  // per kMinReassignInterval), and noting that it was.
  bool mayReassign(MacAddress mac) const;
  void noteReassigned(MacAddress mac);

  AddressBindings& bindings() { return bindings_; }
  const AddressBindings& bindings() const { return bindings_; }
  // The device that owns `ip` now, or null. For forwarded traffic's addresses (accounting):
  // a link-local address, bound per segment, has no owner here.
  DeviceRecord* ownerOf(const IpAddress& ip);
  DeviceRecord* find(MacAddress mac);
  const DeviceRecord* find(MacAddress mac) const;

  size_t size() const { return devices_.size(); }
  uint64_t evictions() const { return evictions_; }
  template <typename F>
  void forEach(F&& f) const {
    for (const auto& [mac, entry] : devices_) f(entry.record);
  }
  template <class F>
  void forEachMutable(F&& f) {
    for (auto& [mac, entry] : devices_) f(entry.record);
  }

  // inventory_file.cc: the saved form, muzzle.v1.Inventory (inventory.pb).
  std::string serialize() const;
  // Devices not seen for this long are aged out when a saved inventory is read back.
  static constexpr std::chrono::hours kMaxAge{24 * 30};

  // Replaces the contents with a serialized inventory. Records not seen for kMaxAge are aged
  // out (counted in agedOut(), not an error); records beyond capacity, or that do not parse, are
  // dropped and the error names how many. An inventory saved without bindings gets them from
  // its records' addresses (the most recently seen device first), as evidence "seen".
  Status load(const std::string& bytes);
  uint64_t agedOut() const { return aged_out_; }

 private:
  static constexpr std::chrono::steady_clock::time_point kNever =
      std::chrono::steady_clock::time_point::min();
  struct Entry {
    DeviceRecord record;
    std::chrono::steady_clock::time_point last_seen;
    // kNever until DHCP first moved it (a sentinel, not std::optional: 8 bytes less in every
    // entry).
    std::chrono::steady_clock::time_point last_reassigned = kNever;
  };
  Entry& entryFor(MacAddress mac, const std::string& segment, bool* created);
  void evictOldest();

  size_t capacity_;
  const OuiDatabase* oui_;
  const Clock& clock_;
  MacMap<Entry> devices_;
  AddressBindings bindings_;
  uint64_t evictions_ = 0;
  uint64_t aged_out_ = 0;
};

}  // namespace muzzle
