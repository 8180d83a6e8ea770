// The kernel's own counters for netfilter queues, from /proc/net/netfilter/nfnetlink_queue (one
// file per network namespace: it shows the queues of the namespace of the reading process).
// They count what muzzled cannot see itself: packets the kernel dropped because a queue was full
// (queue_dropped) or because our socket was full when it tried to deliver (user_dropped), and how
// many packets wait for a verdict right now (queue_total).
//
// parseKernelQueueStats is pure (tested without root); readKernelQueueStats reads the real file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fw/common/status.h"

namespace muzzle {

inline constexpr const char* kNfnetlinkQueuePath = "/proc/net/netfilter/nfnetlink_queue";

// One line of the file. The kernel prints, per bound queue:
//   queue_number peer_portid queue_total copy_mode copy_range queue_dropped user_dropped
//   id_sequence 1
struct KernelQueueStats {
  uint16_t queue = 0;
  uint32_t peer_portid = 0;    // netlink port id of the process bound to the queue
  uint64_t waiting = 0;        // queue_total: packets waiting for a verdict now
  uint64_t queue_dropped = 0;  // dropped because the queue held max_len packets (any fail_mode)
  uint64_t user_dropped = 0;   // dropped because the listener's socket buffer was full
  uint64_t id_sequence = 0;    // packets ever handed to user space (the last packet id)
};

// Sums over several queues. `queues` is how many lines contributed.
struct KernelQueueTotals {
  uint32_t queues = 0;
  uint64_t waiting = 0;
  uint64_t queue_dropped = 0;
  uint64_t user_dropped = 0;
};

// Parses the file's text, keeping only queues in [first, first + count), in file order. Queues in
// the range that are not bound have no line and are simply absent. A line that is not at least
// eight unsigned numbers fails the whole parse with kInvalidArgument, naming `label`, the line
// number and the line: the format is the kernel's ABI, so a surprise there is worth a loud
// message rather than numbers that quietly read zero. Columns past the eighth are ignored.
Result<std::vector<KernelQueueStats>> parseKernelQueueStats(std::string_view text, uint16_t first,
                                                            uint16_t count,
                                                            std::string_view label = kNfnetlinkQueuePath);

KernelQueueTotals sumKernelQueueStats(const std::vector<KernelQueueStats>& queues);

// Reads and parses `path` (the calling thread's network namespace for the default). Fails with a
// message naming the file when it cannot be read, e.g. when the nfnetlink_queue module is not
// loaded (no queue was ever bound in this boot).
Result<std::vector<KernelQueueStats>> readKernelQueueStats(uint16_t first, uint16_t count,
                                                           const std::string& path = kNfnetlinkQueuePath);

// The counters file, opened once and read again from its start each time. The file is root's
// (mode 0440), so muzzled started as root opens it before it drops to the muzzle user
// (fw/engine/privileges.h). The file exists only while nfnetlink_queue is loaded: open() first
// asks the kernel to load it, with the no-op "bind protocol family" message of the queue
// subsystem (the kernel loads a subsystem's module on its first message). Engine thread only.
class KernelQueueStatsFile {
 public:
  // Never fails: when the file cannot be opened now, read() tries `path` afresh each time (and
  // reports why it cannot, e.g. permission).
  static std::unique_ptr<KernelQueueStatsFile> open(const std::string& path = kNfnetlinkQueuePath);
  ~KernelQueueStatsFile();
  KernelQueueStatsFile(const KernelQueueStatsFile&) = delete;
  KernelQueueStatsFile& operator=(const KernelQueueStatsFile&) = delete;

  Result<std::vector<KernelQueueStats>> read(uint16_t first, uint16_t count);

 private:
  KernelQueueStatsFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;  // -1: not open
};

}  // namespace muzzle
