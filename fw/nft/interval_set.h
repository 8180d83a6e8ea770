// Address ranges for the nftables interval sets (@doh4, @doh6): the configured CIDRs of one
// family merged into sorted, disjoint, non-adjacent inclusive ranges. The kernel refuses
// overlapping intervals in one set, and users may well list a resolver twice or a network and
// a host inside it. Pure value code; the cost is O(n log n) in the number of CIDRs given.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fw/common/net.h"

namespace muzzle {

// [first, last], both inclusive, as host-order integers (IPv4 in the low 32 bits).
struct AddressInterval {
  Uint128 first = 0;
  Uint128 last = 0;
  auto operator<=>(const AddressInterval&) const = default;
};

// The CIDRs of `cidrs` of the family `v6` (the others are skipped), merged.
std::vector<AddressInterval> mergeIntervals(const std::vector<Cidr>& cidrs, bool v6);

// The family's last address (255.255.255.255 or ffff:...:ffff): an interval that ends there has
// no interval-end element in the kernel.
Uint128 lastAddress(bool v6);

// `value` as 4 or 16 network-order bytes.
std::vector<uint8_t> addressBytes(Uint128 value, bool v6);

// As nft(8) writes an interval: "198.51.100.0/24" when it is one prefix, else "first-last".
std::string intervalText(const AddressInterval& interval, bool v6);

}  // namespace muzzle
