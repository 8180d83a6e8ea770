#include "fw/engine/queue_liveness.h"

#include <algorithm>

namespace muzzle {
namespace {

uint64_t wholeSeconds(std::chrono::steady_clock::duration d) {
  return static_cast<uint64_t>(
      std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(d).count()));
}

}  // namespace

void QueueLiveness::watch(std::string thread, std::string queues) {
  threads_.push_back(Thread{std::move(thread), std::move(queues)});
}

std::vector<LogLine> QueueLiveness::check(std::span<const uint64_t> turns,
                                          std::chrono::steady_clock::time_point now) {
  std::vector<LogLine> lines;
  const size_t n = std::min(turns.size(), threads_.size());
  for (size_t i = 0; i < n; ++i) {
    Thread& t = threads_[i];
    if (!t.seen || turns[i] != t.turns) {
      if (t.stalled) {
        lines.push_back(LogLine("queue-resumed")
                            .add("queue", t.queues)
                            .add("thread", t.name)
                            .add("seconds", wholeSeconds(now - t.turned_at)));
        t.stalled = false;
      }
      t.seen = true;
      t.turns = turns[i];
      t.turned_at = now;
      continue;
    }
    if (!t.stalled && now - t.turned_at > stall_after_) {
      t.stalled = true;
      ++stalls_;
      lines.push_back(LogLine("queue-stalled")
                          .add("queue", t.queues)
                          .add("thread", t.name)
                          .add("seconds", wholeSeconds(now - t.turned_at)));
    }
  }
  return lines;
}

size_t QueueLiveness::stalledNow() const {
  return static_cast<size_t>(
      std::count_if(threads_.begin(), threads_.end(), [](const Thread& t) { return t.stalled; }));
}

}  // namespace muzzle
