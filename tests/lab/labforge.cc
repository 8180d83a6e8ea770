// labforge: packets a hostile device forges, for the lab's spoofing tests. It sends through a
// raw socket, so the forged source address is never configured on the sender's interface (the
// sender never answers ARP or ND for it, and the real owner keeps its traffic).
//
//   labforge tcp|udp SRC HOST PORT [--count N]   N TCP SYNs (or UDP datagrams) from SRC
//        result=sent count=3
//
// Checksums are computed (a bad one would make conntrack call the packet invalid, and the
// ruleset would drop it before muzzled could judge it). Exit codes: 0 sent, 64 usage error,
// 70 local failure (no raw socket: needs CAP_NET_RAW).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int kUsage = 64;
constexpr int kLocalFailure = 70;

int usage(const char* why) {
  std::fprintf(stderr, "labforge: %s\nusage: labforge tcp|udp SRC HOST PORT [--count N]\n", why);
  return kUsage;
}

struct Address {
  bool v6 = false;
  uint8_t bytes[16] = {};
};

bool parseAddress(const char* text, Address* out) {
  if (inet_pton(AF_INET, text, out->bytes) == 1) return true;
  out->v6 = true;
  return inet_pton(AF_INET6, text, out->bytes) == 1;
}

// The Internet checksum of the pseudo header and `l4` (RFC 768, RFC 793, RFC 8200 8.1).
uint16_t transportChecksum(const Address& src, const Address& dst, uint8_t proto,
                           const std::vector<uint8_t>& l4) {
  uint32_t sum = 0;
  auto add = [&sum](const uint8_t* p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t{p[i]} << 8 | p[i + 1];
    if (n % 2 != 0) sum += uint32_t{p[n - 1]} << 8;
  };
  const size_t len = src.v6 ? 16 : 4;
  add(src.bytes, len);
  add(dst.bytes, len);
  sum += proto;
  sum += static_cast<uint32_t>(l4.size());
  add(l4.data(), l4.size());
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  const uint16_t folded = static_cast<uint16_t>(~sum);
  return folded == 0 && proto == IPPROTO_UDP ? 0xffff : folded;
}

std::vector<uint8_t> packet(const Address& src, const Address& dst, bool tcp, uint16_t sport,
                            uint16_t dport) {
  std::vector<uint8_t> l4;
  if (tcp) {
    // A SYN with a 64 KB window and no options.
    l4 = {uint8_t(sport >> 8),
          uint8_t(sport),
          uint8_t(dport >> 8),
          uint8_t(dport),
          0x12,
          0x34,
          0x56,
          0x78,
          0,
          0,
          0,
          0,
          0x50,
          0x02,
          0xff,
          0xff,
          0,
          0,
          0,
          0};
  } else {
    const std::string payload = "labforge\n";
    const size_t len = 8 + payload.size();
    l4 = {uint8_t(sport >> 8),
          uint8_t(sport),
          uint8_t(dport >> 8),
          uint8_t(dport),
          uint8_t(len >> 8),
          uint8_t(len),
          0,
          0};
    l4.insert(l4.end(), payload.begin(), payload.end());
  }
  const uint8_t proto = tcp ? IPPROTO_TCP : IPPROTO_UDP;
  const uint16_t sum = transportChecksum(src, dst, proto, l4);
  l4[tcp ? 16 : 6] = static_cast<uint8_t>(sum >> 8);
  l4[tcp ? 17 : 7] = static_cast<uint8_t>(sum);
  std::vector<uint8_t> out;
  if (!src.v6) {
    // The kernel fills in the IPv4 header checksum and the id of an IP_HDRINCL packet.
    const size_t total = 20 + l4.size();
    out = {0x45, 0, uint8_t(total >> 8), uint8_t(total), 0, 0, 0x40, 0, 64, proto, 0, 0};
    out.insert(out.end(), src.bytes, src.bytes + 4);
    out.insert(out.end(), dst.bytes, dst.bytes + 4);
  } else {
    out = {0x60, 0, 0, 0, uint8_t(l4.size() >> 8), uint8_t(l4.size()), proto, 64};
    out.insert(out.end(), src.bytes, src.bytes + 16);
    out.insert(out.end(), dst.bytes, dst.bytes + 16);
  }
  out.insert(out.end(), l4.begin(), l4.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) return usage("missing arguments");
  const std::string mode = argv[1];
  if (mode != "tcp" && mode != "udp") return usage("the first argument is tcp or udp");
  Address src, dst;
  if (!parseAddress(argv[2], &src) || !parseAddress(argv[3], &dst) || src.v6 != dst.v6) {
    return usage("SRC and HOST must be numeric addresses of one family");
  }
  const long port = std::strtol(argv[4], nullptr, 10);
  if (port < 1 || port > 65535) return usage("PORT must be 1..65535");
  long count = 1;
  for (int i = 5; i < argc; ++i) {
    if (std::strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
      count = std::strtol(argv[++i], nullptr, 10);
    } else {
      return usage("unknown option");
    }
  }
  if (count < 1 || count > 1000) return usage("--count must be 1..1000");

  // IPPROTO_RAW: we write the IP header ourselves (IP_HDRINCL, and IPV6_HDRINCL since Linux 4.5).
  const int fd = socket(src.v6 ? AF_INET6 : AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) {
    std::fprintf(stderr, "labforge: raw socket: %s\n", std::strerror(errno));
    return kLocalFailure;
  }
  sockaddr_storage to{};
  socklen_t to_len;
  if (src.v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&to);
    a->sin6_family = AF_INET6;
    std::memcpy(&a->sin6_addr, dst.bytes, 16);
    to_len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&to);
    a->sin_family = AF_INET;
    std::memcpy(&a->sin_addr, dst.bytes, 4);
    to_len = sizeof(sockaddr_in);
  }
  long sent = 0;
  for (long i = 0; i < count; ++i) {
    // A new source port each time: every packet is a new flow, judged on its own.
    const auto bytes = packet(src, dst, mode == "tcp", static_cast<uint16_t>(41000 + i),
                              static_cast<uint16_t>(port));
    if (sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), to_len) ==
        static_cast<ssize_t>(bytes.size())) {
      ++sent;
    } else {
      std::fprintf(stderr, "labforge: sendto: %s\n", std::strerror(errno));
    }
  }
  close(fd);
  std::printf("result=%s count=%ld\n", sent == count ? "sent" : "failed", sent);
  return sent == count ? 0 : kLocalFailure;
}
