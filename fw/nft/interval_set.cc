// Interval merging for nftables sets: see interval_set.h.
#include "fw/nft/interval_set.h"

#include <algorithm>

namespace muzzle {

Uint128 lastAddress(bool v6) { return v6 ? ~Uint128{0} : Uint128{0xFFFFFFFFu}; }

std::vector<AddressInterval> mergeIntervals(const std::vector<Cidr>& cidrs, bool v6) {
  std::vector<AddressInterval> ranges;
  const int bits = v6 ? 128 : 32;
  const Uint128 last = lastAddress(v6);
  for (const Cidr& c : cidrs) {
    if (c.base.v6 != v6) continue;
    const Uint128 lo = v6 ? c.base.v6HostOrder() : Uint128{c.base.v4HostOrder()};
    const int host_bits = bits - c.prefix_len;
    const Uint128 span = host_bits >= 128 ? ~Uint128{0}
                         : host_bits == 0 ? 0
                                          : (Uint128{1} << host_bits) - 1;
    ranges.push_back({lo, lo + span > last ? last : lo + span});
  }
  std::sort(ranges.begin(), ranges.end());
  std::vector<AddressInterval> merged;
  for (const AddressInterval& r : ranges) {
    // Adjacent ranges merge too: nft(8) would, and it keeps the set small.
    if (!merged.empty() && (merged.back().last == last || r.first <= merged.back().last + 1)) {
      merged.back().last = std::max(merged.back().last, r.last);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

std::vector<uint8_t> addressBytes(Uint128 value, bool v6) {
  std::vector<uint8_t> out(v6 ? 16 : 4);
  for (size_t i = out.size(); i-- > 0;) {
    out[i] = static_cast<uint8_t>(value);
    value >>= 8;
  }
  return out;
}

std::string intervalText(const AddressInterval& interval, bool v6) {
  const int bits = v6 ? 128 : 32;
  auto address = [&](Uint128 value) {
    return IpAddress::fromBytes(addressBytes(value, v6).data(), v6);
  };
  for (int host_bits = 0; host_bits <= bits; ++host_bits) {
    const Uint128 span = host_bits >= 128 ? ~Uint128{0} : (Uint128{1} << host_bits) - 1;
    if ((interval.first & span) != 0) break;  // not aligned to a prefix this long or shorter
    if (interval.last - interval.first == span) {
      return Cidr{address(interval.first), static_cast<uint8_t>(bits - host_bits)}.toString();
    }
  }
  return address(interval.first).toString() + "-" + address(interval.last).toString();
}

}  // namespace muzzle
