#include "fw/engine/setup_check.h"

#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "fw/common/excerpt.h"

namespace muzzle {
namespace {

int prefixOf(const sockaddr* mask) {
  if (mask == nullptr) return -1;
  const uint8_t* bytes = nullptr;
  size_t len = 0;
  if (mask->sa_family == AF_INET) {
    bytes = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(mask)->sin_addr);
    len = 4;
  } else if (mask->sa_family == AF_INET6) {
    bytes =
        reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr);
    len = 16;
  } else {
    return -1;
  }
  int bits = 0;
  for (size_t i = 0; i < len; ++i) bits += __builtin_popcount(bytes[i]);
  return bits;
}

// Interfaces a default route leaves through, from the routing tables as /proc shows them to
// this process (/proc/self/net: also under the unit's ProcSubset=pid).
std::vector<std::string> defaultRouteInterfaces() {
  std::vector<std::string> out;
  std::ifstream v4("/proc/self/net/route");
  std::string line;
  std::getline(v4, line);  // the header
  while (std::getline(v4, line)) {
    std::istringstream in(line);
    std::string ifname, dest, gateway, flags, refcnt, use, metric, mask;
    if (in >> ifname >> dest >> gateway >> flags >> refcnt >> use >> metric >> mask &&
        dest == "00000000" && mask == "00000000") {
      out.push_back(ifname);
    }
  }
  std::ifstream v6("/proc/self/net/ipv6_route");
  while (std::getline(v6, line)) {
    std::istringstream in(line);
    std::string dest, dest_len, src, src_len, next, metric, refcnt, use, flags, ifname;
    if (in >> dest >> dest_len >> src >> src_len >> next >> metric >> refcnt >> use >> flags >>
            ifname &&
        dest == std::string(32, '0') && dest_len == "00" && ifname != "lo") {
      out.push_back(ifname);
    }
  }
  return out;
}

HostInterface::Kind kindOf(const std::string& name, unsigned flags) {
  if (flags & IFF_LOOPBACK) return HostInterface::Kind::kLoopback;
  std::error_code ec;
  const std::filesystem::path sys = "/sys/class/net/" + name;
  if (std::filesystem::exists(sys / "bridge", ec)) return HostInterface::Kind::kBridge;
  // Software interfaces (veth, VLAN, tun, dummy) live under /sys/devices/virtual.
  const auto real = std::filesystem::canonical(sys, ec);
  if (!ec && real.string().find("/devices/virtual/") != std::string::npos) {
    return HostInterface::Kind::kVirtual;
  }
  return HostInterface::Kind::kEthernet;
}

std::string listOfNames(const std::vector<HostInterface>& host) {
  std::string out;
  for (const HostInterface& h : host) out += (out.empty() ? "" : ", ") + h.name;
  return out.empty() ? "none" : out;
}

bool validSegmentName(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
  });
}

// The host part of "198.18.0.1:7443" / "[fd00::1]:7443".
std::optional<IpAddress> hostOf(const std::string& listen) {
  std::string host = listen;
  if (!host.empty() && host[0] == '[') {
    const size_t end = host.find(']');
    if (end == std::string::npos) return std::nullopt;
    host = host.substr(1, end - 1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string::npos) {
    host.resize(colon);
  }
  return IpAddress::parse(host);
}

// "198.18.0.1/24": the address, and whether `other` lies in its subnet.
std::optional<IpAddress> addressOf(const std::string& with_prefix) {
  return IpAddress::parse(std::string_view(with_prefix).substr(0, with_prefix.find('/')));
}

bool sameSubnet(const std::string& with_prefix, const IpAddress& other) {
  auto ip = addressOf(with_prefix);
  if (!ip || ip->v6 != other.v6) return false;
  const size_t slash = with_prefix.find('/');
  int prefix = ip->v6 ? 128 : 32;
  if (slash != std::string::npos) {
    prefix = std::min(prefix, std::max(0, std::atoi(with_prefix.c_str() + slash + 1)));
  }
  for (int bit = 0; bit < prefix; ++bit) {
    const size_t byte = static_cast<size_t>(bit / 8);
    const uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
    if ((ip->bytes[byte] & mask) != (other.bytes[byte] & mask)) return false;
  }
  return true;
}

}  // namespace

