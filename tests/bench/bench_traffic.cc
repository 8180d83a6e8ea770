// bench_traffic: the benchmark's traffic generator and sink in one process. It opens its
// receiving socket in the server's network namespace, then moves into the client's namespace
// and sends from there, so both ends share one clock and one loop: the one-way time of each
// datagram (a CLOCK_MONOTONIC stamp it carries) is exact, and the sender knows how many packets
// are still in flight without any back channel.
//
//   bench_traffic udp --from NS --to NS --ifname eth0 --dst-mac MAC --src-mac MAC --src-ip IP
//                     [--devices 1] [--dst-net 203.0.113.0] [--port 9000] [--flows N]
//                     [--window W] [--seconds S] [--tuple-base K] [--single-flow]
//                     [--dns-every K --resolver IP --name-port P] [--dst-ports N] [--rate R]
//   bench_traffic tcp --from NS --to NS [--dst-net 203.0.113.0] [--port 9000]
//                     [--concurrency C] [--seconds S] [--flows N] [--tuple-base K] [--rate R]
//
// udp: Ethernet frames from an AF_PACKET socket on --ifname (so each datagram may come from
// another device: --devices N walks MAC and IPv4 source from the given bases). Every datagram is
// a new flow (source port and destination host walk a 16-million-tuple sequence from
// --tuple-base) unless --single-flow. At most --window datagrams are in flight; one that has not
// arrived 1 s after the last arrival is written off (lost, or late if it still comes).
// --dst-ports N (at most 64) walks the destination port too, over --port .. --port+N-1 (a sink
// on each), so one device can open 254 x N flows to distinct (host, port) pairs: the learning
// recorder keys its flows so.
// --rate R paces the flows at R a second (still at most --window in flight): a fixed offered
// rate below what every config forwards, so each forwards the same flows and only the CPU they
// cost differs (the bench's udp-fixed cells).
// With --dns-every K, every K-th flow is preceded by a DNS query from its device to --resolver
// (port 53, answered here by the sink with an A record for one of the mixed site's 50 names,
// see kNames): the flow's datagram goes out only once the answer has come back to the device's
// MAC, to the answered address and --name-port, so a firewall that did not learn the name from
// the answer drops it and it counts as lost. tcp: --concurrency non-blocking
// connects at a time to the sink's listener; each closes with a reset once connected (no
// TIME_WAIT), and its connect time is the latency. --rate R paces the connects at R a second
// (still at most --concurrency open), as udp's --rate paces flows (the bench's tcp-fixed cells).
//
// Sends only what it is told to, only from inside the namespaces it is given; the bench script
// gives it lab namespaces and lab addresses. Bounded by --flows and --seconds.
// Prints one JSON object: sent, received, lost, late, seconds, rate, p50_us, p99_us, max_us,
// traffic_user_us, traffic_sys_us
// (and dns_queries, dns_answers with --dns-every).
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
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
#include <unordered_map>
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

// The mixed site's 50 names; tests/bench/gen_policy.sh writes the same ones into every profile.
// Name k is exact "api.vendor<k>.example" for even k, and "*.cdn<k>.example" for odd k (asked as
// "edge.cdn<k>.example"); it resolves to host kNameHostBase + k of --dst-net (203.0.113.100 ..
// 203.0.113.149 in the bench), for kDnsTtl seconds.
constexpr uint32_t kNames = 50;
constexpr uint32_t kNameHostBase = 100;
constexpr uint32_t kDnsTtl = 300;
constexpr uint16_t kDnsPort = 53;
constexpr size_t kMaxDns = 512;

