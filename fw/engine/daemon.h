// Daemon: muzzled's engine thread. It owns the Boost.Asio loop that waits on the netfilter queue
// socket and on signals, the Judge that answers packets, and the policy lifecycle:
//   start:   probe the queue action, compile the policy, pick the generation, bind the queues,
//            install the ruleset (in that order, so no packet is queued before someone listens);
//   SIGHUP:  recompile; an invalid file is logged and the running policy stays;
//   SIGTERM: stop. The ruleset stays installed, so fail_mode keeps applying while muzzled is
//            down; `muzzled --remove-ruleset` takes it away.
#pragma once

#include <memory>
#include <string>

#include "fw/common/clock.h"
#include "fw/common/status.h"
#include "fw/config/daemon_config.h"
#include "fw/engine/event_log.h"
#include "fw/engine/judge.h"
#include "fw/engine/site_probe.h"
#include "fw/nfq/packet_queue.h"
#include "fw/nft/ruleset.h"

namespace muzzle {

// Opens the packet queue; a seam so the daemon can be driven without the kernel.
using QueueOpener = Result<std::unique_ptr<PacketQueue>> (*)(const QueueOptions&);

class Daemon {
 public:
  // All references must outlive the Daemon.
  Daemon(DaemonConfig config, RulesetWriter& ruleset, HostInfo& host, QueueOpener open_queue,
         EventLog& log, const Clock& clock);
  ~Daemon();

  Status start();
  // Runs until SIGTERM or SIGINT. Returns the process exit code.
  int run();
  // Re-reads the policy file and applies it if valid. Public for tests; SIGHUP calls it.
  Status reload();

 private:
  struct Loop;
  Status applyPolicy(bool initial);
  void logCounters(const char* event);

  DaemonConfig config_;
  RulesetWriter& ruleset_;
  HostInfo& host_;
  QueueOpener open_queue_;
  EventLog& log_;
  const Clock& clock_;
  Judge judge_;
  QueueMode queue_mode_ = QueueMode::kCompat;
  uint32_t generation_ = 0;
  std::unique_ptr<PacketQueue> queue_;
  std::unique_ptr<Loop> loop_;
};

}  // namespace muzzle
