#include "fw/mud/mud_fetch.h"

#include <algorithm>
#include <string>

#include "fw/common/excerpt.h"

namespace muzzle {

namespace {

std::string shownUrl(std::string_view url) { return "\"" + excerpt(url, 255) + "\""; }

}  // namespace

MudFailure notHttpsFailure(std::string_view url) {
  return MudFailure{MudRefusal::kNotHttps,
                    "MUD URL " + shownUrl(url) +
                        " is not https://: Muzzle fetches MUD files over HTTPS only"};
}

MudFailure tooLargeFailure(std::string_view url, size_t max_bytes) {
  return MudFailure{MudRefusal::kTooLarge, "MUD fetch of " + shownUrl(url) + ": over " +
                                               std::to_string(max_bytes) + " bytes"};
}

bool isHttpsUrl(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (url.size() <= kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = url[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return false;
  }
  const char host_start = url[kScheme.size()];
  return host_start != '/' && host_start != '?' && host_start != '#';
}

namespace {

bool publicV4(const uint8_t* a) {
  const uint32_t v = uint32_t{a[0]} << 24 | uint32_t{a[1]} << 16 | uint32_t{a[2]} << 8 | a[3];
  struct Net {
    uint32_t base;
    int bits;
  };
  static constexpr Net kRefused[] = {
      {0x00000000, 8},   // "this network", 0.0.0.0
      {0x0a000000, 8},   // RFC 1918
      {0x64400000, 10},  // shared address space (carrier-grade NAT)
      {0x7f000000, 8},   // loopback
      {0xa9fe0000, 16},  // link-local
      {0xac100000, 12},  // RFC 1918
      {0xc0000000, 24},  // IETF protocol assignments
      {0xc0a80000, 16},  // RFC 1918
      {0xc6120000, 15},  // benchmarking: the lab's segments
      {0xe0000000, 4},   // multicast
      {0xf0000000, 4},   // reserved, broadcast
  };
  for (const Net& n : kRefused) {
    if ((v >> (32 - n.bits)) == (n.base >> (32 - n.bits))) return false;
  }
  return true;
}

}  // namespace

bool isPublicAddress(const uint8_t* a, size_t length) {
  if (length == 4) return publicV4(a);
  if (length != 16) return false;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static constexpr uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::equal(kMapped, kMapped + 12, a) || std::equal(kNat64, kNat64 + 12, a)) {
    return publicV4(a + 12);
  }
  bool zero_prefix = true;  // ::, ::1 and the old IPv4-compatible ::a.b.c.d
  for (int i = 0; i < 12; ++i) zero_prefix = zero_prefix && a[i] == 0;
  if (zero_prefix) return false;
  if ((a[0] & 0xfe) == 0xfc) return false;                  // unique local fc00::/7
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return false;  // link-local fe80::/10
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) return false;  // old site-local fec0::/10
  if (a[0] == 0xff) return false;                           // multicast
  return true;
}

}  // namespace muzzle