std::string queryName(uint32_t k) {
  return (k % 2 == 0 ? "api.vendor" : "edge.cdn") + std::to_string(k) + ".example";
}

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

  void print(const std::string& extra = "") {
    double seconds = last_receive > first_send ? (last_receive - first_send) / 1e9 : 0;
    std::sort(latency_ns.begin(), latency_ns.end());
    auto pct = [&](double p) -> double {
      if (latency_ns.empty()) return 0;
      size_t i = std::min(latency_ns.size() - 1, static_cast<size_t>(p * latency_ns.size()));
      return latency_ns[i] / 1000.0;
    };
    // The program's own CPU (the generator's and the sink's): user time is the lab's alone; system
    // time also holds the forwarding its sends run in their own context.
    rusage self{};
    getrusage(RUSAGE_SELF, &self);
    auto us = [](const timeval& t) {
      return static_cast<long long>(t.tv_sec) * 1'000'000 + t.tv_usec;
    };
    std::printf(
        "{\"sent\":%llu,\"received\":%llu,\"lost\":%llu,\"late\":%llu,\"seconds\":%.3f,"
        "\"rate\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,\"traffic_user_us\":%lld,"
        "\"traffic_sys_us\":%lld%s}\n",
        static_cast<unsigned long long>(sent), static_cast<unsigned long long>(received),
        static_cast<unsigned long long>(lost - late), static_cast<unsigned long long>(late),
        seconds, seconds > 0 ? received / seconds : 0.0, pct(0.50), pct(0.99),
        latency_ns.empty() ? 0.0 : latency_ns.back() / 1000.0, us(self.ru_utime), us(self.ru_stime),
        extra.c_str());
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

// A standard query (RD set) for `name`, type A, class IN. Returns its length.
size_t writeDnsQuery(uint8_t* out, uint16_t id, const std::string& name) {
  const uint8_t header[12] = {uint8_t(id >> 8), uint8_t(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  std::memcpy(out, header, sizeof(header));
  size_t at = sizeof(header);
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    out[at++] = static_cast<uint8_t>(dot - start);
    std::memcpy(out + at, name.data() + start, dot - start);
    at += dot - start;
    start = dot + 1;
  }
  out[at++] = 0;
  const uint8_t tail[4] = {0, 1, 0, 1};  // QTYPE A, QCLASS IN
  std::memcpy(out + at, tail, sizeof(tail));
  return at + sizeof(tail);
}

// The sink's resolver: answers `query` in place (A record for one of kNames, NXDOMAIN for any
// other name). Returns the answer's length, 0 for something that is not a one-question query.
size_t answerDnsQuery(uint8_t* msg, size_t len, size_t room, uint32_t dst_net,
                      const std::unordered_map<std::string, uint32_t>& names) {
  if (len < 12 || (msg[2] & 0x80) != 0 || msg[4] != 0 || msg[5] != 1) return 0;
  std::string name;
  size_t at = 12;
  while (at < len && msg[at] != 0) {
    const size_t label = msg[at++];
    if (label > 63 || at + label > len) return 0;
    if (!name.empty()) name += '.';
    name.append(reinterpret_cast<const char*>(msg + at), label);
    at += label;
  }
  at += 1 + 4;  // root label, QTYPE, QCLASS
  if (at > len || at + 16 > room) return 0;
  auto it = names.find(name);
  msg[2] = 0x81;  // QR, RD
  msg[3] = it == names.end() ? 0x83 : 0x80;  // RA; NXDOMAIN for a name we do not serve
  msg[6] = 0;
  msg[7] = it == names.end() ? 0 : 1;  // ANCOUNT
  std::memset(msg + 8, 0, 4);  // NSCOUNT, ARCOUNT
  if (it == names.end()) return at;
  const uint32_t address = dst_net + kNameHostBase + it->second;
  const uint8_t rr[16] = {0xc0, 0x0c, 0, 1, 0, 1,  // the question's name, A, IN
                          uint8_t(kDnsTtl >> 24), uint8_t(kDnsTtl >> 16), uint8_t(kDnsTtl >> 8), uint8_t(kDnsTtl),
                          0, 4, uint8_t(address >> 24), uint8_t(address >> 16), uint8_t(address >> 8), uint8_t(address)};
  std::memcpy(msg + at, rr, sizeof(rr));
  return at + sizeof(rr);
}

// The A record's address of an answer as answerDnsQuery writes it (the last 16 bytes), or 0.
uint32_t answeredAddress(const uint8_t* msg, size_t len) {
  if (len < 12 + 16 || (msg[2] & 0x80) == 0 || (msg[3] & 0x0f) != 0 || msg[7] == 0) return 0;
  const uint8_t* rr = msg + len - 16;
  if (rr[2] != 0 || rr[3] != 1 || rr[10] != 0 || rr[11] != 4) return 0;
  return uint32_t{rr[12]} << 24 | uint32_t{rr[13]} << 16 | uint32_t{rr[14]} << 8 | rr[15];
}

// A packet socket on `ifindex` that sees only IPv4 UDP from port 53 (the answers coming back to
// the simulated devices, whose MACs are no interface's: the frames arrive as PACKET_OTHERHOST).
int openAnswerCapture(int ifindex) {
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_IP));
  if (fd < 0) die("answer capture socket");
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),                      // EtherType
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETHERTYPE_IP, 0, 8),
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23),                      // IP protocol
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 6),
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 20),                      // fragment offset
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 4, 0),
      BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14),                     // IP header length
      BPF_STMT(BPF_LD | BPF_H | BPF_IND, 14),                      // UDP source port
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kDnsPort, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, 0xffff),
      BPF_STMT(BPF_RET | BPF_K, 0),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof(code) / sizeof(code[0])), code};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0) die("attach filter");
  sockaddr_ll ll{};
  ll.sll_family = AF_PACKET;
  ll.sll_protocol = htons(ETH_P_IP);
  ll.sll_ifindex = ifindex;
  if (bind(fd, reinterpret_cast<sockaddr*>(&ll), sizeof(ll)) < 0) die("bind answer capture");
  packet_mreq mr{};
  mr.mr_ifindex = ifindex;
  mr.mr_type = PACKET_MR_PROMISC;
  setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr));
  // What the filter let through before it was attached: anything, so drain it.
  uint8_t junk[2048];
  while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0) {
  }
  return fd;
}

