#include "fw/common/net.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstddef>

namespace muzzle {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Parses a decimal number of 1..max_digits digits with no sign, no spaces and no leading zero
// (except "0" itself). Leading zeros are refused because "010" reads as octal to inet_aton and
// many users, so accepting it would make "198.018.1.1" mean different things in different tools.
std::optional<unsigned> parseDecimal(std::string_view text, size_t max_digits) {
  if (text.empty() || text.size() > max_digits) return std::nullopt;
  if (text.size() > 1 && text[0] == '0') return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    if (!isDigit(c)) return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value;
}

std::optional<IpAddress> parseV4(std::string_view text) {
  IpAddress ip;
  for (int i = 0; i < 4; ++i) {
    size_t dot = text.find('.');
    std::string_view part = i < 3 ? text.substr(0, dot) : text;
    if (i < 3 && dot == std::string_view::npos) return std::nullopt;
    auto octet = parseDecimal(part, 3);
    if (!octet || *octet > 255) return std::nullopt;
    ip.bytes[i] = static_cast<uint8_t>(*octet);
    if (i < 3) text.remove_prefix(dot + 1);
  }
  return ip;
}

std::optional<IpAddress> parseV6(std::string_view text) {
  // inet_pton needs a NUL-terminated string; the longest valid form
  // ("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255") is 45 characters.
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.size() >= sizeof(buf)) return std::nullopt;
  std::copy(text.begin(), text.end(), buf);
  buf[text.size()] = '\0';
  IpAddress ip;
  ip.v6 = true;
  if (inet_pton(AF_INET6, buf, ip.bytes.data()) != 1) return std::nullopt;
  return ip;
}

uint32_t v4Mask(uint8_t prefix_len) {
  // Shifting a 32-bit value by 32 is undefined, so /0 is special-cased.
  return prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - prefix_len);
}

Uint128 v6Mask(uint8_t prefix_len) {
  return prefix_len == 0 ? 0 : ~Uint128{0} << (128 - prefix_len);
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Sorts and merges overlapping or adjacent inclusive intervals in place.
template <typename T>
void mergeIntervals(std::vector<std::pair<T, T>>& intervals) {
  // Lists are often written in order (feeds, generated ranges): checking costs one pass.
  if (!std::is_sorted(intervals.begin(), intervals.end())) {
    std::sort(intervals.begin(), intervals.end());
  }
  size_t out = 0;
  for (size_t i = 0; i < intervals.size(); ++i) {
    if (out > 0) {
      auto& last = intervals[out - 1];
      // "last.second + 1 >= lo" would wrap at the top of the address space, so test the
      // overflow-free form: lo is at most one past last.second.
      if (intervals[i].first <= last.second || intervals[i].first - 1 == last.second) {
        last.second = std::max(last.second, intervals[i].second);
        continue;
      }
    }
    intervals[out++] = intervals[i];
  }
  intervals.resize(out);
  // A finalized set lives as long as its policy; a list built by push_back holds up to twice
  // its size (a 2,500-entry IPv6 list: 128 KB for 80 KB).
  intervals.shrink_to_fit();
}

template <typename T>
bool intervalsContain(const std::vector<std::pair<T, T>>& intervals, T value) {
  // First interval whose lo is > value; the only candidate is the one before it.
  auto it = std::upper_bound(intervals.begin(), intervals.end(), value,
                             [](T v, const std::pair<T, T>& iv) { return v < iv.first; });
  if (it == intervals.begin()) return false;
  --it;
  return value <= it->second;
}

}  // namespace

IpAddress IpAddress::v4FromHostOrder(uint32_t host_order) {
  IpAddress ip;
  ip.bytes[0] = static_cast<uint8_t>(host_order >> 24);
  ip.bytes[1] = static_cast<uint8_t>(host_order >> 16);
  ip.bytes[2] = static_cast<uint8_t>(host_order >> 8);
  ip.bytes[3] = static_cast<uint8_t>(host_order);
  return ip;
}

IpAddress IpAddress::fromBytes(const uint8_t* data, bool v6) {
  IpAddress ip;
  ip.v6 = v6;
  std::copy(data, data + (v6 ? 16 : 4), ip.bytes.begin());
  return ip;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // A colon can only appear in IPv6 text (including "::ffff:198.51.100.4"), so it picks the family.
  if (text.find(':') != std::string_view::npos) return parseV6(text);
  return parseV4(text);
}

uint32_t IpAddress::v4HostOrder() const {
  return uint32_t{bytes[0]} << 24 | uint32_t{bytes[1]} << 16 | uint32_t{bytes[2]} << 8 |
         uint32_t{bytes[3]};
}

Uint128 IpAddress::v6HostOrder() const {
  Uint128 value = 0;
  for (uint8_t b : bytes) value = value << 8 | b;
  return value;
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof(buf)) == nullptr) {
    return "?";  // Cannot happen: the buffer fits every address of both families.
  }
  return buf;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  size_t slash = text.find('/');
  auto ip = IpAddress::parse(text.substr(0, slash));
  if (!ip) return std::nullopt;
  if (slash == std::string_view::npos) return Cidr::host(*ip);

  const unsigned max_len = ip->v6 ? 128 : 32;
  auto len = parseDecimal(text.substr(slash + 1), 3);
  if (!len || *len > max_len) return std::nullopt;

  Cidr cidr{*ip, static_cast<uint8_t>(*len)};
  bool host_bits_set = ip->v6 ? (ip->v6HostOrder() & ~v6Mask(cidr.prefix_len)) != 0
                              : (ip->v4HostOrder() & ~v4Mask(cidr.prefix_len)) != 0;
  if (host_bits_set) return std::nullopt;
  return cidr;
}

