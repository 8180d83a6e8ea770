// libFuzzer target for DeviceInventory::load, the reader of `state_dir/inventory.pb` (a file
// the box wrote, but a disk may tear or corrupt it): bytes -> muzzle.v1.Inventory -> the
// inventory's tables. Then the loaded inventory is used as the Judge uses it (devices seen
// again, new ones until the loaded ones are evicted) and saved and read back.
// Oracle: the sanitizers, and: the capacity holds; every address the inventory maps to a device
// leads to a device it holds; a saved inventory reads back whole.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fw/common/clock.h"
#include "fw/device/inventory.h"

namespace {

constexpr size_t kCapacity = 8;

// Every address of every record the input names must, after any sequence of operations, map to
// a device the inventory still holds (or to none).
void checkOwners(const muzzle::DeviceInventory& inv, const muzzle::v1::Inventory& input) {
  for (const auto& r : input.devices()) {
    for (const std::string& text : r.addresses()) {
      auto ip = muzzle::IpAddress::parse(text);
      if (!ip) continue;
      if (auto mac = inv.macOf(*ip); mac && inv.find(*mac) == nullptr) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  muzzle::ManualClock clock;
  muzzle::DeviceInventory inv(kCapacity, nullptr, clock);
  (void)inv.load(bytes);
  if (inv.size() > kCapacity) std::abort();
  muzzle::v1::Inventory input;
  if (!input.ParseFromString(bytes)) return 0;
  checkOwners(inv, input);

  // Seen again: each loaded device at one of its addresses, each address by a new device.
  std::vector<muzzle::MacAddress> loaded;
  inv.forEach([&](const muzzle::v1::DeviceRecord& r) {
    if (auto mac = muzzle::MacAddress::parse(r.mac())) loaded.push_back(*mac);
  });
  if (loaded.size() != inv.size()) std::abort();  // load keeps only readable MACs
  clock.advance(std::chrono::minutes(1));
  const std::string saved = inv.serialize();
  muzzle::DeviceInventory again(kCapacity, nullptr, clock);
  if (!again.load(saved).ok() || again.size() != inv.size()) std::abort();

  // New devices until every loaded one is evicted: what they owned must go with them.
  for (uint8_t i = 0; i < kCapacity; ++i) {
    const uint8_t fresh[6] = {0x02, 0xfd, 0, 0, 0, i};
    inv.observe(muzzle::MacAddress::fromBytes(fresh),
                *muzzle::IpAddress::parse("198.19.255." + std::to_string(i)), "cameras");
    clock.advance(std::chrono::seconds(1));
  }
  if (inv.size() > kCapacity) std::abort();
  checkOwners(inv, input);

  uint8_t next = 0;
  for (const auto& r : input.devices()) {
    for (const std::string& text : r.addresses()) {
      auto ip = muzzle::IpAddress::parse(text);
      if (!ip) continue;
      const uint8_t bytes6[6] = {0x02, 0xfe, 0, 0, 0, next++};
      const muzzle::MacAddress mac = muzzle::MacAddress::fromBytes(bytes6);
      inv.observe(mac, *ip, "cameras");
      if (inv.macOf(*ip) != mac) std::abort();
      clock.advance(std::chrono::seconds(1));
      if (next >= 2 * kCapacity) break;
    }
  }
  if (inv.size() > kCapacity) std::abort();
  checkOwners(inv, input);
  return 0;
}
