// labnet: the lab's traffic tool. Opens real TCP/UDP flows between lab namespaces and says, in
// one greppable line, what the network did to them: `result=connected|refused|unreachable|...`.
//
//   labnet serve [--tcp 554,80] [--udp 53,123] [--ready-file F]   echo servers, until killed
//   labnet tcp HOST PORT [--timeout-ms 2000]                       connect + echo check
//   labnet udp HOST PORT [--timeout-ms 1000] [--size N]            datagram (N bytes) + echo check
//   labnet hold HOST PORT [--interval-ms 100] [--max-ms 10000] [--echo-timeout-ms 1000]
//                         [--size N] [--ready-file F]              long-lived flow, until cut
//        (each exchange a line of N bytes, default its own short text: --size 10000 every 20 ms
//        uploads 500 kB/s, what a camera leaking its footage sends)
//   labnet burst HOST PORT --flows N                               N new UDP flows at once: one
//        datagram to each of ports PORT..PORT+N-1, no answer awaited   result=sent flows=N ms=2
//   labnet dns SERVER NAME [--type a|aaaa] [--proto udp|tcp] [--timeout-ms 1000] [--mss N]
//                                                                  one DNS query, e.g.
//        result=answered rcode=0 addrs=203.0.113.30 ms=3   (addrs: the A/AAAA records)
//        --mss N (TCP): segments of at most N bytes both ways, so answers arrive in pieces
//   labnet forge-dns ADDRESS --other NAME --real IP --forged IP [--ready-file F]
//                                                                  a hostile resolver: forged,
//        mismatched and repeated answers, and a TCP answer cut to spell a message (forge_dns.cc)
//   labnet dhcp IFACE [--hostname H] [--vendor-class V] [--mud-url U] [--cut N] [--chaddr MAC]
//                     [--lease yes] [--timeout-ms 3000]         a DHCPDISCOVER; with --lease the
//        whole exchange: result=ack ip=198.18.10.50 lease=3600
//
// Exit codes (the scripts branch on them): 0 success, 1 hold survived max-ms, 2 refused (TCP
// reset), 3 unreachable (ICMP error or local policy), 4 timeout, 5 connected but no echo,
// 64 usage error, 70 local failure (socket, bind).
//
// Plain POSIX sockets and poll(): the tool must behave the same on every box the lab runs on,
// and a test tool with its own bugs would blur what the firewall did.
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/dns/dns_message.h"
#include "tests/lab/forge_dns.h"

namespace {

enum Exit : int {
  kOk = 0,
  kHeld = 1,
  kRefused = 2,
  kUnreachable = 3,
  kTimeout = 4,
  kNoEcho = 5,
  kUsage = 64,
  kLocalFailure = 70,
};

using Clock = std::chrono::steady_clock;

long msSince(Clock::time_point start) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
}

int usage(const char* why) {
  std::fprintf(stderr,
               "labnet: %s\n"
               "usage: labnet serve [--tcp P,P] [--udp P,P] [--ready-file F]\n"
               "       labnet tcp HOST PORT [--timeout-ms N]\n"
               "       labnet udp HOST PORT [--timeout-ms N] [--size BYTES]\n"
               "       labnet hold HOST PORT [--interval-ms N] [--max-ms N] "
               "[--echo-timeout-ms N] [--size BYTES] [--ready-file F]\n"
               "       labnet burst HOST PORT --flows N\n"
               "       labnet dns SERVER NAME [--type a|aaaa] [--proto udp|tcp] [--timeout-ms N] [--mss N]\n"
               "       labnet forge-dns ADDRESS --other NAME --real IP --forged IP [--ready-file F]\n"
               "       labnet dhcp IFACE [--hostname H] [--vendor-class V] [--mud-url U] "
               "[--cut N] [--chaddr MAC] [--lease yes] [--timeout-ms N]\n",
               why);
  return kUsage;
}