const char* kindName(HostInterface::Kind kind) {
  switch (kind) {
    case HostInterface::Kind::kEthernet: return "ethernet";
    case HostInterface::Kind::kBridge: return "bridge";
    case HostInterface::Kind::kLoopback: return "loopback";
    case HostInterface::Kind::kVirtual: return "virtual";
  }
  return "ethernet";
}

std::vector<HostInterface> listHostInterfaces() {
  std::map<std::string, HostInterface> by_name;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return {};
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_name == nullptr) continue;
    if (by_name.size() >= kMaxListedInterfaces && !by_name.count(a->ifa_name)) continue;
    HostInterface& h = by_name[a->ifa_name];
    h.name = a->ifa_name;
    h.up = (a->ifa_flags & IFF_UP) && (a->ifa_flags & IFF_RUNNING);
    if (a->ifa_addr == nullptr) continue;
    if (a->ifa_addr->sa_family == AF_PACKET) {
      const auto* ll = reinterpret_cast<const sockaddr_ll*>(a->ifa_addr);
      if (ll->sll_halen == 6) {
        char mac[18];
        std::snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", ll->sll_addr[0],
                      ll->sll_addr[1], ll->sll_addr[2], ll->sll_addr[3], ll->sll_addr[4],
                      ll->sll_addr[5]);
        if (std::string(mac) != "00:00:00:00:00:00") h.mac = mac;
      }
      h.kind = kindOf(h.name, a->ifa_flags);
    } else if (a->ifa_addr->sa_family == AF_INET || a->ifa_addr->sa_family == AF_INET6) {
      const bool v6 = a->ifa_addr->sa_family == AF_INET6;
      const void* raw =
          v6 ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr)
             : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr);
      IpAddress ip = IpAddress::fromBytes(static_cast<const uint8_t*>(raw), v6);
      const int prefix = prefixOf(a->ifa_netmask);
      h.addresses.push_back(ip.toString() + (prefix >= 0 ? "/" + std::to_string(prefix) : ""));
      if (a->ifa_flags & IFF_LOOPBACK) h.kind = HostInterface::Kind::kLoopback;
    }
  }
  freeifaddrs(list);
  for (const std::string& name : defaultRouteInterfaces()) {
    if (auto it = by_name.find(name); it != by_name.end()) it->second.default_route = true;
  }
  std::vector<HostInterface> out;
  for (auto& [name, h] : by_name) out.push_back(std::move(h));
  return out;
}

