// The seam between the engine and the kernel's netfilter queues. NfqPacketQueue implements it
// with libnetfilter_queue over libmnl; tests use a fake.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fw/common/net.h"
#include "fw/common/status.h"

namespace muzzle {

// One packet as the kernel queued it. `payload` points into the queue's receive buffer and is
// valid only during PacketSink::onPacket.
struct QueuedPacket {
  uint16_t queue = 0;
  uint32_t packet_id = 0;
  uint8_t hook = 0;           // NF_INET_* hook number (NF_INET_FORWARD, NF_INET_LOCAL_IN, ...)
  uint16_t l3_protocol = 0;   // ETH_P_IP or ETH_P_IPV6 (host order)
  uint32_t indev = 0;         // ifindex the packet came in on (0 if none)
  uint32_t outdev = 0;        // ifindex it goes out on (0 if none or not yet routed)
  uint32_t physindev = 0;     // bridge port it came in on, when it crossed a bridge
  uint32_t mark = 0;
  std::optional<MacAddress> hwaddr;  // source Ethernet address, when the packet had one
  std::span<const uint8_t> payload;  // starts at the IP header; a prefix on a header-only queue
  uint32_t wire_length = 0;          // the packet's real length (>= payload.size())
};

// What to tell the kernel about a packet. NF_REPEAT re-runs the hook with the new mark, which is
// how verdicts reach the conntrack mark (see fw/nft/marks.h).
struct PacketVerdict {
  uint32_t verdict = 0;  // NF_ACCEPT, NF_DROP or NF_REPEAT
  std::optional<uint32_t> mark;
};

class PacketSink {
 public:
  virtual ~PacketSink() = default;
  // Called on the draining thread for every packet of the queue, in arrival order. Must not block.
  virtual PacketVerdict onPacket(const QueuedPacket& packet) = 0;
};

struct QueueCounters {
  uint64_t received = 0;        // packets handed to the sink
  uint64_t verdicts_sent = 0;
  uint64_t send_batches = 0;    // sendmsg calls carrying verdicts
  uint64_t malformed_messages = 0;  // netlink messages we could not read (counted, skipped)
  uint64_t enobufs = 0;         // the kernel dropped messages because our socket was full

  QueueCounters& operator+=(const QueueCounters& o) {
    received += o.received;
    verdicts_sent += o.verdicts_sent;
    send_batches += o.send_batches;
    malformed_messages += o.malformed_messages;
    enobufs += o.enobufs;
    return *this;
  }
};

// How much of each packet the kernel copies to user space. A flow decision needs only the
// headers (IP, extension headers, ports); DNS answers and DHCP requests are read whole.
// 512 bytes hold any IPv4 header with options plus TCP with options, and IPv6 with ~400 bytes of
// extension headers; a packet whose headers run past that is dropped as truncated (counted).
constexpr uint32_t kHeaderCopyRange = 512;
constexpr uint32_t kWholePacketCopyRange = 0xffff;

struct QueueBinding {
  uint16_t number = 100;
  uint32_t copy_range = kWholePacketCopyRange;
};

// A queue that holds max_len packets drops the next ones (the kernel counts them in queue_dropped,
// fw/nfq/kernel_queue_stats.h), and so does a socket too full to take one (user_dropped), whatever
// fail_mode says. There is no option to accept them instead (the kernel's NFQA_CFG_F_FAIL_OPEN):
// any device on a segment that opens new flows faster than muzzled judges them would fill the
// queue and pass its denied flows, and every other device's, unjudged. fail_mode open means "new
// flows pass while muzzled is down", which the ruleset's queue bypass gives (fw/nft/ruleset.h);
// a muzzled that is alive but slow is not down (and one whose engine or queue thread is stuck is
// restarted by systemd's watchdog, image/systemd/muzzled.service and fw/engine/queue_liveness.h:
// the bypass applies while it restarts).
struct QueueOptions {
  std::vector<QueueBinding> queues{QueueBinding{}};  // bound on one socket
  uint32_t max_len = 4096;       // packets the kernel may hold waiting for a verdict, per queue
};

class PacketQueue {
 public:
  virtual ~PacketQueue() = default;
  // The descriptor to wait on for readability. drain() never blocks on it.
  virtual int fd() const = 0;
  // Reads every message available now without blocking, calls `sink` for each packet, and sends
  // the verdicts, several per sendmsg. Returns the number of packets handled. A failure here is
  // a broken socket, not a bad packet (bad packets are counted and dropped).
  virtual Result<size_t> drain(PacketSink& sink) = 0;
  // Waits until a packet is there, at most `max_wait`, then drains as drain() does; 0 packets
  // when the time ran out. This one waits in poll(2) and then drains; the kernel queue waits
  // in its first receive instead, one system call a wake-up fewer (fw/nfq/nfq_packet_queue.cc).
  virtual Result<size_t> waitAndDrain(PacketSink& sink, std::chrono::milliseconds max_wait);
  virtual QueueCounters counters() const = 0;
};

// Binds `options.queues` on one netlink socket in the calling thread's network namespace.
// A socket reads up to 32 packets per recvmmsg.
// Needs CAP_NET_ADMIN. Fails with a clear message if another process holds a queue.
// The queue object is used by one thread at a time, except counters(), which any thread may
// call while another drains.
Result<std::unique_ptr<PacketQueue>> openNfqPacketQueue(const QueueOptions& options);

}  // namespace muzzle