std::optional<long> parseNumber(std::string_view text) {
  long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

std::optional<std::vector<uint16_t>> parsePorts(std::string_view list) {
  std::vector<uint16_t> ports;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    const auto port = parseNumber(item);
    if (!port || *port < 1 || *port > 65535) return std::nullopt;
    ports.push_back(static_cast<uint16_t>(*port));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return ports;
}

// "--name value" options after the positional arguments. Unknown names are usage errors, so a
// typo in a test script fails loudly instead of silently using a default.
struct Options {
  std::vector<std::string> positional;
  std::map<std::string, std::string> named;

  long number(const std::string& name, long fallback) const {
    auto it = named.find(name);
    if (it == named.end()) return fallback;
    return parseNumber(it->second).value_or(-1);
  }
  std::string text(const std::string& name) const {
    auto it = named.find(name);
    return it == named.end() ? std::string() : it->second;
  }
};

std::optional<Options> parseOptions(int argc, char** argv,
                                    std::initializer_list<const char*> known) {
  Options options;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      options.positional.push_back(arg);
      continue;
    }
    bool ok = false;
    for (const char* name : known) ok = ok || arg == name;
    if (!ok || i + 1 >= argc) return std::nullopt;
    options.named[arg] = argv[++i];
  }
  return options;
}

void touchFile(const std::string& path, const std::string& content) {
  if (path.empty()) return;
  // Write to a temp name and rename, so a reader polling for the file never sees it empty.
  const std::string tmp = path + ".tmp";
  if (FILE* f = std::fopen(tmp.c_str(), "w")) {
    std::fputs(content.c_str(), f);
    std::fclose(f);
    std::rename(tmp.c_str(), path.c_str());
  }
}

// A numeric address only: the lab has no DNS for its hosts, and a name lookup that leaves the
// namespaces is exactly what the lab must never do.
std::optional<sockaddr_storage> numericAddress(const std::string& host, uint16_t port,
                                               socklen_t* len) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  sockaddr_storage address{};
  std::memcpy(&address, found->ai_addr, found->ai_addrlen);
  *len = found->ai_addrlen;
  freeaddrinfo(found);
  return address;
}

// How the network answered, from an errno of connect/send/recv.
Exit classifyError(int error) {
  switch (error) {
    case ECONNREFUSED:
      return kRefused;
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EACCES:
    case EPERM:
      return kUnreachable;
    case ETIMEDOUT:
      return kTimeout;
    default:
      return kUnreachable;
  }
}

const char* resultName(Exit code) {
  switch (code) {
    case kOk:
      return "connected";
    case kRefused:
      return "refused";
    case kUnreachable:
      return "unreachable";
    case kTimeout:
      return "timeout";
    case kNoEcho:
      return "no-echo";
    default:
      return "error";
  }
}

// Waits for `events` on `fd` until `deadline`. Returns revents, 0 on timeout.
short waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() < 0) return 0;
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return p.revents;
    if (n == 0) return 0;
    if (errno != EINTR) return POLLERR;
  }
}

struct Connection {
  int fd = -1;
  Exit status = kTimeout;
};

// Non-blocking connect bounded by `timeout_ms`; the fd stays non-blocking.
// `mss` > 0 caps the segment size both ways (it is what the SYN advertises).
Connection connectTcp(const sockaddr_storage& address, socklen_t len, long timeout_ms, long mss = 0) {
  Connection c;
  c.fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) {
    std::perror("labnet: socket");
    c.status = kLocalFailure;
    return c;
  }
  if (mss > 0) {
    const int value = static_cast<int>(mss);
    if (setsockopt(c.fd, IPPROTO_TCP, TCP_MAXSEG, &value, sizeof value) != 0) {
      std::perror("labnet: TCP_MAXSEG");
      c.status = kLocalFailure;
      return c;
    }
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  if (connect(c.fd, reinterpret_cast<const sockaddr*>(&address), len) == 0) {
    c.status = kOk;
    return c;
  }
  if (errno != EINPROGRESS) {
    c.status = classifyError(errno);
    return c;
  }
  const short revents = waitFor(c.fd, POLLOUT, deadline);
  if (revents == 0) {
    c.status = kTimeout;
    return c;
  }
  int error = 0;
  socklen_t error_len = sizeof error;
  getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &error_len);
  c.status = error == 0 ? kOk : classifyError(error);
  return c;
}

