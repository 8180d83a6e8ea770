// What the device inventory costs in heap per device, without a lab: reads saved inventories
// (state_dir/inventory.pb, e.g. from gen_inventory.sh) into a DeviceInventory as muzzled does at
// start, and prints the heap bytes in use (glibc's mallinfo2) that the loaded records hold, in
// all and per device. Each file is loaded into a fresh inventory of the given capacity; the
// bytes are measured after the load's parse arena is gone, as they stay in muzzled, and after
// one unmeasured load (protobuf builds its descriptors on the first parse).
//
//   bench_inventory_memory [--capacity N] [--oui DIR] FILE...
//
// `--oui` loads the OUI database first (its own bytes are not counted), so records can share
// its vendor names where the inventory does that. Heap bytes only: muzzled's resident set also
// holds the pages around them (tests/bench/memory.sh measures that).
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>

#include "fw/common/clock.h"
#include "fw/device/inventory.h"
#include "fw/device/oui_database.h"

namespace {

size_t heapInUse() { return mallinfo2().uordblks; }

}  // namespace

int main(int argc, char** argv) {
  size_t capacity = 16384;  // room for every file measured (muzzled's default is 4,096)
  std::optional<muzzle::OuiDatabase> oui;
  int first = 1;
  for (; first + 1 < argc; first += 2) {
    const std::string flag = argv[first];
    if (flag == "--capacity") {
      capacity = std::strtoul(argv[first + 1], nullptr, 10);
    } else if (flag == "--oui") {
      auto loaded = muzzle::OuiDatabase::load(argv[first + 1]);
      if (!loaded.ok()) {
        std::fprintf(stderr, "bench_inventory_memory: %s\n", loaded.status().message().c_str());
        return 1;
      }
      oui.emplace(std::move(loaded).value());
    } else {
      break;
    }
  }
  if (first >= argc) {
    std::fprintf(stderr, "usage: bench_inventory_memory [--capacity N] [--oui DIR] FILE...\n");
    return 2;
  }
  muzzle::SystemClock clock;
  for (int i = first; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    {
      // Once unmeasured: the first parse builds protobuf's descriptors for these messages.
      muzzle::DeviceInventory warm_up(capacity, nullptr, clock);
      (void)warm_up.load(bytes);
    }
    const size_t before = heapInUse();
    auto inventory =
        std::make_unique<muzzle::DeviceInventory>(capacity, oui ? &*oui : nullptr, clock);
    const size_t empty = heapInUse();
    const muzzle::Status loaded = inventory->load(bytes);
    const size_t after = heapInUse();
    const size_t devices = inventory->size();
    std::printf("%s: %zu devices, %s; empty inventory %zu B, loaded %zu B, %.0f B per device\n",
                argv[i], devices, loaded.ok() ? "loaded" : loaded.message().c_str(), empty - before,
                after - empty, devices == 0 ? 0.0 : static_cast<double>(after - empty) / devices);
  }
  return 0;
}
