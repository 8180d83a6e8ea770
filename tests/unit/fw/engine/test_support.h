// Shared by the engine's unit tests: a fake HostInfo, packets and DHCP messages built byte by
// byte, a FILE* that collects an EventLog's lines, the one-segment site the tests judge in, a
// Judge on it, and fake packet queues (one the test feeds, one whose thread the test hangs).
#pragma once

#include <doctest/doctest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "fw/device/oui_database.h"
#include "fw/engine/judge.h"
#include "fw/engine/site_probe.h"
#include "fw/nfq/packet_queue.h"
#include "fw/policy/policy_loader.h"
#include "tests/unit/support/memory_file.h"

namespace muzzle::testing {

constexpr uint32_t kSegmentIf = 7;  // br-cam, 198.18.10.0/24
constexpr uint32_t kUplinkIf = 3;

// The box as a test wants it: no interfaces to read, a neighbour table the test fills in.
class FakeHost : public HostInfo {
 public:
  Result<SiteFacts> siteFacts(const std::vector<DaemonSegment>&) override { return SiteFacts{}; }
  std::vector<NeighbourEntry> neighbours() override {
    ++reads;
    return table;
  }
  // No queue is bound in a test.
  Result<std::vector<KernelQueueStats>> kernelQueues(uint16_t, uint16_t) override {
    return std::vector<KernelQueueStats>{};
  }
  Result<ConntrackTableStats> conntrackTable() override { return conntrack; }
  Result<ConntrackTableStats> conntrack = ConntrackTableStats{};
  std::vector<NeighbourEntry> table;
  int reads = 0;
};

// An IPv4 or IPv6 packet (by the address text) around the transport header and payload `l4`.
inline std::vector<uint8_t> ipPacket(const char* src, const char* dst, uint8_t proto,
                                     const std::vector<uint8_t>& l4) {
  IpAddress s = *IpAddress::parse(src), d = *IpAddress::parse(dst);
  std::vector<uint8_t> b;
  if (!s.v6) {
    const size_t total = 20 + l4.size();
    b = {0x45, 0, uint8_t(total >> 8), uint8_t(total), 0, 0, 0x40, 0, 64, proto, 0, 0};
    b.insert(b.end(), s.bytes.begin(), s.bytes.begin() + 4);
    b.insert(b.end(), d.bytes.begin(), d.bytes.begin() + 4);
  } else {
    b = {0x60, 0, 0, 0, uint8_t(l4.size() >> 8), uint8_t(l4.size()), proto, 64};
    b.insert(b.end(), s.bytes.begin(), s.bytes.end());
    b.insert(b.end(), d.bytes.begin(), d.bytes.end());
  }
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

inline std::vector<uint8_t> udpPacket(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                                      const std::vector<uint8_t>& payload = {}) {
  const size_t len = 8 + payload.size();
  std::vector<uint8_t> l4 = {uint8_t(sport >> 8), uint8_t(sport), uint8_t(dport >> 8), uint8_t(dport),
                             uint8_t(len >> 8), uint8_t(len), 0, 0};
  l4.insert(l4.end(), payload.begin(), payload.end());
  return ipPacket(src, dst, 17, l4);
}

constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpPshAck = 0x18;

inline std::vector<uint8_t> tcpPacket(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                                      const std::vector<uint8_t>& payload = {}, uint8_t flags = kTcpSyn) {
  std::vector<uint8_t> l4 = {uint8_t(sport >> 8), uint8_t(sport), uint8_t(dport >> 8), uint8_t(dport),
                             0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0};
  l4.insert(l4.end(), payload.begin(), payload.end());
  return ipPacket(src, dst, 6, l4);
}

constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpRst = 0x04;
constexpr uint8_t kTcpAck = 0x10;
constexpr uint8_t kTcpSynAck = 0x12;

// A TCP segment with sequence number `seq`, for the tests that follow a stream.
inline std::vector<uint8_t> tcpSegment(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                                       uint32_t seq, uint8_t flags, const std::vector<uint8_t>& payload = {}) {
  std::vector<uint8_t> l4 = {uint8_t(sport >> 8), uint8_t(sport), uint8_t(dport >> 8), uint8_t(dport),
                             uint8_t(seq >> 24), uint8_t(seq >> 16), uint8_t(seq >> 8), uint8_t(seq),
                             0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0};
  l4.insert(l4.end(), payload.begin(), payload.end());
  return ipPacket(src, dst, 6, l4);
}

// `bytes` as the kernel would queue them: on `hook`, in on `indev`, out on `outdev`, from the
// Ethernet address `mac` (none when null), with the ruleset's hint `mark`. The payload points
// into `bytes`, which must outlive the packet.
inline QueuedPacket queuedPacket(const std::vector<uint8_t>& bytes, uint8_t hook, uint32_t indev,
                                 uint32_t outdev, const char* mac, uint32_t mark = 0) {
  QueuedPacket q;
  q.hook = hook;
  q.indev = indev;
  q.outdev = outdev;
  q.mark = mark;
  if (mac != nullptr) q.hwaddr = MacAddress::parse(mac);
  q.payload = bytes;
  return q;
}

// A queue the test feeds instead of the kernel: inject(n) makes n packets wait and the descriptor
// readable (an eventfd); drain(), on a queue thread, hands each waiting packet to deliver() and
// counts it as received. After failNextDrain(), every drain fails as a broken socket would.
class InjectedQueue : public PacketQueue {
 public:
  InjectedQueue() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~InjectedQueue() override { close(fd_); }
  void inject(uint64_t n) {
    pending_ += n;
    const uint64_t one = 1;
    CHECK(write(fd_, &one, sizeof(one)) == sizeof(one));
  }
  void failNextDrain() { fail_ = true; }

  int fd() const override { return fd_; }
  Result<size_t> drain(PacketSink& sink) override {
    uint64_t ignored;
    (void)!read(fd_, &ignored, sizeof(ignored));
    ++drains;
    if (fail_) return Status::error("fake queue: the socket broke");
    const uint64_t n = pending_.exchange(0);
    for (uint64_t i = 0; i < n; ++i) deliver(sink, i);
    received_ += n;
    return static_cast<size_t>(n);
  }
  QueueCounters counters() const override {
    QueueCounters c;
    c.received = received_;
    return c;
  }
  std::atomic<uint64_t> drains{0};

 protected:
  // Hands the `i`th packet of this drain to `sink`; runs on the draining thread.
  virtual void deliver(PacketSink& sink, uint64_t i) = 0;

 private:
  int fd_;
  std::atomic<uint64_t> pending_{0};
  std::atomic<uint64_t> received_{0};
  std::atomic<bool> fail_{false};
};

// A queue whose waits the test can wedge, as a queue thread hangs: until wedge(), waitAndDrain()
// returns with nothing within a millisecond (an idle turn); after it, the next wait blocks
// until release(). waitStuck() gives up after kStuckWait (a loaded machine's worst), so a
// regression fails instead of hanging the run.
class WedgeableQueue : public PacketQueue {
 public:
  static constexpr auto kStuckWait = std::chrono::seconds(20);

  void wedge() {
    std::lock_guard<std::mutex> lock(mu_);
    wedged_ = true;
  }
  // Idempotent.
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    wedged_ = false;
    cv_.notify_all();
  }
  // True once the queue thread is inside a wedged wait.
  bool waitStuck() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kStuckWait, [this] { return stuck_; });
  }

  int fd() const override { return -1; }
  Result<size_t> drain(PacketSink&) override { return size_t{0}; }
  Result<size_t> waitAndDrain(PacketSink&, std::chrono::milliseconds max_wait) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (!wedged_) {
      cv_.wait_for(lock, std::min(max_wait, std::chrono::milliseconds(1)));
      return size_t{0};
    }
    stuck_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return !wedged_; });
    stuck_ = false;
    return size_t{0};
  }
  QueueCounters counters() const override { return {}; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool wedged_ = false;
  bool stuck_ = false;
};