// Sends `line` and reads until the same bytes came back or `deadline` passes.
// Returns kOk, kNoEcho (timeout or wrong bytes) or a classified error (reset, ICMP).
Exit echoLine(int fd, const std::string& line, Clock::time_point deadline, bool* closed) {
  *closed = false;
  if (send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    return errno == EAGAIN ? kNoEcho : classifyError(errno);
  }
  std::string got;
  char buffer[512];
  while (got.size() < line.size()) {
    const short revents = waitFor(fd, POLLIN, deadline);
    if (revents == 0) return kNoEcho;
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) {
      *closed = true;
      return kNoEcho;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return errno == ECONNRESET ? kRefused : classifyError(errno);
    }
    got.append(buffer, static_cast<size_t>(n));
  }
  return got == line ? kOk : kNoEcho;
}

struct Target {
  sockaddr_storage address{};
  socklen_t len = 0;
  uint16_t port = 0;
};

std::optional<Target> targetOf(const Options& options) {
  if (options.positional.size() != 2) return std::nullopt;
  const auto port = parseNumber(options.positional[1]);
  if (!port || *port < 1 || *port > 65535) return std::nullopt;
  Target t;
  t.port = static_cast<uint16_t>(*port);
  const auto address = numericAddress(options.positional[0], t.port, &t.len);
  if (!address) return std::nullopt;
  t.address = *address;
  return t;
}

int runTcp(const Options& options) {
  const auto target = targetOf(options);
  const long timeout_ms = options.number("--timeout-ms", 2000);
  if (!target || timeout_ms < 0) return usage("tcp needs a numeric HOST and a PORT");
  const auto start = Clock::now();
  Connection c = connectTcp(target->address, target->len, timeout_ms);
  Exit result = c.status;
  if (result == kOk) {
    bool closed = false;
    const Exit echo =
        echoLine(c.fd, "muzzle\n", Clock::now() + std::chrono::milliseconds(timeout_ms), &closed);
    // A reset right after the handshake still means "the connection did not work".
    result = echo == kOk ? kOk : kNoEcho;
  }
  if (c.fd >= 0) close(c.fd);
  if (result == kLocalFailure) return result;
  std::printf("result=%s ms=%ld\n", resultName(result), msSince(start));
  return result;
}

int runUdp(const Options& options) {
  const auto target = targetOf(options);
  const long timeout_ms = options.number("--timeout-ms", 1000);
  // A big datagram makes the flow's first packet bigger than the header prefix muzzled's flow
  // queues copy.
  const long size = options.number("--size", 7);
  if (!target || timeout_ms < 0) return usage("udp needs a numeric HOST and a PORT");
  if (size < 7 || size > 8000) return usage("--size is 7..8000 bytes");
  const auto start = Clock::now();
  const int fd = socket(target->address.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::perror("labnet: socket");
    return kLocalFailure;
  }
  // A connected UDP socket is told about ICMP errors (as ECONNREFUSED, EHOSTUNREACH, ...).
  Exit result = kTimeout;
  std::string payload = "muzzle\n";
  payload.resize(static_cast<size_t>(size), 'x');
  if (connect(fd, reinterpret_cast<const sockaddr*>(&target->address), target->len) != 0 ||
      send(fd, payload.data(), payload.size(), 0) < 0) {
    result = kUnreachable;
  } else {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    char buffer[8192];
    for (;;) {
      if (waitFor(fd, POLLIN, deadline) == 0) {
        result = kTimeout;
        break;
      }
      const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      if (n >= 0) {
        result = std::string_view(buffer, static_cast<size_t>(n)) == payload ? kOk : kNoEcho;
        break;
      }
      if (errno == EAGAIN || errno == EINTR) continue;
      result = kUnreachable;  // every ICMP error counts as "unreachable" for UDP
      break;
    }
  }
  close(fd);
  std::printf("result=%s ms=%ld\n", result == kOk ? "answered" : resultName(result),
              msSince(start));
  return result;
}