int openUdpSink(uint32_t address, uint16_t port, const char* what) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die(std::string(what) + " socket");
  int size = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
  sockaddr_in bind_addr{};
  bind_addr.sin_family = AF_INET;
  bind_addr.sin_addr.s_addr = htonl(address);
  bind_addr.sin_port = htons(port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&bind_addr), sizeof(bind_addr)) < 0) die(std::string("bind ") + what);
  return fd;
}

int runUdp(const Args& a) {
  const uint16_t port = static_cast<uint16_t>(a.num("port", 9000));
  const uint64_t max_flows = static_cast<uint64_t>(a.num("flows", 1'000'000));
  const uint64_t window = static_cast<uint64_t>(std::max(1L, a.num("window", 256)));
  const int64_t send_ns = a.num("seconds", 3) * 1'000'000'000L;
  const uint64_t tuple_base = static_cast<uint64_t>(a.num("tuple-base", 0));
  const uint32_t devices = static_cast<uint32_t>(std::max(1L, a.num("devices", 1)));
  const bool single_flow = a.flag("single-flow");
  const uint32_t dst_ports = static_cast<uint32_t>(std::clamp(a.num("dst-ports", 1), 1L, 64L));
  const uint32_t dst_net = parseIp(a.get("dst-net", "203.0.113.0"));
  const uint32_t src_ip = parseIp(a.get("src-ip"));
  const uint64_t dns_every = static_cast<uint64_t>(std::max(0L, a.num("dns-every", 0)));
  const bool dns = dns_every > 0;
  const int64_t rate =
      std::max(0L, a.num("rate", 0));  // flows a second; 0: as fast as the window allows
  const uint32_t resolver = dns ? parseIp(a.get("resolver")) : 0;
  const uint16_t name_port = static_cast<uint16_t>(dns ? a.num("name-port", 0) : 0);
  if (dns && (name_port == 0 || single_flow)) {
    std::fprintf(stderr, "bench_traffic: --dns-every needs --resolver and --name-port, and not --single-flow\n");
    return 64;
  }
  uint8_t dst_mac[6], src_mac[6];
  parseMac(a.get("dst-mac"), dst_mac);
  parseMac(a.get("src-mac"), src_mac);

  // The sink, in the server's namespace: the flows' port, and with DNS the resolver and the
  // port the named flows go to.
  enterNamespace(a.get("to"));
  std::vector<int> sinks;
  for (uint32_t k = 0; k < dst_ports; ++k) {
    sinks.push_back(openUdpSink(INADDR_ANY, static_cast<uint16_t>(port + k), "sink"));
  }
  const int rx = sinks.front();
  int name_rx = dns ? openUdpSink(INADDR_ANY, name_port, "name sink") : -1;
  // Bound to the resolver's address, so the answer leaves from it and conntrack sees the reply
  // of the device's query.
  int dns_rx = dns ? openUdpSink(resolver, kDnsPort, "resolver") : -1;
  std::unordered_map<std::string, uint32_t> names;
  for (uint32_t k = 0; k < kNames; ++k) names.emplace(queryName(k), k);

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
  int answers_rx = dns ? openAnswerCapture(ll.sll_ifindex) : -1;

  constexpr size_t kHeaders = sizeof(ether_header) + sizeof(iphdr) + sizeof(udphdr);
  constexpr size_t kFrame = kHeaders + sizeof(Payload);
  constexpr size_t kSlot = kHeaders + kMaxDns;  // room for a data datagram or a DNS query
  std::vector<uint8_t> frames(kBurst * kSlot);
  std::vector<iovec> iov(kBurst);
  std::vector<mmsghdr> out(kBurst);
  auto tupleOf = [&](uint64_t seq) { return single_flow ? tuple_base : tuple_base + seq; };
  auto sourcePort = [&](uint64_t seq) { return static_cast<uint16_t>(1024 + (tupleOf(seq) / kHosts) % kPorts); };
  // Ethernet, IPv4 and UDP headers from device `device` (the base MAC and IPv4 address plus i:
  // low three bytes / whole address) for `payload_len` bytes of UDP payload. Returns the length.
  auto writeHeaders = [&](uint8_t* f, uint32_t device, uint32_t daddr, uint16_t sport, uint16_t dport,
                          size_t payload_len, uint64_t seq) {
    auto* eth = reinterpret_cast<ether_header*>(f);
    std::memcpy(eth->ether_dhost, dst_mac, 6);
    std::memcpy(eth->ether_shost, src_mac, 6);
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
    ip->tot_len = htons(static_cast<uint16_t>(sizeof(iphdr) + sizeof(udphdr) + payload_len));
    ip->id = htons(static_cast<uint16_t>(seq));
    ip->saddr = htonl(src_ip + device);
    ip->daddr = htonl(daddr);
    ip->check = ipChecksum(ip, sizeof(iphdr));
    auto* udp = reinterpret_cast<udphdr*>(f + sizeof(ether_header) + sizeof(iphdr));
    udp->source = htons(sport);
    udp->dest = htons(dport);
    udp->len = htons(static_cast<uint16_t>(sizeof(udphdr) + payload_len));
    udp->check = 0;  // optional in IPv4
    return kHeaders + payload_len;
  };
  // The flow's datagram, to `daddr`:`dport` (a host of --dst-net and --port unless the flow
  // follows a DNS answer).
  auto writeData = [&](uint8_t* f, uint64_t seq, uint32_t daddr, uint16_t dport) {
    writeHeaders(f, static_cast<uint32_t>(seq % devices), daddr, sourcePort(seq), dport, sizeof(Payload), seq);
    Payload p{kMagic, seq, nowNs()};
    std::memcpy(f + kFrame - sizeof(Payload), &p, sizeof(p));
    return kFrame;
  };
  auto defaultDestination = [&](uint64_t seq) { return dst_net + 1 + static_cast<uint32_t>(tupleOf(seq) % kHosts); };
  auto defaultPort = [&](uint64_t seq) { return static_cast<uint16_t>(port + (tupleOf(seq) / kHosts) % dst_ports); };

  Stats st;
  uint64_t dns_queries = 0, dns_answers = 0, dns_unusable = 0;
  // Flows waiting for their DNS answer, by (device address, query source port).
  std::unordered_map<uint64_t, uint64_t> awaiting_answer;
  auto answerKey = [](uint32_t device_ip, uint16_t sport) { return uint64_t{device_ip} << 16 | sport; };
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
  // The sink: reads what arrived on `fd` (the flows' port or the named flows' port).
  auto receive = [&](int fd) {
    int got = recvmmsg(fd, in_msg.data(), kBurst, MSG_DONTWAIT, nullptr);
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
    return std::max(got, 0);
  };
  // The sink's resolver: answers every query waiting.
  auto serveDns = [&]() {
    uint8_t msg[kMaxDns];
    for (int i = 0; i < kBurst; ++i) {
      sockaddr_in from{};
      socklen_t from_len = sizeof(from);
      ssize_t n = recvfrom(dns_rx, msg, sizeof(msg), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 0) break;
      size_t len = answerDnsQuery(msg, static_cast<size_t>(n), sizeof(msg), dst_net, names);
      if (len > 0) sendto(dns_rx, msg, len, 0, reinterpret_cast<sockaddr*>(&from), from_len);
    }
  };
  // The devices: an answer that came back sends the flow it was asked for, to the answered
  // address on the named rule's port.
  auto takeAnswers = [&]() {
    uint8_t frame[2048];
    for (int i = 0; i < kBurst; ++i) {
      sockaddr_ll from{};
      socklen_t from_len = sizeof(from);
      ssize_t n = recvfrom(answers_rx, frame, sizeof(frame), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 0) break;
      if (from.sll_pkttype == PACKET_OUTGOING || static_cast<size_t>(n) < kHeaders) continue;
      const auto* ip = reinterpret_cast<const iphdr*>(frame + sizeof(ether_header));
      const size_t ip_len = ip->ihl * 4u;
      if (ntohl(ip->saddr) != resolver || sizeof(ether_header) + ip_len + sizeof(udphdr) > static_cast<size_t>(n)) continue;
      const auto* udp = reinterpret_cast<const udphdr*>(frame + sizeof(ether_header) + ip_len);
      auto it = awaiting_answer.find(answerKey(ntohl(ip->daddr), ntohs(udp->dest)));
      if (it == awaiting_answer.end()) continue;  // a duplicate, or not ours
      const uint64_t seq = it->second;
      awaiting_answer.erase(it);
      const size_t dns_at = sizeof(ether_header) + ip_len + sizeof(udphdr);
      const size_t dns_len = std::min(static_cast<size_t>(n), sizeof(ether_header) + ntohs(ip->tot_len)) - dns_at;
      const uint32_t address = answeredAddress(frame + dns_at, dns_len);
      if (address == 0) {
        ++dns_unusable;  // the flow is never sent: it counts as lost
        continue;
      }
      ++dns_answers;
      uint8_t data[kFrame];
      writeData(data, seq, address, name_port);
      if (sendto(tx, data, kFrame, 0, reinterpret_cast<sockaddr*>(&ll), sizeof(ll)) < 0 && errno != ENOBUFS) {
        die("sendto");
      }
    }
  };
  for (;;) {
    const int64_t now = nowNs();
    const bool sending = st.sent < max_flows && now - st.first_send < send_ns;
    const uint64_t in_flight = st.sent - st.received - st.lost;
    if (!sending && in_flight == 0) {
      if (st.late == st.lost) break;
      if (grace_end == 0) grace_end = now + kGraceNs;
      if (now > grace_end) break;
    }
    // Paced: the flows due by now (a burst at most), none before their time.
    uint64_t due = max_flows;
    if (rate > 0)
      due = static_cast<uint64_t>((now - st.first_send) * static_cast<__int128>(rate) /
                                  1'000'000'000L) +
            1;
    if (sending && in_flight < window && due > st.sent) {
      int n = static_cast<int>(
          std::min<uint64_t>({window - in_flight, kBurst, max_flows - st.sent, due - st.sent}));
      for (int i = 0; i < n; ++i) {
        const uint64_t seq = st.sent + i;
        uint8_t* f = &frames[i * kSlot];
        size_t len;
        if (dns && seq % dns_every == dns_every - 1) {
          // This flow asks its name first; it is sent when the answer comes back (takeAnswers).
          const uint32_t device = static_cast<uint32_t>(seq % devices);
          const uint16_t sport = sourcePort(seq);
          const size_t q = writeDnsQuery(f + kHeaders, static_cast<uint16_t>(seq), queryName((seq / dns_every) % kNames));
          len = writeHeaders(f, device, resolver, sport, kDnsPort, q, seq);
          awaiting_answer[answerKey(src_ip + device, sport)] = seq;
        } else {
          len = writeData(f, seq, defaultDestination(seq), defaultPort(seq));
        }
        iov[i] = {f, len};
        out[i].msg_hdr = msghdr{};
        out[i].msg_hdr.msg_name = &ll;
        out[i].msg_hdr.msg_namelen = sizeof(ll);
        out[i].msg_hdr.msg_iov = &iov[i];
        out[i].msg_hdr.msg_iovlen = 1;
      }
      int sent = sendmmsg(tx, out.data(), n, 0);
      if (sent < 0 && errno != ENOBUFS && errno != EAGAIN) die("sendmmsg");
      // A frame not sent is built again, with the same seq (and, for a query, the same key).
      for (int i = 0; dns && i < sent; ++i) dns_queries += (st.sent + i) % dns_every == dns_every - 1;
      if (sent > 0) st.sent += sent;
    }
    const bool window_full = st.sent - st.received - st.lost >= window || !sending;
    pollfd pfd[4] = {{rx, POLLIN, 0}, {name_rx, POLLIN, 0}, {dns_rx, POLLIN, 0}, {answers_rx, POLLIN, 0}};
    // Paced and ahead of time: sleep until the next flow is due (or an arrival), not spin, so
    // the generator's own CPU stays the same small share in every config.
    timespec wait{0, 0};
    if (window_full) {
      wait.tv_nsec = 10'000'000;
    } else if (rate > 0 && due <= st.sent) {
      wait.tv_nsec = std::max<int64_t>(20'000, 1'000'000'000L / rate);
    }
    if (ppoll(pfd, dns ? 4 : 1, &wait, nullptr) < 0 && errno != EINTR) die("poll");
    int got = 0;
    if (dns) {
      serveDns();
      takeAnswers();
      got += receive(name_rx);
    }
    for (int fd : sinks) got += receive(fd);
    const int64_t arrived = nowNs();
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
  std::string extra;
  if (dns) {
    extra = ",\"dns_queries\":" + std::to_string(dns_queries) + ",\"dns_answers\":" + std::to_string(dns_answers) +
            ",\"dns_unusable\":" + std::to_string(dns_unusable);
  }
  st.print(extra);
  return 0;
}

int runTcp(const Args& a) {
  const uint16_t port = static_cast<uint16_t>(a.num("port", 9000));
  const uint64_t max_flows = static_cast<uint64_t>(a.num("flows", 1'000'000));
  const int concurrency = static_cast<int>(std::max(1L, a.num("concurrency", 32)));
  const int64_t send_ns = a.num("seconds", 3) * 1'000'000'000L;
  const uint32_t dst_net = parseIp(a.get("dst-net", "203.0.113.0"));
  const uint64_t tuple_base = static_cast<uint64_t>(a.num("tuple-base", 0));
  const int64_t rate =
      std::max(0L, a.num("rate", 0));  // connects a second; 0: as fast as the slots allow

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
    // Paced: the connects due by now, none before their time.
    uint64_t due = max_flows;
    if (rate > 0)
      due = static_cast<uint64_t>((now - st.first_send) * static_cast<__int128>(rate) /
                                  1'000'000'000L) +
            1;
    int open_slots = 0;
    for (size_t i = 0; i < slots.size(); ++i) {
      Slot& s = slots[i];
      if (s.fd >= 0 && now - s.started > 1'000'000'000L) finish(s, false, now);  // 1 s: lost
      if (s.fd < 0 && sending && st.sent < due) start(s, i);
      if (s.fd >= 0) ++open_slots;
    }
    if ((!sending && open_slots == 0) || now > hard_end) break;
    // Paced, ahead of time and with a slot free: sleep until the next connect is due (or an
    // event), not spin, so the generator's own CPU stays the same small share in every config;
    // to the nanosecond (epoll_pwait2), as udp's ppoll, so connects start one at a time and not
    // in bursts that would batch the queue's work.
    timespec wait{0, 10'000'000};
    if (rate > 0 && sending && due <= st.sent && open_slots < concurrency) {
      const int64_t next_ns =
          st.first_send + static_cast<int64_t>(__int128{st.sent} * 1'000'000'000L / rate);
      wait.tv_nsec = std::clamp<int64_t>(next_ns - now, 1'000, 10'000'000);
    }
    int n = epoll_pwait2(ep, events.data(), static_cast<int>(events.size()), &wait, nullptr);
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