// The camera segment every engine test judges in: br-cam, 198.18.10.1 on 198.18.10.0/24.
inline SiteFacts cameraSite() {
  SiteFacts site;
  SegmentFacts seg;
  seg.name = "cameras";
  seg.ifname = "br-cam";
  seg.ifindex = kSegmentIf;
  seg.gateway_addresses = {*IpAddress::parse("198.18.10.1")};
  seg.subnets = {*Cidr::parse("198.18.10.0/24")};
  site.segments.push_back(seg);
  site.box_addresses = seg.gateway_addresses;
  return site;
}

// A DHCP message (op 1 request, 2 reply) of `type` (option 53) from the client `chaddr`, with
// option 12 `hostname` unless empty, `yiaddr` and option 51 `lease` seconds unless 0.
inline std::vector<uint8_t> dhcpMessage(uint8_t op, const char* chaddr, uint8_t type,
                                        const std::string& hostname, const char* yiaddr = "0.0.0.0",
                                        uint32_t lease = 0) {
  std::vector<uint8_t> m(240, 0);
  m[0] = op;
  m[1] = 1;
  m[2] = 6;
  const IpAddress your = *IpAddress::parse(yiaddr);
  for (int i = 0; i < 4; ++i) m[16 + i] = your.bytes[i];
  const uint64_t mac = MacAddress::parse(chaddr)->value;
  for (int i = 0; i < 6; ++i) m[28 + i] = static_cast<uint8_t>(mac >> (40 - 8 * i));
  m[236] = 99, m[237] = 130, m[238] = 83, m[239] = 99;
  m.insert(m.end(), {53, 1, type});
  if (!hostname.empty()) {
    m.push_back(12), m.push_back(static_cast<uint8_t>(hostname.size()));
    m.insert(m.end(), hostname.begin(), hostname.end());
  }
  if (lease != 0)
    m.insert(m.end(), {51, 4, uint8_t(lease >> 24), uint8_t(lease >> 16), uint8_t(lease >> 8),
                       uint8_t(lease)});
  m.push_back(255);
  return m;
}

