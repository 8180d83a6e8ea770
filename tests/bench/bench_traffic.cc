// bench_traffic: the benchmark's traffic generator and sink in one process. It opens its
// receiving socket in the server's network namespace, then moves into the client's namespace
// and sends from there, so both ends share one clock and one loop: the one-way time of each
// datagram (a CLOCK_MONOTONIC stamp it carries) is exact, and the sender knows how many packets
// are still in flight without any back channel.
//
//   bench_traffic udp --from NS --to NS --ifname eth0 --dst-mac MAC --src-mac MAC --src-ip IP
//                     [--devices 1] [--dst-net 203.0.113.0] [--port 9000] [--flows N]
//                     [--window W] [--seconds S] [--tuple-base K] [--single-flow]
//   bench_traffic tcp --from NS --to NS [--dst-net 203.0.113.0] [--port 9000]
//                     [--concurrency C] [--seconds S] [--flows N]
//
// udp: Ethernet frames from an AF_PACKET socket on --ifname (so each datagram may come from
// another device: --devices N walks MAC and IPv4 source from the given bases). Every datagram is
// a new flow (source port and destination host walk a 16-million-tuple sequence from
// --tuple-base) unless --single-flow. At most --window datagrams are in flight; one that has not
// arrived 1 s after the last arrival is written off (lost, or late if it still comes). tcp: --concurrency non-blocking
// connects at a time to the sink's listener; each closes with a reset once connected (no
// TIME_WAIT), and its connect time is the latency.
//
// Sends only what it is told to, only from inside the namespaces it is given; the bench script
// gives it lab namespaces and lab addresses. Bounded by --flows and --seconds.
// Prints one JSON object: sent, received, lost, late, seconds, rate, p50_us, p99_us, max_us.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <vector>

namespace {

constexpr uint64_t kMagic = 0x6d757a7a6c656231;  // "muzzleb1": our datagrams, not stray ones
constexpr uint32_t kHosts = 254;                  // destination hosts .1 .. .254 of --dst-net
constexpr uint32_t kPorts = 64000;                // source ports 1024 .. 65023
// No arrival for this long: the window is written off so sending goes on (a stalled gateway, e.g.
// during a policy reload, must not stop the run). Written-off datagrams that arrive later, up to
// kGraceNs after sending ends, count as late, not lost: lost means never arrived.
constexpr int64_t kStallNs = 1'000'000'000;
constexpr int64_t kGraceNs = 1'500'000'000;
constexpr int kBurst = 64;

int64_t nowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_traffic: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(70);
}

void enterNamespace(const std::string& name) {
  const std::string path = "/run/netns/" + name;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("open " + path);
  if (setns(fd, CLONE_NEWNET) < 0) die("setns " + name);
  close(fd);
}

struct Args {
  std::map<std::string, std::string> values;
  std::string get(const std::string& key, const std::string& fallback = "") const {
    auto it = values.find(key);
    if (it != values.end()) return it->second;
    if (fallback.empty()) {
      std::fprintf(stderr, "bench_traffic: --%s is required\n", key.c_str());
      std::exit(64);
    }
    return fallback;
  }
  long num(const std::string& key, long fallback) const {
    auto it = values.find(key);
    return it == values.end() ? fallback : std::strtol(it->second.c_str(), nullptr, 0);
  }
  bool flag(const std::string& key) const { return values.count(key) != 0; }
};

void parseMac(const std::string& text, uint8_t out[6]) {
  unsigned b[6];
  if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) {
    std::fprintf(stderr, "bench_traffic: bad MAC %s\n", text.c_str());
    std::exit(64);
  }
  for (int i = 0; i < 6; ++i) out[i] = static_cast<uint8_t>(b[i]);
}

uint32_t parseIp(const std::string& text) {
  in_addr a;
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) {
    std::fprintf(stderr, "bench_traffic: bad IPv4 address %s\n", text.c_str());
    std::exit(64);
  }
  return ntohl(a.s_addr);
}

// Latency samples and the JSON line.
struct Stats {
  uint64_t sent = 0, received = 0, lost = 0, late = 0;
  int64_t first_send = 0, last_receive = 0;
  std::vector<uint32_t> latency_ns;

