#include "fw/learn/flow_tag.h"

#include <random>

namespace muzzle {

FlowTagHash::FlowTagHash() {
  std::random_device random;
  for (uint32_t& word : key_) word = random();
}

}  // namespace muzzle