// The camera site's policy: the listed lobby camera (44:47:cc:00:00:11) reaches the NVR and the
// NVR reaches it, both on 554; unlisted devices are classified (a Hikvision vendor: camera; a
// DHCP hostname ECOVACS*: vacuum, which may reach 203.0.113.20:443) or quarantined (DNS to the
// gateway only).
constexpr const char* kCameraSitePolicy = R"(
version: 1
addresses: {nvr: [198.18.1.10, fd00:1::10]}
profiles:
  camera:
    egress: [{allow: [nvr], proto: tcp, ports: [554]}]
    inbound: [{allow: [nvr], proto: tcp, ports: [554]}]
  vacuum: {egress: [{allow: [203.0.113.20], proto: tcp, ports: [443]}]}
  quarantine: {egress: [{allow: [gateway], proto: udp, ports: [53]}]}
defaults: {profile: quarantine}
devices:
  - {name: lobby-cam, mac: "44:47:cc:00:00:11", profile: camera}
classify:
  - {dhcp_hostname: "ECOVACS*", profile: vacuum}
  - {vendor: "Hangzhou Hikvision Digital Technology Co.,Ltd.", profile: camera}
)";

// The IEEE registry's row for Hikvision's 44:47:cc, for tests that classify by vendor.
constexpr const char* kHikvisionOui =
    "MA-L,4447CC,\"Hangzhou Hikvision Digital Technology Co.,Ltd.\",x\n";

// What a judge test starts from: a Judge on the camera segment with its clock, host and a log
// the test reads back. With `vendors`, the judge names vendors from `oui`, empty until the test
// adds to it (kHikvisionOui); without, it names none.
struct CameraJudge {
  explicit CameraJudge(bool vendors = false, const JudgeLimits& limits = {})
      : log(out.get(), clock), judge(log, clock, host, vendors ? &oui : nullptr, limits) {}
  // Compiles `text` for `site` and makes it generation `generation`; the test stops here if it
  // does not compile.
  void setPolicy(const char* text, uint32_t generation, const SiteFacts& site = cameraSite()) {
    auto p = compilePolicyText(text, "policy.yaml", site);
    REQUIRE_MESSAGE(p.ok(), p.status().message());
    judge.setPolicy(*p, generation);
  }
  std::string logText() {
    log.flush();  // lines reach the file on the log's delivery thread
    return out.text();
  }

  MemoryFile out;
  ManualClock clock;
  FakeHost host;
  OuiDatabase oui;
  EventLog log;
  Judge judge;
};

}  // namespace muzzle::testing
