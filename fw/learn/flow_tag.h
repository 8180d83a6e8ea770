// FlowTagHash: the hash FlowRecorder files a flow under in its index, keyed by a secret each
// recorder draws when it is made.
//
// Why keyed: a device chooses its flows' addresses and ports and the names it looks up, and
// FlowRecorder's index is one open-addressing table for every learning device. With an unkeyed
// hash (IpAddressHash is the address itself for IPv4 and a fixed mix for IPv6; std::hash of a
// name is an unseeded MurmurHash), a hostile device could send flows that all hash alike and
// build one long run in the table, which every new flow of every learning device landing there
// would then walk, on the packet path. NH, the almost-universal hash of UMAC (RFC 4418,
// section 5.2.1: 32-bit words plus key words, multiplied in pairs, summed mod 2^64): for any
// two different flows, the chance over the key that they collide is about 2^-32, and nothing a
// device sees tells it the key. MurmurHash3's finaliser then spreads the sum over the tag,
// whose low bits are the flow's place in the index.
//
// A few multiplications a flow (7 words for a flow kept by address). Immutable after
// construction; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "fw/common/net.h"
#include "fw/policy/compiled_policy.h"

namespace muzzle {

class FlowTagHash {
 public:
  // Words of the longest flow: 3 of device, direction, protocol, port and the name's length,
  // then 64 of a 253-byte name (or 4 of an address), rounded up to pairs.
  static constexpr size_t kKeyWords = 68;
  using Key = std::array<uint32_t, kKeyWords>;

  FlowTagHash();  // a key from std::random_device (the kernel's random source)
  explicit FlowTagHash(const Key& key) : key_(key) {}  // for tests

  // The tag of `mac`'s flow: kept by `name` when it is not empty, else by `address`.
  uint32_t operator()(MacAddress mac, Direction direction, uint8_t protocol, uint16_t port,
                      std::string_view name, const IpAddress& address) const {
    const uint32_t small = (uint32_t{port} << 16) | (uint32_t{protocol} << 8) |
                           (address.v6 ? 0x80u : 0u) | static_cast<uint32_t>(direction);
    const auto mac_low = static_cast<uint32_t>(mac.value);
    const auto mac_high =
        static_cast<uint32_t>(mac.value >> 32) | (static_cast<uint32_t>(name.size()) << 16);
    uint64_t sum = pair(small, mac_low, 0);
    uint32_t words[2];
    if (name.empty()) {
      __builtin_memcpy(words, address.bytes.data(), 4);
      sum += pair(mac_high, words[0], 2);
      __builtin_memcpy(words, address.bytes.data() + 4, 8);
      sum += pair(words[0], words[1], 4);
      __builtin_memcpy(words, address.bytes.data() + 12, 4);
      sum += pair(words[0], 0, 6);
    } else {
      // The name in 4-byte words, the last one zero-padded; its length is in mac_high, so two
      // names that differ only by trailing zero bytes are still different inputs.
      uint32_t first = 0;
      __builtin_memcpy(&first, name.data(), name.size() < 4 ? name.size() : 4);
      sum += pair(mac_high, first, 2);
      size_t k = 4;
      for (size_t at = 4; at < name.size(); at += 8, k += 2) {
        words[0] = words[1] = 0;
        const size_t n = name.size() - at < 8 ? name.size() - at : 8;
        __builtin_memcpy(words, name.data() + at, n);
        sum += pair(words[0], words[1], k);
      }
    }
    sum ^= sum >> 33;
    sum *= 0xFF51AFD7ED558CCDull;
    sum ^= sum >> 33;
    sum *= 0xC4CEB9FE1A85EC53ull;
    sum ^= sum >> 33;
    return static_cast<uint32_t>(sum >> 32);
  }

 private:
  uint64_t pair(uint32_t a, uint32_t b, size_t k) const {
    return uint64_t{static_cast<uint32_t>(a + key_[k])} *
           uint64_t{static_cast<uint32_t>(b + key_[k + 1])};
  }

  Key key_;
};

}  // namespace muzzle