// Many new flows faster than any one-process-per-flow loop could open them, e.g. to fill a
// netfilter queue while its listener is stopped. One socket, one datagram per destination port:
// every datagram is the first packet of its own conntrack flow.
int runBurst(const Options& options) {
  const auto target = targetOf(options);
  const long flows = options.number("--flows", -1);
  if (!target || flows < 1 || target->port + flows - 1 > 65535) {
    return usage("burst needs a numeric HOST, a PORT and --flows N with PORT+N-1 <= 65535");
  }
  const auto start = Clock::now();
  const int fd = socket(target->address.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::perror("labnet: socket");
    return kLocalFailure;
  }
  const std::string payload = "muzzle\n";
  sockaddr_storage to = target->address;
  long sent = 0;
  for (long i = 0; i < flows; ++i) {
    const uint16_t port = htons(static_cast<uint16_t>(target->port + i));
    if (to.ss_family == AF_INET6) {
      reinterpret_cast<sockaddr_in6*>(&to)->sin6_port = port;
    } else {
      reinterpret_cast<sockaddr_in*>(&to)->sin_port = port;
    }
    if (sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<const sockaddr*>(&to), target->len) >= 0) {
      ++sent;
    }
  }
  close(fd);
  std::printf("result=%s flows=%ld ms=%ld\n", sent == flows ? "sent" : "partial", sent, msSince(start));
  return sent == flows ? kOk : kLocalFailure;
}

int runHold(const Options& options) {
  const auto target = targetOf(options);
  const long interval_ms = options.number("--interval-ms", 100);
  const long max_ms = options.number("--max-ms", 10000);
  const long echo_timeout_ms = options.number("--echo-timeout-ms", 1000);
  const long size = options.number("--size", 0);
  if (!target || interval_ms < 0 || max_ms < 0 || echo_timeout_ms < 0 || size < 0 ||
      size > 1'000'000) {
    return usage("hold needs a numeric HOST and a PORT");
  }
  const std::string ready_file = options.text("--ready-file");
  Connection c = connectTcp(target->address, target->len, 2000);
  const auto start = Clock::now();
  if (c.status != kOk) {
    if (c.fd >= 0) close(c.fd);
    if (c.status == kLocalFailure) return kLocalFailure;
    std::printf("result=%s ms=0\n", resultName(c.status));
    return c.status;
  }
  long echoes = 0;
  auto next = Clock::now();
  for (;;) {
    bool closed = false;
    std::string line = "hold " + std::to_string(echoes);
    if (static_cast<long>(line.size()) + 1 < size) line.resize(static_cast<size_t>(size) - 1, '.');
    line += "\n";
    const Exit echo =
        echoLine(c.fd, line, Clock::now() + std::chrono::milliseconds(echo_timeout_ms), &closed);
    if (echo != kOk) {
      const char* reason = closed             ? "closed"
                           : echo == kNoEcho  ? "no-echo"
                           : echo == kRefused ? "reset"
                                              : resultName(echo);
      std::printf("result=cut ms=%ld echoes=%ld reason=%s\n", msSince(start), echoes, reason);
      close(c.fd);
      return kOk;
    }
    ++echoes;
    // The ready file holds the echo count, so a test can also tell how many exchanges passed.
    touchFile(ready_file, std::to_string(echoes) + "\n");
    if (msSince(start) >= max_ms) break;
    next += std::chrono::milliseconds(interval_ms);
    const auto now = Clock::now();
    if (next > now) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - now);
      poll(nullptr, 0, static_cast<int>(left.count()));
    }
  }
  std::printf("result=held ms=%ld echoes=%ld\n", msSince(start), echoes);
  close(c.fd);
  return kHeld;
}

