// DeviceInventory: every device seen on a managed segment, keyed by Ethernet address — the
// addresses it uses, its vendor (OUI), its DHCP fingerprint, when it was first and last seen,
// its flow counts, and the profile it is judged by and why.
//
// Bounded: at `capacity` devices the one seen longest ago is evicted (a flood of random MACs
// cannot grow memory), and each device keeps at most kMaxAddresses addresses (a device that
// flaps between IPs keeps its most recent ones; the IP -> MAC map always follows the latest
// owner). Not thread-safe: the Judge owns it (under its lock). Serializes to muzzle.v1.Inventory
// for restarts.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "fw/common/clock.h"
#include "fw/common/net.h"
#include "fw/common/status.h"
#include "fw/device/oui_database.h"
#include "fw/dhcp/dhcp.h"
#include "muzzle/v1/inventory.pb.h"

namespace muzzle {

class DeviceInventory {
 public:
  static constexpr size_t kMaxAddresses = 8;

  // "*oui" (may be null: no vendor names) and "*clock" must outlive the inventory.
  DeviceInventory(size_t capacity, const OuiDatabase* oui, const Clock& clock)
      : capacity_(capacity), oui_(oui), clock_(clock) {}

  // Records that `mac` on `segment` uses `ip`. Returns the record and whether the device is new.
  std::pair<v1::DeviceRecord*, bool> observe(MacAddress mac, const IpAddress& ip,
                                             const std::string& segment);
  // Records a DHCP fingerprint. Returns true if the facts that classification reads changed.
  bool observeDhcp(const DhcpInfo& dhcp, const std::string& segment);

  std::optional<MacAddress> macOf(const IpAddress& ip) const;
  v1::DeviceRecord* find(MacAddress mac);
  const v1::DeviceRecord* find(MacAddress mac) const;

  size_t size() const { return devices_.size(); }
  uint64_t evictions() const { return evictions_; }
  template <typename F>
  void forEach(F&& f) const {
    for (const auto& [mac, entry] : devices_) f(entry.record);
  }

  std::string serialize() const;
  // Devices not seen for this long are aged out when a saved inventory is read back.
  static constexpr std::chrono::hours kMaxAge{24 * 30};

  // Replaces the contents with a serialized inventory. Records not seen for kMaxAge are aged
  // out (counted in agedOut(), not an error); records beyond capacity, or that do not parse, are
  // dropped and the error names how many.
  Status load(const std::string& bytes);
  uint64_t agedOut() const { return aged_out_; }

 private:
  struct Entry {
    v1::DeviceRecord record;
    std::chrono::steady_clock::time_point last_seen;
  };
  Entry& entryFor(MacAddress mac, const std::string& segment, bool* created);
  void evictOldest();

  size_t capacity_;
  const OuiDatabase* oui_;
  const Clock& clock_;
  std::unordered_map<uint64_t, Entry> devices_;
  std::unordered_map<IpAddress, uint64_t, IpAddressHash> owner_of_;  // IP -> MAC value
  uint64_t evictions_ = 0;
  uint64_t aged_out_ = 0;
};

}  // namespace muzzle
