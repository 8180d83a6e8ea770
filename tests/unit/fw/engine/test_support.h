// Shared by the engine's unit tests: a fake HostInfo, packets built byte by byte, a FILE* that
// collects an EventLog's lines, and the one-segment site the tests judge in.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fw/engine/site_probe.h"
#include "fw/nfq/packet_queue.h"

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

// A FILE* whose contents a test can read back: where its EventLog writes.
class MemoryFile {
 public:
  MemoryFile() : file_(open_memstream(&buf_, &len_)) {}
  ~MemoryFile() {
    fclose(file_);
    free(buf_);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  FILE* get() { return file_; }
  std::string text() {
    fflush(file_);
    return std::string(buf_, len_);
  }

 private:
  char* buf_ = nullptr;
  size_t len_ = 0;
  FILE* file_;
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

}  // namespace muzzle::testing
