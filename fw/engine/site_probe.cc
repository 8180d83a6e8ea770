#include "fw/engine/site_probe.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <ctime>
#include <vector>

namespace muzzle {
namespace {

std::optional<IpAddress> fromSockaddr(const sockaddr* sa) {
  if (sa == nullptr) return std::nullopt;
  if (sa->sa_family == AF_INET) {
    return IpAddress::fromBytes(reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(sa)->sin_addr), false);
  }
  if (sa->sa_family == AF_INET6) {
    return IpAddress::fromBytes(reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr), true);
  }
  return std::nullopt;
}

int prefixLength(const sockaddr* mask, bool v6) {
  if (mask == nullptr) return v6 ? 128 : 32;
  auto* bytes = v6 ? reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr)
                   : reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(mask)->sin_addr);
  int bits = 0;
  for (int i = 0; i < (v6 ? 16 : 4); ++i) bits += __builtin_popcount(bytes[i]);
  return bits;
}

Cidr networkOf(const IpAddress& ip, int prefix) {
  Cidr c{ip, static_cast<uint8_t>(prefix)};
  for (int bit = prefix; bit < (ip.v6 ? 128 : 32); ++bit) c.base.bytes[bit / 8] &= ~(0x80 >> (bit % 8));
  return c;
}

bool readFlag(const std::string& path) {
  std::ifstream in(path);
  int value = 0;
  return in >> value && value != 0;
}

class SystemHostInfo : public HostInfo {
 public:
  explicit SystemHostInfo(std::unique_ptr<KernelQueueStatsFile> counters)
      : counters_(std::move(counters)) {}

  Result<std::vector<KernelQueueStats>> kernelQueues(uint16_t first, uint16_t count) override {
    return counters_ ? counters_->read(first, count) : readKernelQueueStats(first, count);
  }

  Result<ConntrackTableStats> conntrackTable() override { return readConntrackTable(); }

  Result<SiteFacts> siteFacts(const std::vector<DaemonSegment>& segments) override {
    SiteFacts facts;
    for (const auto& seg : segments) {
      SegmentFacts f;
      f.name = seg.name;
      f.ifname = seg.ifname;
      f.ifindex = if_nametoindex(seg.ifname.c_str());
      if (f.ifindex == 0) {
        return Status::error("segment " + seg.name + ": interface " + seg.ifname +
                             " does not exist; create it or fix `segments` in the config");
      }
      f.is_bridge = access(("/sys/class/net/" + seg.ifname + "/bridge").c_str(), F_OK) == 0;
      // Per network namespace; both families must pass bridged traffic to our hooks.
      f.bridged_traffic_filtered = readFlag("/proc/sys/net/bridge/bridge-nf-call-iptables") &&
                                   readFlag("/proc/sys/net/bridge/bridge-nf-call-ip6tables");
      facts.segments.push_back(std::move(f));
    }
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return Status::error(std::string("reading interface addresses: ") + std::strerror(errno));
    for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
      auto ip = fromSockaddr(a->ifa_addr);
      if (!ip) continue;
      facts.box_addresses.push_back(*ip);
      for (auto& f : facts.segments) {
        if (f.ifname != a->ifa_name) continue;
        f.gateway_addresses.push_back(*ip);
        f.subnets.push_back(networkOf(*ip, prefixLength(a->ifa_netmask, ip->v6)));
      }
    }
    freeifaddrs(list);
    return facts;
  }

  std::vector<NeighbourEntry> neighbours() override {
    std::vector<NeighbourEntry> out;
    mnl_socket* nl = mnl_socket_open(NETLINK_ROUTE);
    if (nl == nullptr) return out;
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
      mnl_socket_close(nl);
      return out;
    }
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = RTM_GETNEIGH;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = static_cast<uint32_t>(time(nullptr));
    auto* ndm = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
    ndm->ndm_family = AF_UNSPEC;
    uint32_t seq = nlh->nlmsg_seq;
    uint32_t portid = mnl_socket_get_portid(nl);
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) >= 0) {
      for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
        if (n <= 0) break;
        int rc = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid, &SystemHostInfo::onNeighbour, &out);
        if (rc <= MNL_CB_STOP) break;
      }
    }
    mnl_socket_close(nl);
    return out;
  }

 private:
  static int onAttribute(const nlattr* attr, void* data) {
    auto** tb = static_cast<const nlattr**>(data);
    uint16_t type = mnl_attr_get_type(attr);
    if (type <= NDA_MAX) tb[type] = attr;
    return MNL_CB_OK;
  }

  static int onNeighbour(const nlmsghdr* nlh, void* data) {
    auto* out = static_cast<std::vector<NeighbourEntry>*>(data);
    auto* ndm = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(nlh));
    if (ndm->ndm_family != AF_INET && ndm->ndm_family != AF_INET6) return MNL_CB_OK;
    if (ndm->ndm_state & (NUD_FAILED | NUD_INCOMPLETE | NUD_NOARP)) return MNL_CB_OK;
    const nlattr* tb[NDA_MAX + 1] = {};
    mnl_attr_parse(nlh, sizeof(ndmsg), &SystemHostInfo::onAttribute, tb);
    const nlattr* dst = tb[NDA_DST];
    const nlattr* lladdr = tb[NDA_LLADDR];
    bool v6 = ndm->ndm_family == AF_INET6;
    if (dst == nullptr || lladdr == nullptr || mnl_attr_get_payload_len(lladdr) != 6 ||
        mnl_attr_get_payload_len(dst) != (v6 ? 16u : 4u)) {
      return MNL_CB_OK;
    }
    NeighbourEntry e;
    e.ifindex = static_cast<uint32_t>(ndm->ndm_ifindex);
    e.ip = IpAddress::fromBytes(static_cast<const uint8_t*>(mnl_attr_get_payload(dst)), v6);
    e.mac = MacAddress::fromBytes(static_cast<const uint8_t*>(mnl_attr_get_payload(lladdr)));
    e.confirmed = (ndm->ndm_state & (NUD_REACHABLE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT)) != 0;
    out->push_back(e);
    return MNL_CB_OK;
  }

  std::unique_ptr<KernelQueueStatsFile> counters_;
};

}  // namespace

std::unique_ptr<HostInfo> makeSystemHostInfo(std::unique_ptr<KernelQueueStatsFile> queue_counters) {
  return std::make_unique<SystemHostInfo>(std::move(queue_counters));
}

}  // namespace muzzle
