// `labnet forge-dns`: a hostile resolver for the lab. It listens on ADDRESS port 53 (UDP and
// TCP) and answers every query in the ways a resolver (or anyone on its path) might use to make
// Muzzle learn a name it did not resolve:
//   UDP, for a query (ID, NAME, type): four datagrams, in this order
//     1. another ID, NAME -> FORGED           (answers no question asked)
//     2. the ID, OTHER -> FORGED              (answers a question not asked)
//     3. the ID, NAME -> REAL                 (the answer: Muzzle learns this one)
//     4. the ID, NAME -> FORGED               (a second answer to one question)
//   TCP: one answer to the question whose TXT record spells a whole framed message
//     "OTHER -> FORGED" with the query's ID, sent in two segments cut where that message starts,
//     so a reader that takes each segment as the start of a message reads the forged one.
// Until killed. Prints `result=answered proto=udp|tcp name=NAME` per query it answers.
#include "tests/lab/forge_dns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "fw/common/net.h"

namespace labnet {
namespace {

void put16(std::vector<uint8_t>& m, uint16_t v) {
  m.push_back(static_cast<uint8_t>(v >> 8));
  m.push_back(static_cast<uint8_t>(v));
}

void putName(std::vector<uint8_t>& m, const std::string& name) {
  size_t start = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      if (i > start) {
        m.push_back(static_cast<uint8_t>(i - start));
        m.insert(m.end(), name.begin() + static_cast<long>(start),
                 name.begin() + static_cast<long>(i));
      }
      start = i + 1;
    }
  }
  m.push_back(0);
}

// A response to (id, name, A) with one A record.
std::vector<uint8_t> answerA(uint16_t id, const std::string& name,
                             const muzzle::IpAddress& address) {
  std::vector<uint8_t> m;
  put16(m, id);
  m.insert(m.end(), {0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0});
  putName(m, name);
  m.insert(m.end(), {0, 1, 0, 1, 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4});
  m.insert(m.end(), address.bytes.begin(), address.bytes.begin() + 4);
  return m;
}

// A response to (id, name, qtype) holding one TXT record whose text is `text` (<= 255 bytes).
std::vector<uint8_t> answerTxt(uint16_t id, const std::string& name, uint16_t qtype,
                               const std::vector<uint8_t>& text) {
  std::vector<uint8_t> m;
  put16(m, id);
  m.insert(m.end(), {0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0});
  putName(m, name);
  put16(m, qtype);
  m.insert(m.end(), {0, 1, 0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 60});
  put16(m, static_cast<uint16_t>(text.size() + 1));
  m.push_back(static_cast<uint8_t>(text.size()));
  m.insert(m.end(), text.begin(), text.end());
  return m;
}

std::vector<uint8_t> framed(const std::vector<uint8_t>& m) {
  std::vector<uint8_t> out;
  put16(out, static_cast<uint16_t>(m.size()));
  out.insert(out.end(), m.begin(), m.end());
  return out;
}

// The ID, name (as sent) and type of a query; false if it is not one we can echo.
bool readQuery(const uint8_t* p, size_t n, uint16_t* id, std::string* name, uint16_t* qtype) {
  if (n < 17) return false;
  *id = static_cast<uint16_t>(p[0] << 8 | p[1]);
  name->clear();
  size_t at = 12;
  while (at < n && p[at] != 0) {
    const size_t len = p[at];
    if (len > 63 || at + 1 + len >= n) return false;
    if (!name->empty()) name->push_back('.');
    name->append(reinterpret_cast<const char*>(p + at + 1), len);
    at += 1 + len;
  }
  if (at + 5 > n) return false;
  *qtype = static_cast<uint16_t>(p[at + 1] << 8 | p[at + 2]);
  return true;
}

struct Plan {
  std::string other;
  muzzle::IpAddress real;
  muzzle::IpAddress forged;
};

void answerUdp(int fd, const Plan& plan) {
  uint8_t buf[1500];
  sockaddr_storage from{};
  socklen_t from_len = sizeof from;
  const ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
  uint16_t id = 0, qtype = 0;
  std::string name;
  if (n <= 0 || !readQuery(buf, static_cast<size_t>(n), &id, &name, &qtype)) return;
  const std::vector<std::vector<uint8_t>> replies = {
      answerA(static_cast<uint16_t>(id ^ 0x5A5A), name, plan.forged),
      answerA(id, plan.other, plan.forged),
      answerA(id, name, plan.real),
      answerA(id, name, plan.forged),
  };
  for (const auto& r : replies) {
    sendto(fd, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
  }
  std::printf("result=answered proto=udp name=%s\n", name.c_str());
}

void answerTcp(int listener, const Plan& plan) {
  const int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return;
  const int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  timeval timeout{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::vector<uint8_t> query;
  uint8_t buf[1024];
  while (query.size() < 2 || query.size() < 2u + (query[0] << 8 | query[1])) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      close(fd);
      return;
    }
    query.insert(query.end(), buf, buf + n);
  }
  uint16_t id = 0, qtype = 0;
  std::string name;
  if (readQuery(query.data() + 2, query.size() - 2, &id, &name, &qtype)) {
    const auto fake = framed(answerA(id, plan.other, plan.forged));
    const auto reply = framed(answerTxt(id, name, qtype, fake));
    const size_t cut = reply.size() - fake.size();
    send(fd, reply.data(), cut, MSG_NOSIGNAL);
    // Apart in time, so the two writes leave as two segments (Nagle is off).
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    send(fd, reply.data() + cut, reply.size() - cut, MSG_NOSIGNAL);
    std::printf("result=answered proto=tcp name=%s\n", name.c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  close(fd);
}

int bound(int type, const std::string& address) {
  const auto ip = muzzle::IpAddress::parse(address);
  if (!ip || ip->v6) return -1;
  const int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(53);
  std::memcpy(&a.sin_addr, ip->bytes.data(), 4);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      (type == SOCK_STREAM && listen(fd, 8) != 0)) {
    std::fprintf(stderr, "labnet: forge-dns on %s:53: %s\n", address.c_str(), std::strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int runForgeDns(const std::string& address, const std::string& other, const std::string& real,
                const std::string& forged, const std::string& ready_file) {
  Plan plan;
  plan.other = other;
  const auto r = muzzle::IpAddress::parse(real), f = muzzle::IpAddress::parse(forged);
  if (other.empty() || !r || !f || r->v6 || f->v6) return -1;
  plan.real = *r;
  plan.forged = *f;
  const int udp = bound(SOCK_DGRAM, address);
  const int tcp = bound(SOCK_STREAM, address);
  if (udp < 0 || tcp < 0) return 70;
  if (!ready_file.empty()) {
    if (FILE* file = std::fopen(ready_file.c_str(), "w")) std::fclose(file);
  }
  for (;;) {
    pollfd fds[2] = {{udp, POLLIN, 0}, {tcp, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 70;
    }
    if (fds[0].revents & POLLIN) answerUdp(udp, plan);
    if (fds[1].revents & POLLIN) answerTcp(tcp, plan);
  }
}

}  // namespace labnet
