#include "mgmt/server/listen_address.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>

#include "fw/common/net.h"

namespace muzzle {
namespace {

Status listenError(const std::string& field, const std::string& listen, const std::string& why) {
  return Status::error(StatusCode::kInvalidArgument, field + ": \"" + listen + "\" " + why);
}

// A numeric address as the C library reads it (every spelling getaddrinfo accepts, no name
// lookups), with an IPv4-mapped IPv6 address reduced to its IPv4 address. `scope` gets an IPv6
// zone ("%eth0") when there is one.
std::optional<IpAddress> numericAddress(const std::string& host, std::string* scope = nullptr) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  addrinfo* list = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &list) != 0 || list == nullptr)
    return std::nullopt;
  std::optional<IpAddress> ip;
  if (list->ai_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(list->ai_addr);
    ip = IpAddress::fromBytes(reinterpret_cast<const uint8_t*>(&sin->sin_addr), false);
  } else if (list->ai_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(list->ai_addr);
    const auto* b = reinterpret_cast<const uint8_t*>(&sin6->sin6_addr);
    ip = IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) ? IpAddress::fromBytes(b + 12, false)
                                                : IpAddress::fromBytes(b, true);
    char name[IF_NAMESIZE] = {0};
    if (scope != nullptr && sin6->sin6_scope_id != 0 &&
        ::if_indextoname(sin6->sin6_scope_id, name) != nullptr) {
      *scope = std::string("%") + name;
    } else if (scope != nullptr && sin6->sin6_scope_id != 0) {
      *scope = "%" + std::to_string(sin6->sin6_scope_id);
    }
  }
  ::freeaddrinfo(list);
  return ip;
}

}  // namespace

Result<std::string> checkListenAddress(const std::string& listen,
                                       const std::vector<std::string>& segment_addresses,
                                       const std::string& field) {
  // "host:port" or "[v6]:port", split the way gRPC splits it; anything else is refused rather
  // than guessed at (gRPC would take a bare IPv6 address as a host on port 443).
  std::string host, port;
  if (!listen.empty() && listen[0] == '[') {
    const size_t close = listen.find(']');
    if (close == std::string::npos || listen.compare(close + 1, 1, ":") != 0) {
      return listenError(field, listen, "is not [IPv6]:port");
    }
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    const size_t colon = listen.find(':');
    if (colon == std::string::npos || listen.find(':', colon + 1) != std::string::npos) {
      return listenError(field, listen,
                         "is not address:port (an IPv6 address goes in brackets: [fd00::1]:7443)");
    }
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535) {
    return listenError(field, listen, "has no port number (0-65535) after the colon");
  }
  std::string scope;
  auto ip = numericAddress(host, &scope);
  if (!ip) {
    return listenError(field, listen,
                       "is not address:port with a literal IP (names are refused: the address "
                       "decides which interface listens)");
  }
  if (ip->isUnspecified()) {
    return listenError(field, listen, "listens on every interface (it means " + ip->toString() +
                                   "), managed segments included; give the address of a management "
                                   "interface");
  }
  for (const auto& seg : segment_addresses) {
    auto s = numericAddress(seg);
    if (s && *s == *ip) {
      return listenError(field, listen,
                         "is " + ip->toString() +
                             ", an address of a managed segment's "
                             "interface; management never listens where the IoT devices are");
    }
  }
  return ip->v6 ? "[" + ip->toString() + scope + "]:" + std::to_string(std::stoul(port))
                : ip->toString() + ":" + std::to_string(std::stoul(port));
}

std::vector<std::string> interfaceAddresses(const std::vector<std::string>& ifnames) {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr) continue;
    bool managed = false;
    for (const auto& n : ifnames) managed = managed || n == a->ifa_name;
    if (!managed) continue;
    char buf[INET6_ADDRSTRLEN] = {0};
    if (a->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof(buf));
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr, buf,
                sizeof(buf));
    } else {
      continue;
    }
    out.emplace_back(buf);
  }
  freeifaddrs(list);
  return out;
}

}  // namespace muzzle
