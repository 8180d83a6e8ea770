#include "fw/common/keyed_hash.h"

#include <random>

namespace muzzle {

const std::array<uint32_t, 16>& processHashKey() {
  static const std::array<uint32_t, 16> key = [] {
    std::array<uint32_t, 16> k{};
    std::random_device random;  // the kernel's random source (getrandom)
    for (uint32_t& word : k) word = random();
    return k;
  }();
  return key;
}

}  // namespace muzzle