// One dual-stack listener per port: `::` with IPV6_V6ONLY off also takes IPv4 (as ::ffff:a.b.c.d).
int listenOn(int type, uint16_t port) {
  const int fd = socket(AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int off = 0, on = 1;
  setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_any;
  address.sin6_port = htons(port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      (type == SOCK_STREAM && listen(fd, 64) != 0)) {
    std::fprintf(stderr, "labnet: %s port %u: %s\n", type == SOCK_STREAM ? "tcp" : "udp", port,
                 std::strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

int runServe(const Options& options) {
  if (!options.positional.empty()) return usage("serve takes no positional arguments");
  const auto tcp_ports = parsePorts(options.text("--tcp"));
  const auto udp_ports = parsePorts(options.text("--udp"));
  if (!tcp_ports || !udp_ports) return usage("ports are a comma-separated list of 1..65535");

  enum class Kind { kTcpListener, kUdp, kTcpConnection };
  std::vector<pollfd> fds;
  std::vector<Kind> kinds;
  for (uint16_t port : *tcp_ports) {
    const int fd = listenOn(SOCK_STREAM, port);
    if (fd < 0) return kLocalFailure;
    fds.push_back({fd, POLLIN, 0});
    kinds.push_back(Kind::kTcpListener);
  }
  for (uint16_t port : *udp_ports) {
    const int fd = listenOn(SOCK_DGRAM, port);
    if (fd < 0) return kLocalFailure;
    fds.push_back({fd, POLLIN, 0});
    kinds.push_back(Kind::kUdp);
  }
  touchFile(options.text("--ready-file"), "ready\n");

  char buffer[4096];
  for (;;) {
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      std::perror("labnet: poll");
      return kLocalFailure;
    }
    // Index loop: accept() appends to `fds` while we walk it.
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      const int fd = fds[i].fd;
      switch (kinds[i]) {
        case Kind::kTcpListener: {
          const int client = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (client >= 0) {
            fds.push_back({client, POLLIN, 0});
            kinds.push_back(Kind::kTcpConnection);
          }
          break;
        }
        case Kind::kUdp: {
          sockaddr_storage peer{};
          socklen_t peer_len = sizeof peer;
          const ssize_t n =
              recvfrom(fd, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&peer), &peer_len);
          if (n >= 0) {
            sendto(fd, buffer, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&peer),
                   peer_len);
          }
          break;
        }
        case Kind::kTcpConnection: {
          const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
          if (n > 0) {
            // Lab messages are a few bytes; a short write only happens on a dying connection.
            send(fd, buffer, static_cast<size_t>(n), MSG_NOSIGNAL);
          } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            close(fd);
            fds[i].fd = -1;  // poll ignores negative fds; compacted below
          }
          break;
        }
      }
      fds[i].revents = 0;
    }
    for (size_t i = fds.size(); i-- > 0;) {
      if (fds[i].fd < 0) {
        fds.erase(fds.begin() + static_cast<long>(i));
        kinds.erase(kinds.begin() + static_cast<long>(i));
      }
    }
  }
}

// The query: id, RD, one question, IN class.
std::vector<uint8_t> dnsQuery(const std::string& name, uint16_t qtype) {
  std::vector<uint8_t> q = {0x4d, 0x5a, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t start = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      if (i > start) {
        q.push_back(static_cast<uint8_t>(i - start));
        q.insert(q.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(i));
      }
      start = i + 1;
    }
  }
  q.insert(q.end(), {0, static_cast<uint8_t>(qtype >> 8), static_cast<uint8_t>(qtype), 0, 1});
  return q;
}

// Reads exactly `n` bytes before `deadline`.
Exit readFully(int fd, uint8_t* out, size_t n, Clock::time_point deadline) {
  size_t got = 0;
  while (got < n) {
    if (waitFor(fd, POLLIN, deadline) == 0) return kTimeout;
    const ssize_t r = recv(fd, out + got, n - got, 0);
    if (r == 0) return kNoEcho;
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return classifyError(errno);
    }
    got += static_cast<size_t>(r);
  }
  return kOk;
}

