// Value types for the addresses Muzzle reasons about: IP addresses, CIDR blocks, Ethernet
// addresses, and sets of CIDRs that answer "contains?" in O(log n). All parse from the text
// users write and never throw on bad input (parsers return std::nullopt).
#pragma once

#include <array>
#include <compare>
#include <functional>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/common/keyed_hash.h"

namespace muzzle {

using Uint128 = unsigned __int128;

// An IPv4 or IPv6 address. IPv4 keeps its 4 bytes at the front of `bytes`, the rest zero.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  bool v6 = false;

  static IpAddress v4FromHostOrder(uint32_t host_order);
  static IpAddress fromBytes(const uint8_t* data, bool v6);
  static std::optional<IpAddress> parse(std::string_view text);

  uint32_t v4HostOrder() const;
  bool isUnspecified() const {  // 0.0.0.0 or ::, what a DHCP client sends from
    for (uint8_t b : bytes) {
      if (b != 0) return false;
    }
    return true;
  }
  Uint128 v6HostOrder() const;
  std::string toString() const;
  auto operator<=>(const IpAddress&) const = default;
};

// An address and a small extra value (a link-local address's segment, a class...) as 6 words,
// under the process's secret (keyed_hash.h says why).
inline uint64_t keyedHash(const IpAddress& ip, uint64_t extra = 0) {
  uint32_t w[6];
  __builtin_memcpy(w, ip.bytes.data(), 16);
  w[4] = static_cast<uint32_t>(extra) ^ (ip.v6 ? 0x80000000u : 0u);
  w[5] = static_cast<uint32_t>(extra >> 32);
  return keyedHashWords(w, 6);
}

// For unordered containers keyed by address: keyed, so their iteration order differs from one
// run to the next.
struct IpAddressHash {
  size_t operator()(const IpAddress& ip) const { return static_cast<size_t>(keyedHash(ip)); }
};

struct Cidr {
  IpAddress base;  // host bits are zero
  uint8_t prefix_len = 0;

  // "198.18.1.0/24", "fd00:1::/64", or a bare address (a /32 or /128). Rejects host bits set
  // beyond the prefix ("198.18.1.5/24"), since that is almost always a typo for a host or a net.
  static std::optional<Cidr> parse(std::string_view text);
  static Cidr host(const IpAddress& ip) { return Cidr{ip, static_cast<uint8_t>(ip.v6 ? 128 : 32)}; }
  bool contains(const IpAddress& ip) const;
  std::string toString() const;
};

// An Ethernet address packed into the low 48 bits of an integer, for cheap hashing.
struct MacAddress {
  uint64_t value = 0;

  static std::optional<MacAddress> parse(std::string_view text);  // "44:47:cc:12:34:56"
  static MacAddress fromBytes(const uint8_t* six_bytes);
  // Randomised ("private") addresses set the locally-administered bit; they carry no vendor.
  bool locallyAdministered() const { return (value >> 40) & 0x02; }
  std::string toString() const;
  auto operator<=>(const MacAddress&) const = default;
};

// A set of CIDR blocks kept as sorted, merged intervals. Build with add() then finalize();
// contains() is only valid after finalize(). Immutable afterwards, so safe to share between
// threads.
class AddressSet {
 public:
  void add(const Cidr& cidr);
  // add() of each, with room made for all of them first (a list file of 100,000 entries
  // otherwise grows its vector ~17 times, each a copy into memory touched for the first time).
  void addAll(const std::vector<Cidr>& cidrs);
  // Every address of `other` (an address group's set, named among the resolvers).
  void add(const AddressSet& other);
  void finalize();
  bool contains(const IpAddress& ip) const;
  bool empty() const { return v4_.empty() && v6_.empty(); }
  size_t intervalCount() const { return v4_.size() + v6_.size(); }
  // The merged intervals as text, "198.18.1.10 fd00:1::/64 203.0.113.1-203.0.113.9": the same
  // for two sets that hold the same addresses (after finalize()), for describing and comparing.
  std::string describe() const;

 private:
  std::vector<std::pair<uint32_t, uint32_t>> v4_;  // inclusive [lo, hi]
  std::vector<std::pair<Uint128, Uint128>> v6_;
};

}  // namespace muzzle
