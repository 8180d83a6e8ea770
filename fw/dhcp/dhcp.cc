#include "fw/dhcp/dhcp.h"

namespace muzzle {
namespace {

constexpr size_t kBootpFixedSize = 236;  // op .. file, RFC 2131 figure 1
constexpr size_t kCookieOffset = kBootpFixedSize;
constexpr uint8_t kCookie[4] = {99, 130, 83, 99};

enum Option : uint8_t {
  kPad = 0,
  kHostname = 12,
  kRequestedIp = 50,
  kLeaseTime = 51,
  kMessageType = 53,
  kParameterRequestList = 55,
  kVendorClass = 60,
  kClientId = 61,
  kMudUrl = 161,
  kEnd = 255,
};

std::string_view asText(std::span<const uint8_t> b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace

std::string_view dhcpErrorName(DhcpError e) {
  switch (e) {
    case DhcpError::kOk: return "ok";
    case DhcpError::kTruncated: return "truncated";
    case DhcpError::kNotBootRequest: return "not_boot_request";
    case DhcpError::kNotBootReply: return "not_boot_reply";
    case DhcpError::kBadHardware: return "bad_hardware";
    case DhcpError::kBadCookie: return "bad_cookie";
    case DhcpError::kOptionOverrun: return "option_overrun";
  }
  return "unknown";
}

namespace {

DhcpError parseBootp(std::span<const uint8_t> p, uint8_t op, DhcpInfo* out) {
  *out = DhcpInfo{};
  if (p.size() < kCookieOffset + sizeof(kCookie)) return DhcpError::kTruncated;
  if (p[0] != op) return op == 1 ? DhcpError::kNotBootRequest : DhcpError::kNotBootReply;
  if (p[1] != 1 || p[2] != 6) return DhcpError::kBadHardware;
  out->client_ip = IpAddress::fromBytes(&p[12], false);
  out->your_ip = IpAddress::fromBytes(&p[16], false);
  out->client_mac = MacAddress::fromBytes(&p[28]);
  for (size_t i = 0; i < sizeof(kCookie); ++i) {
    if (p[kCookieOffset + i] != kCookie[i]) return DhcpError::kBadCookie;
  }
  // Options: code, length, value. Every length is checked before it is used; the walk ends at
  // option 255 or the end of the buffer. Option overload (52) into sname/file is not followed:
  // identifying options are never sent there in practice.
  size_t i = kCookieOffset + sizeof(kCookie);
  out->missing_end = true;
  while (i < p.size()) {
    uint8_t code = p[i];
    if (code == kPad) {
      ++i;
      continue;
    }
    if (code == kEnd) {
      out->missing_end = false;
      break;
    }
    if (i + 1 >= p.size()) return DhcpError::kOptionOverrun;
    size_t len = p[i + 1];
    if (i + 2 + len > p.size()) return DhcpError::kOptionOverrun;
    std::span<const uint8_t> value = p.subspan(i + 2, len);
    switch (code) {
      case kMessageType:
        if (len >= 1) out->message_type = value[0];
        break;
      case kRequestedIp:
        if (len == 4) out->requested_ip = IpAddress::fromBytes(value.data(), false);
        break;
      case kLeaseTime:
        if (len == 4) {
          out->lease_seconds = uint32_t{value[0]} << 24 | uint32_t{value[1]} << 16 |
                               uint32_t{value[2]} << 8 | value[3];
        }
        break;
      case kHostname: out->hostname = asText(value); break;
      case kParameterRequestList: out->parameter_request_list = value; break;
      case kVendorClass: out->vendor_class = asText(value); break;
      case kClientId: out->client_id = value; break;
      case kMudUrl: out->mud_url = asText(value); break;
      default: break;
    }
    i += 2 + len;
  }
  return DhcpError::kOk;
}

}  // namespace

DhcpError parseDhcp(std::span<const uint8_t> p, DhcpInfo* out) { return parseBootp(p, 1, out); }

DhcpError parseDhcpReply(std::span<const uint8_t> p, DhcpInfo* out) { return parseBootp(p, 2, out); }

std::string printableOption(std::string_view raw, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char ch : raw) {
    unsigned char c = static_cast<unsigned char>(ch);
    size_t need = (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : (c == '\\' ? 2 : 4);
    if (out.size() + need > max_bytes) {
      out += "...";
      return out;
    }
    if (need == 1) {
      out += static_cast<char>(c);
    } else if (need == 2) {
      out += "\\\\";
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

std::string parameterListText(std::span<const uint8_t> list) {
  std::string out;
  for (uint8_t code : list) {
    if (!out.empty()) out += ',';
    out += std::to_string(code);
  }
  return out;
}

}  // namespace muzzle