int runDns(const Options& options) {
  if (options.positional.size() != 2) return usage("dns needs SERVER and NAME");
  socklen_t len = 0;
  const auto server = numericAddress(options.positional[0], 53, &len);
  const long timeout_ms = options.number("--timeout-ms", 1000);
  const std::string type = options.text("--type").empty() ? "a" : options.text("--type");
  const std::string proto = options.text("--proto").empty() ? "udp" : options.text("--proto");
  if (!server || timeout_ms < 0 || (type != "a" && type != "aaaa") || (proto != "udp" && proto != "tcp")) {
    return usage("dns needs a numeric SERVER, --type a|aaaa, --proto udp|tcp");
  }
  const auto query = dnsQuery(options.positional[1], type == "a" ? muzzle::kDnsTypeA : muzzle::kDnsTypeAaaa);
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::milliseconds(timeout_ms);
  std::vector<uint8_t> reply(65535);
  size_t reply_len = 0;
  Exit result = kOk;
  int fd = -1;
  if (proto == "tcp") {
    Connection c = connectTcp(*server, len, timeout_ms, options.number("--mss", 0));
    fd = c.fd;
    result = c.status;
    if (result == kOk) {
      std::vector<uint8_t> framed = {static_cast<uint8_t>(query.size() >> 8), static_cast<uint8_t>(query.size())};
      framed.insert(framed.end(), query.begin(), query.end());
      uint8_t length[2];
      if (send(fd, framed.data(), framed.size(), MSG_NOSIGNAL) < 0) {
        result = classifyError(errno);
      } else if ((result = readFully(fd, length, 2, deadline)) == kOk) {
        reply_len = static_cast<size_t>(length[0] << 8 | length[1]);
        result = readFully(fd, reply.data(), reply_len, deadline);
      }
    }
  } else {
    fd = socket(server->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return kLocalFailure;
    if (connect(fd, reinterpret_cast<const sockaddr*>(&*server), len) != 0 ||
        send(fd, query.data(), query.size(), 0) < 0) {
      result = kUnreachable;
    } else {
      result = kTimeout;
      while (waitFor(fd, POLLIN, deadline) != 0) {
        const ssize_t n = recv(fd, reply.data(), reply.size(), 0);
        if (n >= 0) {
          reply_len = static_cast<size_t>(n);
          result = kOk;
          break;
        }
        if (errno == EAGAIN || errno == EINTR) continue;
        result = kUnreachable;
        break;
      }
    }
  }
  if (fd >= 0) close(fd);
  if (result != kOk) {
    std::printf("result=%s ms=%ld\n", resultName(result), msSince(start));
    return result;
  }
  auto message = std::make_unique<muzzle::DnsMessage>();
  const muzzle::DnsError error = muzzle::parseDnsMessage(std::span(reply.data(), reply_len), message.get());
  if (error != muzzle::DnsError::kOk) {
    std::printf("result=malformed error=%s ms=%ld\n", std::string(muzzle::dnsErrorName(error)).c_str(), msSince(start));
    return kNoEcho;
  }
  std::string addrs;
  for (size_t i = 0; i < message->record_count; ++i) {
    const muzzle::DnsRecord& r = message->records[i];
    if (r.type != muzzle::kDnsTypeA && r.type != muzzle::kDnsTypeAaaa) continue;
    addrs += (addrs.empty() ? "" : ",") + r.address.toString();
  }
  std::printf("result=answered rcode=%u addrs=%s ms=%ld\n", message->rcode, addrs.c_str(), msSince(start));
  return kOk;
}

// A DHCP message from `chaddr` (type 53 = `type`) with the identifying options, and `extra`
// options (already encoded) before the end option.
std::vector<uint8_t> dhcpMessage(const uint8_t chaddr[6], uint8_t type, const Options& options,
                                 bool broadcast, const std::vector<uint8_t>& extra) {
  std::vector<uint8_t> m(240, 0);
  m[0] = 1;  // BOOTREQUEST
  m[1] = 1;  // Ethernet
  m[2] = 6;
  m[4] = 0x4d;  // transaction id
  if (broadcast) m[10] = 0x80;  // answer by broadcast: the client has no address yet
  std::memcpy(&m[28], chaddr, 6);
  const uint8_t cookie[4] = {99, 130, 83, 99};
  std::memcpy(&m[236], cookie, 4);
  auto option = [&m](uint8_t code, const std::string& value) {
    if (value.empty()) return;
    m.push_back(code);
    m.push_back(static_cast<uint8_t>(std::min<size_t>(value.size(), 255)));
    m.insert(m.end(), value.begin(), value.begin() + std::min<size_t>(value.size(), 255));
  };
  m.insert(m.end(), {53, 1, type});
  m.insert(m.end(), {55, 4, 1, 3, 6, 15});  // subnet, router, DNS, domain
  option(12, options.text("--hostname"));
  option(60, options.text("--vendor-class"));
  option(161, options.text("--mud-url"));
  m.insert(m.end(), extra.begin(), extra.end());
  m.push_back(255);
  return m;
}

struct DhcpReply {
  uint8_t type = 0;
  uint8_t your_ip[4] = {};
  std::vector<uint8_t> server_id;  // option 54, as sent
  uint32_t lease = 0;
};

// Waits for a server's reply to our transaction until `deadline`.
std::optional<DhcpReply> awaitDhcpReply(int fd, Clock::time_point deadline) {
  uint8_t buf[1500];
  while (waitFor(fd, POLLIN, deadline) != 0) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 244 || buf[0] != 2 || buf[4] != 0x4d) continue;
    DhcpReply r;
    std::memcpy(r.your_ip, &buf[16], 4);
    for (ssize_t i = 240; i + 1 < n && buf[i] != 255;) {
      if (buf[i] == 0) {
        ++i;
        continue;
      }
      const uint8_t code = buf[i], len = buf[i + 1];
      if (i + 2 + len > n) break;
      const uint8_t* v = &buf[i + 2];
      if (code == 53 && len == 1) r.type = v[0];
      if (code == 54) r.server_id.assign(v, v + len);
      if (code == 51 && len == 4) r.lease = uint32_t{v[0]} << 24 | uint32_t{v[1]} << 16 | uint32_t{v[2]} << 8 | v[3];
      i += 2 + len;
    }
    return r;
  }
  return std::nullopt;
}

