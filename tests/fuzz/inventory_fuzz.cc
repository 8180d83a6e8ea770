// libFuzzer target for DeviceInventory::load, the reader of `state_dir/inventory.pb` (a file
// the box wrote, but a disk may tear or corrupt it): bytes -> muzzle.v1.Inventory -> the
// inventory's devices and its address bindings. Then the loaded inventory is used as the Judge
// uses it (devices claim addresses, new devices arrive until the loaded ones are evicted), and
// saved and read back.
// Oracle: the sanitizers, and: the device and binding capacities hold; a saved inventory reads
// back whole; a live binding never moves to another device's claim, and a lapsed one always
// moves to the first device that claims it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "fw/common/clock.h"
#include "fw/device/inventory.h"

namespace {

constexpr size_t kCapacity = 8;
constexpr int kSegment = 0;

void checkBounds(const muzzle::DeviceInventory& inv) {
  if (inv.size() > kCapacity) std::abort();
  if (inv.bindings().size() > inv.bindings().capacity()) std::abort();
}

// Every address the input names, parsed.
std::vector<muzzle::IpAddress> addressesOf(const muzzle::v1::Inventory& input) {
  std::vector<muzzle::IpAddress> out;
  for (const auto& r : input.devices()) {
    for (const std::string& text : r.addresses()) {
      if (auto ip = muzzle::IpAddress::parse(text)) out.push_back(*ip);
    }
  }
  for (const auto& b : input.bindings()) {
    if (auto ip = muzzle::IpAddress::parse(b.address())) out.push_back(*ip);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  muzzle::ManualClock clock;
  muzzle::DeviceInventory inv(kCapacity, nullptr, clock);
  (void)inv.load(bytes);
  checkBounds(inv);
  muzzle::v1::Inventory input;
  if (!input.ParseFromString(bytes)) return 0;

  std::vector<muzzle::MacAddress> loaded;
  inv.forEach([&](const muzzle::DeviceRecord& r) {
    if (r.addresses.size() > muzzle::DeviceInventory::kMaxAddresses) std::abort();
    loaded.push_back(r.mac);
  });
  if (loaded.size() != inv.size()) std::abort();  // one record per device, addresses bounded
  clock.advance(std::chrono::minutes(1));
  const std::string saved = inv.serialize();
  muzzle::DeviceInventory again(kCapacity, nullptr, clock);
  if (!again.load(saved).ok() || again.size() != inv.size()) std::abort();

  // Another device claims each address: a live binding must not move to it.
  const std::vector<muzzle::IpAddress> addresses = addressesOf(input);
  muzzle::AddressBindings& bindings = inv.bindings();
  uint8_t next = 0;
  for (const muzzle::IpAddress& ip : addresses) {
    const uint8_t raw[6] = {0x02, 0xfe, 0, 0, 0, next++};
    const muzzle::MacAddress claimant = muzzle::MacAddress::fromBytes(raw);
    const muzzle::AddressBinding* before = bindings.find(ip, kSegment);
    const bool live = before != nullptr && !bindings.lapsed(*before);
    const muzzle::MacAddress owner = before != nullptr ? before->owner : muzzle::MacAddress{};
    const muzzle::Claim c = bindings.takeOver(claimant, ip, kSegment);
    if (live && owner != claimant && c.outcome != muzzle::ClaimOutcome::kSpoof) std::abort();
    if (live && bindings.ownerOf(ip, kSegment) != owner) std::abort();
    checkBounds(inv);
    if (next >= 2 * kCapacity) break;
  }

  // Past the hold time every seen binding has lapsed: the first claimant takes the address.
  clock.advance(bindings.hold() + std::chrono::seconds(1));
  next = 0;
  for (const muzzle::IpAddress& ip : addresses) {
    const muzzle::AddressBinding* before = bindings.find(ip, kSegment);
    if (before == nullptr || !bindings.lapsed(*before)) continue;
    const uint8_t raw[6] = {0x02, 0xfd, 0, 0, 0, next++};
    const muzzle::MacAddress claimant = muzzle::MacAddress::fromBytes(raw);
    if (bindings.takeOver(claimant, ip, kSegment).outcome != muzzle::ClaimOutcome::kMoved) {
      std::abort();
    }
    if (bindings.ownerOf(ip, kSegment) != claimant) std::abort();
    if (next >= 2 * kCapacity) break;
  }

  // New devices until every loaded one is evicted.
  for (uint8_t i = 0; i < kCapacity; ++i) {
    const uint8_t fresh[6] = {0x02, 0xfc, 0, 0, 0, i};
    inv.touch(muzzle::MacAddress::fromBytes(fresh), "cameras");
    clock.advance(std::chrono::seconds(1));
  }
  checkBounds(inv);
  return 0;
}