Result<SetupChecked> checkSetup(const SetupAsked& asked, const std::vector<HostInterface>& host,
                                const std::vector<ManagementListener>& listeners,
                                std::optional<IpAddress> caller) {
  std::vector<std::string> errors;
  SetupChecked out;
  auto find = [&host](const std::string& name) -> const HostInterface* {
    for (const HostInterface& h : host)
      if (h.name == name) return &h;
    return nullptr;
  };
  // The interface must exist and not be loopback; returns it, or null after an error.
  auto usable = [&](const std::string& field, const std::string& ifname) -> const HostInterface* {
    const HostInterface* h = find(ifname);
    if (h == nullptr) {
      errors.push_back(field + ": " + quotedExcerpt(ifname) +
                       " is not an interface of this box (it has: " + listOfNames(host) +
                       "; `muzzlectl setup` lists them)");
      return nullptr;
    }
    if (h->kind == HostInterface::Kind::kLoopback) {
      errors.push_back(field + ": " + ifname +
                       " is the loopback interface; no device sits behind it (name the "
                       "interface your IoT devices are on)");
      return nullptr;
    }
    return h;
  };

  if (asked.segments.empty()) {
    errors.push_back("segments: none given; name the interface your IoT devices are on "
                     "(muzzlectl setup --segment IFACE --uplink IFACE)");
  }
  std::map<std::string, size_t> seg_ifnames;
  std::map<std::string, size_t> seg_names;
  for (size_t i = 0; i < asked.segments.size(); ++i) {
    const std::string field = "segments[" + std::to_string(i) + "]";
    DaemonSegment seg = asked.segments[i];
    if (seg.name.empty()) seg.name = seg.ifname;
    out.segments.push_back(seg);
    if (!validSegmentName(seg.name)) {
      errors.push_back(field + ".name: " + quotedExcerpt(seg.name) +
                       " is not a segment name (1 to 32 of A-Z a-z 0-9 _ . -)");
    } else if (auto [it, fresh] = seg_names.emplace(seg.name, i); !fresh) {
      errors.push_back(field + ".name: " + quotedExcerpt(seg.name) + " is already segments[" +
                       std::to_string(it->second) + "]'s name");
    }
    if (auto [it, fresh] = seg_ifnames.emplace(seg.ifname, i); !fresh) {
      errors.push_back(field + ": " + quotedExcerpt(seg.ifname) + " is already segments[" +
                       std::to_string(it->second) + "]");
      continue;
    }
    const HostInterface* h = usable(field, seg.ifname);
    if (h == nullptr) continue;
    for (const ManagementListener& l : listeners) {
      auto ip = hostOf(l.listen);
      if (!ip) continue;
      for (const std::string& a : h->addresses) {
        if (addressOf(a) == ip) {
          errors.push_back(field + ": " + seg.ifname + " has " + ip->toString() + ", where " +
                           l.field + " (" + l.listen +
                           ") listens; management never listens on a managed segment (choose "
                           "another interface, or move the listener in muzzled.yaml)");
        }
      }
    }
    if (caller) {
      for (const std::string& a : h->addresses) {
        if (sameSubnet(a, *caller)) {
          errors.push_back(field + ": your own connection (from " + caller->toString() +
                           ") arrives through " + seg.ifname +
                           "; managing it would cut you off (set up from another network, or "
                           "over the box's local socket)");
          break;
        }
      }
    }
    if (h->default_route) {
      out.warnings.push_back(field + ": " + seg.ifname +
                             " holds the box's default route; the box's own traffic out of it "
                             "is not judged, but devices behind it are, and an uplink is usually "
                             "the interface with the default route");
    }
    if (!h->up) {
      out.warnings.push_back(field + ": " + seg.ifname +
                             " is down (no link); devices behind it are judged once it comes up");
    }
  }
  std::map<std::string, size_t> uplinks;
  for (size_t i = 0; i < asked.uplinks.size(); ++i) {
    const std::string field = "uplinks[" + std::to_string(i) + "]";
    const std::string& ifname = asked.uplinks[i];
    out.uplinks.push_back(ifname);
    if (auto seg = seg_ifnames.find(ifname); seg != seg_ifnames.end()) {
      errors.push_back(field + ": " + quotedExcerpt(ifname) + " is also segments[" +
                       std::to_string(seg->second) +
                       "]; the uplink leads to the rest of the network and is never a managed "
                       "segment");
      continue;
    }
    if (auto [it, fresh] = uplinks.emplace(ifname, i); !fresh) {
      errors.push_back(field + ": " + quotedExcerpt(ifname) + " is already uplinks[" +
                       std::to_string(it->second) + "]");
      continue;
    }
    usable(field, ifname);
  }
  if (asked.uplinks.empty() && !asked.segments.empty()) {
    out.warnings.push_back("uplinks: none named; name the interface towards the rest of the "
                           "network (--uplink) so it is never taken for a segment later");
  }
  if (!errors.empty()) {
    std::string joined;
    for (const std::string& e : errors) joined += (joined.empty() ? "" : "\n") + e;
    return Status::error(StatusCode::kInvalidArgument, joined);
  }
  return out;
}

}  // namespace muzzle
