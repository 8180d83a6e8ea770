// FlowTagHash: keyed, so flows a device chooses to collide under the unkeyed hashes spread over
// the recorder's index anyway.
#include "fw/learn/flow_tag.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

const MacAddress kMac = *MacAddress::parse("44:47:cc:00:00:11");

IpAddress v6(uint64_t high, uint64_t low) {
  IpAddress ip;
  ip.v6 = true;
  __builtin_memcpy(ip.bytes.data(), &high, 8);
  __builtin_memcpy(ip.bytes.data() + 8, &low, 8);
  return ip;
}

TEST_CASE("flow tag: the same key gives the same tag; another key, another one") {
  FlowTagHash::Key key{};
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint32_t>(i * 2654435761u + 1);
  const FlowTagHash a(key), b(key), other;
  const IpAddress address = *IpAddress::parse("203.0.113.7");
  const uint32_t tag = a(kMac, Direction::kEgress, 17, 9000, "", address);
  CHECK(b(kMac, Direction::kEgress, 17, 9000, "", address) == tag);
  CHECK(other(kMac, Direction::kEgress, 17, 9000, "", address) != tag);
  // Every part of the flow counts.
  CHECK(a(kMac, Direction::kInbound, 17, 9000, "", address) != tag);
  CHECK(a(kMac, Direction::kEgress, 6, 9000, "", address) != tag);
  CHECK(a(kMac, Direction::kEgress, 17, 9001, "", address) != tag);
  CHECK(a(*MacAddress::parse("44:47:cc:00:00:12"), Direction::kEgress, 17, 9000, "", address) !=
        tag);
  CHECK(a(kMac, Direction::kEgress, 17, 9000, "", *IpAddress::parse("203.0.113.8")) != tag);
  // Names of every length up to the longest, each its own tag.
  std::set<uint32_t> names;
  std::string name;
  for (size_t n = 1; n <= 253; ++n) {
    name.push_back(static_cast<char>('a' + n % 26));
    names.insert(a(kMac, Direction::kEgress, 17, 53, name, IpAddress{}));
  }
  CHECK(names.size() == 253);
}

// An unkeyed mix of an address's two halves, as a public hash would be: anyone can solve it.
uint64_t unkeyedMix(const IpAddress& ip) {
  uint64_t a, b;
  __builtin_memcpy(&a, ip.bytes.data(), 8);
  __builtin_memcpy(&b, ip.bytes.data() + 8, 8);
  return a ^ (b * 0x9E3779B97F4A7C15ull) ^ ip.v6;
}

TEST_CASE("flow tag: flows that collide under an unkeyed address hash spread over the index") {
  // 1,024 IPv6 destinations (a device's whole bound) chosen so unkeyedMix gives them all one
  // value: the first eight bytes are the fixed value XOR the second eight times its constant.
  std::set<size_t> unkeyed;
  std::map<uint32_t, int> homes;  // the place in a 2,048-entry index (the bound's, half full)
  std::set<uint32_t> tags;
  const FlowTagHash tag;
  for (uint64_t i = 1; i <= 1024; ++i) {
    const uint64_t low = i << 20;
    const IpAddress ip = v6(0x20010db8'00000000ull ^ (low * 0x9E3779B97F4A7C15ull), low);
    unkeyed.insert(unkeyedMix(ip));
    const uint32_t t = tag(kMac, Direction::kEgress, 17, 9000, "", ip);
    tags.insert(t);
    ++homes[t & 2047];
  }
  REQUIRE(unkeyed.size() == 1);  // the attack the key defeats
  CHECK(tags.size() >= 1023);
  int most = 0;
  for (const auto& [home, count] : homes) most = std::max(most, count);
  CHECK(most <= 8);  // as random tags would: a few share a place, never a pile
}

}  // namespace
}  // namespace muzzle