  void print() {
    double seconds = last_receive > first_send ? (last_receive - first_send) / 1e9 : 0;
    std::sort(latency_ns.begin(), latency_ns.end());
    auto pct = [&](double p) -> double {
      if (latency_ns.empty()) return 0;
      size_t i = std::min(latency_ns.size() - 1, static_cast<size_t>(p * latency_ns.size()));
      return latency_ns[i] / 1000.0;
    };
    std::printf(
        "{\"sent\":%llu,\"received\":%llu,\"lost\":%llu,\"late\":%llu,\"seconds\":%.3f,"
        "\"rate\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n",
        static_cast<unsigned long long>(sent), static_cast<unsigned long long>(received),
        static_cast<unsigned long long>(lost - late), static_cast<unsigned long long>(late), seconds,
        seconds > 0 ? received / seconds : 0.0, pct(0.50), pct(0.99),
        latency_ns.empty() ? 0.0 : latency_ns.back() / 1000.0);
  }
};

struct Payload {
  uint64_t magic;
  uint64_t seq;
  int64_t sent_ns;
};

uint16_t ipChecksum(const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (p[i] << 8) | p[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(static_cast<uint16_t>(~sum));
}

int runUdp(const Args& a) {
  const uint16_t port = static_cast<uint16_t>(a.num("port", 9000));
  const uint64_t max_flows = static_cast<uint64_t>(a.num("flows", 1'000'000));
  const uint64_t window = static_cast<uint64_t>(std::max(1L, a.num("window", 256)));
  const int64_t send_ns = a.num("seconds", 3) * 1'000'000'000L;
  const uint64_t tuple_base = static_cast<uint64_t>(a.num("tuple-base", 0));
  const uint32_t devices = static_cast<uint32_t>(std::max(1L, a.num("devices", 1)));
  const bool single_flow = a.flag("single-flow");
  const uint32_t dst_net = parseIp(a.get("dst-net", "203.0.113.0"));
  const uint32_t src_ip = parseIp(a.get("src-ip"));
  uint8_t dst_mac[6], src_mac[6];
  parseMac(a.get("dst-mac"), dst_mac);
  parseMac(a.get("src-mac"), src_mac);

  // The sink, in the server's namespace.
  enterNamespace(a.get("to"));
  int rx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (rx < 0) die("udp socket");
  int size = 8 << 20;
  setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
  sockaddr_in bind_addr{};
  bind_addr.sin_family = AF_INET;
  bind_addr.sin_port = htons(port);
  if (bind(rx, reinterpret_cast<sockaddr*>(&bind_addr), sizeof(bind_addr)) < 0) die("bind sink");

  // The sender, in the client's namespace, for the rest of the run.
  enterNamespace(a.get("from"));
  int tx = socket(AF_PACKET, SOCK_RAW, 0);  // protocol 0: send only, never receive
  if (tx < 0) die("packet socket");
  sockaddr_ll ll{};
  ll.sll_family = AF_PACKET;
  ll.sll_ifindex = static_cast<int>(if_nametoindex(a.get("ifname").c_str()));
  ll.sll_halen = 6;
  std::memcpy(ll.sll_addr, dst_mac, 6);
  if (ll.sll_ifindex == 0) die("interface " + a.get("ifname"));

  constexpr size_t kFrame = sizeof(ether_header) + sizeof(iphdr) + sizeof(udphdr) + sizeof(Payload);
  std::vector<uint8_t> frames(kBurst * kFrame);
  std::vector<iovec> iov(kBurst);
  std::vector<mmsghdr> out(kBurst);
  auto build = [&](uint8_t* f, uint64_t seq) {
    const uint64_t k = single_flow ? tuple_base : tuple_base + seq;
    const uint32_t device = static_cast<uint32_t>(seq % devices);
    auto* eth = reinterpret_cast<ether_header*>(f);
    std::memcpy(eth->ether_dhost, dst_mac, 6);
    std::memcpy(eth->ether_shost, src_mac, 6);
    // Device i: the base MAC and IPv4 address plus i (low three bytes / whole address).
    uint32_t low = (uint32_t{src_mac[3]} << 16 | uint32_t{src_mac[4]} << 8 | src_mac[5]) + device;
    eth->ether_shost[3] = static_cast<uint8_t>(low >> 16);
    eth->ether_shost[4] = static_cast<uint8_t>(low >> 8);
    eth->ether_shost[5] = static_cast<uint8_t>(low);
    eth->ether_type = htons(ETHERTYPE_IP);
    auto* ip = reinterpret_cast<iphdr*>(f + sizeof(ether_header));
    *ip = iphdr{};
    ip->version = 4;
    ip->ihl = 5;
    ip->ttl = 64;
    ip->protocol = IPPROTO_UDP;
    ip->tot_len = htons(static_cast<uint16_t>(kFrame - sizeof(ether_header)));
    ip->id = htons(static_cast<uint16_t>(seq));
    ip->saddr = htonl(src_ip + device);
    ip->daddr = htonl(dst_net + 1 + static_cast<uint32_t>(k % kHosts));
    ip->check = ipChecksum(ip, sizeof(iphdr));
    auto* udp = reinterpret_cast<udphdr*>(f + sizeof(ether_header) + sizeof(iphdr));
    udp->source = htons(static_cast<uint16_t>(1024 + (k / kHosts) % kPorts));
    udp->dest = htons(port);
    udp->len = htons(static_cast<uint16_t>(sizeof(udphdr) + sizeof(Payload)));
    udp->check = 0;  // optional in IPv4
    Payload p{kMagic, seq, nowNs()};
    std::memcpy(f + kFrame - sizeof(Payload), &p, sizeof(p));
  };

  Stats st;
  std::vector<uint8_t> state(max_flows, 0);  // 1 arrived, 2 counted lost
  uint64_t low_water = 0;                    // every seq below it is settled
  std::vector<Payload> in(kBurst);
  std::vector<iovec> in_iov(kBurst);
  std::vector<mmsghdr> in_msg(kBurst);
  for (int i = 0; i < kBurst; ++i) {
    in_iov[i] = {&in[i], sizeof(Payload)};
    in_msg[i].msg_hdr = msghdr{};
    in_msg[i].msg_hdr.msg_iov = &in_iov[i];
    in_msg[i].msg_hdr.msg_iovlen = 1;
  }
  st.first_send = nowNs();
  int64_t last_progress = st.first_send;
  int64_t grace_end = 0;  // set when sending ends with written-off datagrams outstanding
  for (;;) {
    const int64_t now = nowNs();
    const bool sending = st.sent < max_flows && now - st.first_send < send_ns;
    const uint64_t in_flight = st.sent - st.received - st.lost;
    if (!sending && in_flight == 0) {
      if (st.late == st.lost) break;
      if (grace_end == 0) grace_end = now + kGraceNs;
      if (now > grace_end) break;
    }
    if (sending && in_flight < window) {
      int n = static_cast<int>(std::min<uint64_t>({window - in_flight, kBurst, max_flows - st.sent}));
      for (int i = 0; i < n; ++i) {
        build(&frames[i * kFrame], st.sent + i);
        iov[i] = {&frames[i * kFrame], kFrame};
        out[i].msg_hdr = msghdr{};
        out[i].msg_hdr.msg_name = &ll;
        out[i].msg_hdr.msg_namelen = sizeof(ll);
        out[i].msg_hdr.msg_iov = &iov[i];
        out[i].msg_hdr.msg_iovlen = 1;
      }
      int sent = sendmmsg(tx, out.data(), n, 0);
      if (sent < 0 && errno != ENOBUFS && errno != EAGAIN) die("sendmmsg");
      if (sent > 0) st.sent += sent;
    }
    const bool window_full = st.sent - st.received - st.lost >= window || !sending;
    pollfd pfd{rx, POLLIN, 0};
    if (poll(&pfd, 1, window_full ? 10 : 0) < 0 && errno != EINTR) die("poll");
    int got = recvmmsg(rx, in_msg.data(), kBurst, MSG_DONTWAIT, nullptr);
    const int64_t arrived = nowNs();
    for (int i = 0; i < got; ++i) {
      const Payload& p = in[i];
      if (in_msg[i].msg_len != sizeof(Payload) || p.magic != kMagic || p.seq >= st.sent) continue;
      if (state[p.seq] == 1) continue;  // a duplicate: not ours to count twice
      if (state[p.seq] == 2) {  // written off, then arrived: late, and its latency counts
        ++st.late;
        state[p.seq] = 1;
        st.latency_ns.push_back(static_cast<uint32_t>(std::min<int64_t>(arrived - p.sent_ns, UINT32_MAX)));
        st.last_receive = arrived;
        continue;
      }
      state[p.seq] = 1;
      ++st.received;
      st.latency_ns.push_back(static_cast<uint32_t>(std::min<int64_t>(arrived - p.sent_ns, UINT32_MAX)));
      st.last_receive = arrived;
      last_progress = arrived;
    }
    if (got <= 0 && st.sent - st.received - st.lost > 0 && arrived - last_progress > kStallNs) {
      for (; low_water < st.sent; ++low_water) {
        if (state[low_water] == 0) {
          state[low_water] = 2;
          ++st.lost;
        }
      }
      last_progress = arrived;
    }
  }
  if (st.last_receive == 0) st.last_receive = nowNs();
  st.print();
  return 0;
}

int runTcp(const Args& a) {
  const uint16_t port = static_cast<uint16_t>(a.num("port", 9000));
  const uint64_t max_flows = static_cast<uint64_t>(a.num("flows", 1'000'000));
  const int concurrency = static_cast<int>(std::max(1L, a.num("concurrency", 32)));
  const int64_t send_ns = a.num("seconds", 3) * 1'000'000'000L;
  const uint32_t dst_net = parseIp(a.get("dst-net", "203.0.113.0"));
  const uint64_t tuple_base = static_cast<uint64_t>(a.num("tuple-base", 0));

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll");
  enterNamespace(a.get("to"));
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in bind_addr{};
  bind_addr.sin_family = AF_INET;
  bind_addr.sin_port = htons(port);
  if (bind(listener, reinterpret_cast<sockaddr*>(&bind_addr), sizeof(bind_addr)) < 0) die("bind listener");
  if (listen(listener, 4096) < 0) die("listen");
  epoll_event lev{EPOLLIN, {.u64 = UINT64_MAX}};
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &lev);
  enterNamespace(a.get("from"));

  struct Slot {
    int fd = -1;
    int64_t started = 0;
  };
  std::vector<Slot> slots(concurrency);
  Stats st;
  st.first_send = nowNs();
  auto start = [&](Slot& s, uint64_t index) {
    s.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (s.fd < 0) die("tcp socket");
    linger lg{1, 0};  // close with a reset: no TIME_WAIT, ports come back at once
    setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port);
    dst.sin_addr.s_addr = htonl(dst_net + 1 + static_cast<uint32_t>((tuple_base + st.sent) % kHosts));
    s.started = nowNs();
    ++st.sent;
    if (connect(s.fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) < 0 && errno != EINPROGRESS) {
      close(s.fd);
      s.fd = -1;
      ++st.lost;
      return;
    }
    epoll_event ev{EPOLLOUT, {.u64 = index}};
    epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev);
  };
  auto finish = [&](Slot& s, bool ok, int64_t now) {
    epoll_ctl(ep, EPOLL_CTL_DEL, s.fd, nullptr);
    close(s.fd);
    s.fd = -1;
    if (ok) {
      ++st.received;
      st.latency_ns.push_back(static_cast<uint32_t>(std::min<int64_t>(now - s.started, UINT32_MAX)));
      st.last_receive = now;
    } else {
      ++st.lost;
    }
  };
  std::vector<epoll_event> events(256);
  const int64_t hard_end = st.first_send + send_ns + 2'000'000'000L;
  for (;;) {
    const int64_t now = nowNs();
    const bool sending = st.sent < max_flows && now - st.first_send < send_ns;
    int open_slots = 0;
    for (size_t i = 0; i < slots.size(); ++i) {
      Slot& s = slots[i];
      if (s.fd >= 0 && now - s.started > 1'000'000'000L) finish(s, false, now);  // 1 s: lost
      if (s.fd < 0 && sending) start(s, i);
      if (s.fd >= 0) ++open_slots;
    }
    if ((!sending && open_slots == 0) || now > hard_end) break;
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 10);
    const int64_t done = nowNs();
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == UINT64_MAX) {
        for (;;) {  // the server: take every pending connection and close it
          int c = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
          if (c < 0) break;
          close(c);
        }
        continue;
      }
      Slot& s = slots[events[i].data.u64];
      if (s.fd < 0) continue;
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      finish(s, err == 0, done);
    }
  }
  if (st.last_receive == 0) st.last_receive = nowNs();
  st.print();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_traffic udp|tcp --from NS --to NS ... (see the source header)\n");
    return 64;
  }
  Args args;
  for (int i = 2; i < argc; ++i) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0) {
      std::fprintf(stderr, "bench_traffic: unexpected argument %s\n", argv[i]);
      return 64;
    }
    key = key.substr(2);
    if (key == "single-flow") {
      args.values[key] = "1";
    } else if (i + 1 < argc) {
      args.values[key] = argv[++i];
    } else {
      std::fprintf(stderr, "bench_traffic: --%s needs a value\n", key.c_str());
      return 64;
    }
  }
  const std::string mode = argv[1];
  if (mode == "udp") return runUdp(args);
  if (mode == "tcp") return runTcp(args);
  std::fprintf(stderr, "bench_traffic: unknown mode %s\n", mode.c_str());
  return 64;
}
