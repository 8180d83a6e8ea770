// Keyed hashing: keys a device can choose so that a public hash puts them all in one bucket of a
// std::unordered_map spread over the buckets under the process's secret.
#include "fw/common/keyed_hash.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <unordered_set>

#include "fw/common/net.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

constexpr size_t kKeys = 4096;

// The longest chain of a container's buckets.
template <typename Container>
size_t longestChain(const Container& c) {
  size_t most = 0;
  for (size_t b = 0; b < c.bucket_count(); ++b) most = std::max(most, c.bucket_size(b));
  return most;
}

TEST_CASE("keyed hash: the same key gives the same value, every word counts") {
  const uint32_t words[6] = {1, 2, 3, 4, 5, 6};
  const uint64_t h = keyedHashWords(words, 6);
  CHECK(keyedHashWords(words, 6) == h);
  std::set<uint64_t> seen{h};
  for (size_t i = 0; i < 6; ++i) {
    uint32_t changed[6] = {1, 2, 3, 4, 5, 6};
    changed[i] ^= 1u << (i * 5);
    seen.insert(keyedHashWords(changed, 6));
  }
  CHECK(seen.size() == 7);
  // An IPv4 address and the IPv6 address of the same bytes, and the extra value, all count.
  const IpAddress v4 = *IpAddress::parse("198.18.0.7");
  IpAddress v6 = v4;
  v6.v6 = true;
  CHECK(keyedHash(v4) != keyedHash(v6));
  CHECK(keyedHash(v4, 1) != keyedHash(v4, 2));
  CHECK(IpAddressHash()(v4) == IpAddressHash()(*IpAddress::parse("198.18.0.7")));
}

TEST_CASE("keyed hash: Ethernet addresses that one bucket would hold under std::hash spread out") {
  // A device sending from made-up Ethernet addresses, each the bucket count apart: std::hash of
  // a 64-bit value is the value itself, so a table of that many buckets files them all in one.
  std::unordered_set<uint64_t> unkeyed;
  MacMap<int> keyed;
  unkeyed.reserve(kKeys);
  keyed.reserve(kKeys);
  const uint64_t buckets = keyed.bucket_count();
  REQUIRE(unkeyed.bucket_count() == buckets);
  for (uint64_t i = 0; i < kKeys; ++i) {
    const uint64_t mac = 0x02'00'00'00'00'00ull + 7 + i * buckets;
    unkeyed.insert(mac);
    keyed.emplace(mac, 0);
  }
  REQUIRE(longestChain(unkeyed) == kKeys);  // the attack the key defeats
  CHECK(longestChain(keyed) <= 10);         // as random values would: a few, never a pile
}

TEST_CASE("keyed hash: addresses that one bucket would hold under an unkeyed hash spread out") {
  // IPv4 addresses the bucket count apart (an unkeyed hash of an IPv4 address is commonly the
  // address itself), and IPv6 addresses whose two halves cancel under an unkeyed mix.
  std::unordered_set<IpAddress, IpAddressHash> keyed;
  keyed.reserve(2 * kKeys);
  const uint64_t buckets = keyed.bucket_count();
  for (uint64_t i = 0; i < kKeys; ++i) {
    keyed.insert(IpAddress::v4FromHostOrder(static_cast<uint32_t>(0xC6120000u + 7 + i * buckets)));
    IpAddress ip;
    ip.v6 = true;
    const uint64_t low = i << 20;
    const uint64_t high = 0xfd00000000000000ull ^ (low * 0x9E3779B97F4A7C15ull);
    __builtin_memcpy(ip.bytes.data(), &high, 8);
    __builtin_memcpy(ip.bytes.data() + 8, &low, 8);
    keyed.insert(ip);
  }
  REQUIRE(keyed.size() == 2 * kKeys);
  CHECK(longestChain(keyed) <= 10);
}

}  // namespace MUZZLE_UNITY_ID
}  // namespace muzzle