// Broadcasts a DHCPDISCOVER from IFACE's Ethernet address with the given identifying options,
// the way a device announces itself. --chaddr puts another hardware address in the message (a
// device speaking for another); --cut N sends only the first N bytes (a malformed request).
// Without --lease no answer is awaited: the point is what the gateway learns. With --lease it
// takes the offer (REQUEST, then ACK or NAK) and prints `result=ack ip=A lease=S`.
int runDhcp(const Options& options) {
  if (options.positional.size() != 1) return usage("dhcp needs IFACE");
  const std::string& iface = options.positional[0];
  const bool lease = options.text("--lease") == "yes";
  const long timeout_ms = options.number("--timeout-ms", 3000);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return kLocalFailure;
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface.c_str());
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) {
    std::fprintf(stderr, "labnet: %s: %s\n", iface.c_str(), std::strerror(errno));
    close(fd);
    return kLocalFailure;
  }
  uint8_t chaddr[6];
  std::memcpy(chaddr, ifr.ifr_hwaddr.sa_data, 6);
  if (const std::string text = options.text("--chaddr"); !text.empty()) {
    unsigned b[6];
    if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) {
      close(fd);
      return usage("--chaddr needs a MAC address");
    }
    for (int i = 0; i < 6; ++i) chaddr[i] = static_cast<uint8_t>(b[i]);
  }
  std::vector<uint8_t> m = dhcpMessage(chaddr, 1, options, lease, {});
  const long cut = options.number("--cut", -1);
  if (cut >= 0 && static_cast<size_t>(cut) < m.size()) m.resize(static_cast<size_t>(cut));

  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on));
  setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, iface.c_str(), static_cast<socklen_t>(iface.size()));
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_port = htons(68);
  if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) {
    std::fprintf(stderr, "labnet: bind :68: %s\n", std::strerror(errno));
    close(fd);
    return kLocalFailure;
  }
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(67);
  dst.sin_addr.s_addr = htonl(INADDR_BROADCAST);
  auto sendMessage = [&](const std::vector<uint8_t>& bytes) {
    return sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) ==
           static_cast<ssize_t>(bytes.size());
  };
  const bool sent = sendMessage(m);
  if (!lease || !sent) {
    close(fd);
    std::printf("result=%s bytes=%zu\n", sent ? "sent" : "failed", m.size());
    return sent ? kOk : kLocalFailure;
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto offer = awaitDhcpReply(fd, deadline);
  if (!offer || offer->type != 2) {
    close(fd);
    std::printf("result=timeout stage=offer\n");
    return kTimeout;
  }
  std::vector<uint8_t> extra = {50, 4};
  extra.insert(extra.end(), offer->your_ip, offer->your_ip + 4);
  if (!offer->server_id.empty()) {
    extra.push_back(54);
    extra.push_back(static_cast<uint8_t>(offer->server_id.size()));
    extra.insert(extra.end(), offer->server_id.begin(), offer->server_id.end());
  }
  sendMessage(dhcpMessage(chaddr, 3, options, true, extra));
  auto ack = awaitDhcpReply(fd, deadline);
  close(fd);
  char ip[INET_ADDRSTRLEN] = "";
  if (ack) inet_ntop(AF_INET, ack->your_ip, ip, sizeof ip);
  if (!ack) {
    std::printf("result=timeout stage=ack\n");
    return kTimeout;
  }
  if (ack->type != 5) {
    std::printf("result=nak\n");
    return kRefused;
  }
  std::printf("result=ack ip=%s lease=%u\n", ip, ack->lease);
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage("missing subcommand");
  // Output goes to log files that tests read while we run; never hold a line back.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::string_view command = argv[1];
  if (command == "serve") {
    const auto options = parseOptions(argc - 2, argv + 2, {"--tcp", "--udp", "--ready-file"});
    return options ? runServe(*options) : usage("bad serve options");
  }
  if (command == "tcp") {
    const auto options = parseOptions(argc - 2, argv + 2, {"--timeout-ms"});
    return options ? runTcp(*options) : usage("bad tcp options");
  }
  if (command == "udp") {
    const auto options = parseOptions(argc - 2, argv + 2, {"--timeout-ms", "--size"});
    return options ? runUdp(*options) : usage("bad udp options");
  }
  if (command == "hold") {
    const auto options = parseOptions(
        argc - 2, argv + 2, {"--interval-ms", "--max-ms", "--echo-timeout-ms", "--size", "--ready-file"});
    return options ? runHold(*options) : usage("bad hold options");
  }
  if (command == "burst") {
    const auto options = parseOptions(argc - 2, argv + 2, {"--flows"});
    return options ? runBurst(*options) : usage("bad burst options");
  }
  if (command == "dns") {
    const auto options = parseOptions(argc - 2, argv + 2, {"--type", "--proto", "--timeout-ms", "--mss"});
    return options ? runDns(*options) : usage("bad dns options");
  }
  if (command == "forge-dns") {
    const auto options = parseOptions(argc - 2, argv + 2, {"--other", "--real", "--forged", "--ready-file"});
    if (!options || options->positional.size() != 1) return usage("forge-dns needs ADDRESS");
    const int rc = labnet::runForgeDns(options->positional[0], options->text("--other"), options->text("--real"),
                                       options->text("--forged"), options->text("--ready-file"));
    return rc < 0 ? usage("forge-dns needs an IPv4 ADDRESS, --other NAME, --real IP, --forged IP") : rc;
  }
  if (command == "dhcp") {
    const auto options =
        parseOptions(argc - 2, argv + 2,
                     {"--hostname", "--vendor-class", "--mud-url", "--cut", "--chaddr", "--lease", "--timeout-ms"});
    return options ? runDhcp(*options) : usage("bad dhcp options");
  }
  return usage("unknown subcommand");
}