bool Cidr::contains(const IpAddress& ip) const {
  if (ip.v6 != base.v6) return false;
  if (ip.v6) {
    Uint128 mask = v6Mask(prefix_len);
    return (ip.v6HostOrder() & mask) == (base.v6HostOrder() & mask);
  }
  uint32_t mask = v4Mask(prefix_len);
  return (ip.v4HostOrder() & mask) == (base.v4HostOrder() & mask);
}

std::string Cidr::toString() const { return base.toString() + "/" + std::to_string(prefix_len); }

std::optional<MacAddress> MacAddress::parse(std::string_view text) {
  // Exactly six two-digit hex groups; the separator is ':' or '-' (Windows style) but must be
  // the same throughout, so "aa:bb-cc:..." is refused as a likely typo.
  if (text.size() != 17) return std::nullopt;
  const char sep = text[2];
  if (sep != ':' && sep != '-') return std::nullopt;
  uint64_t value = 0;
  for (size_t group = 0; group < 6; ++group) {
    size_t pos = group * 3;
    if (group > 0 && text[pos - 1] != sep) return std::nullopt;
    int hi = hexValue(text[pos]);
    int lo = hexValue(text[pos + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    value = value << 8 | static_cast<uint64_t>(hi << 4 | lo);
  }
  return MacAddress{value};
}

MacAddress MacAddress::fromBytes(const uint8_t* six_bytes) {
  uint64_t value = 0;
  for (int i = 0; i < 6; ++i) value = value << 8 | six_bytes[i];
  return MacAddress{value};
}

std::string MacAddress::toString() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(17, ':');
  for (int group = 0; group < 6; ++group) {
    uint8_t b = static_cast<uint8_t>(value >> (8 * (5 - group)));
    out[group * 3] = kHex[b >> 4];
    out[group * 3 + 1] = kHex[b & 0x0f];
  }
  return out;
}

void AddressSet::add(const Cidr& cidr) {
  if (cidr.base.v6) {
    Uint128 lo = cidr.base.v6HostOrder() & v6Mask(cidr.prefix_len);
    v6_.emplace_back(lo, lo | ~v6Mask(cidr.prefix_len));
  } else {
    uint32_t lo = cidr.base.v4HostOrder() & v4Mask(cidr.prefix_len);
    v4_.emplace_back(lo, lo | ~v4Mask(cidr.prefix_len));
  }
}

void AddressSet::addAll(const std::vector<Cidr>& cidrs) {
  const auto v6 = static_cast<size_t>(
      std::count_if(cidrs.begin(), cidrs.end(), [](const Cidr& c) { return c.base.v6; }));
  v4_.reserve(v4_.size() + cidrs.size() - v6);
  v6_.reserve(v6_.size() + v6);
  for (const Cidr& cidr : cidrs) add(cidr);
}

void AddressSet::add(const AddressSet& other) {
  v4_.insert(v4_.end(), other.v4_.begin(), other.v4_.end());
  v6_.insert(v6_.end(), other.v6_.begin(), other.v6_.end());
}

void AddressSet::finalize() {
  mergeIntervals(v4_);
  mergeIntervals(v6_);
}

bool AddressSet::contains(const IpAddress& ip) const {
  // The families live in separate vectors, so an IPv4 address (even one whose bytes equal
  // an IPv4-mapped IPv6 range) never matches an IPv6 interval and vice versa.
  if (ip.v6) return intervalsContain(v6_, ip.v6HostOrder());
  return intervalsContain(v4_, ip.v4HostOrder());
}

namespace {

IpAddress v6FromHostOrder(Uint128 value) {
  IpAddress ip;
  ip.v6 = true;
  for (int i = 15; i >= 0; --i, value >>= 8) ip.bytes[i] = static_cast<uint8_t>(value);
  return ip;
}

// "lo", "lo/len" when the interval is one CIDR block, else "lo-hi".
template <typename T, typename ToIp>
void describeIntervals(const std::vector<std::pair<T, T>>& intervals, int bits, ToIp to_ip,
                       std::string* out) {
  for (const auto& [lo, hi] : intervals) {
    if (!out->empty()) *out += ' ';
    *out += to_ip(lo).toString();
    const T span = hi - lo;
    if (span == 0) continue;
    int ones = 0;  // trailing one bits of the span: a block of 2^ones addresses if aligned
    while (ones < bits && ((span >> ones) & 1) != 0) ++ones;
    const bool block = (ones == bits || (span >> ones) == 0) && (lo & span) == 0;
    *out += block ? "/" + std::to_string(bits - ones) : "-" + to_ip(hi).toString();
  }
}

}  // namespace

std::string AddressSet::describe() const {
  std::string out;
  describeIntervals(
      v4_, 32, [](uint32_t v) { return IpAddress::v4FromHostOrder(v); }, &out);
  describeIntervals(v6_, 128, v6FromHostOrder, &out);
  return out;
}

}  // namespace muzzle
