// Daemon: muzzled's engine thread. It owns the Boost.Asio loop that waits on the netfilter queue
// socket and on signals, the Judge that answers packets, and the policy lifecycle:
//   start:   probe the queue action, compile the policy, pick the generation, bind the queues,
//            install the ruleset (in that order, so no packet is queued before someone listens);
//   SIGHUP:  recompile; an invalid file is logged and the running policy stays;
//   SIGTERM: stop. The ruleset stays installed, so fail_mode keeps applying while muzzled is
//            down; `muzzled --remove-ruleset` takes it away.
// A config with no segment makes an idle daemon: start() touches neither nftables nor the queues,
// run() waits for signals only. It still reports ready, so the packaged default (which manages
// nothing) is a healthy service that cannot cut the box's traffic.
// With a ServiceNotifier, run() sends READY=1 before it waits (start() has then installed the
// ruleset and bound the queues), WATCHDOG=1 from a timer on the engine loop (a stuck engine stops
// pinging and systemd restarts it), and STOPPING=1 on the way out.
#pragma once

#include <memory>
#include <string>

#include "fw/common/clock.h"
#include "fw/common/status.h"
#include "fw/config/daemon_config.h"
#include "fw/engine/event_log.h"
#include "fw/engine/judge.h"
#include "fw/engine/service_notifier.h"
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
  // Optional; call before run(). "*notifier" must outlive the Daemon. Without one, nothing is
  // notified (muzzled run by hand or by tests).
  void setServiceNotifier(ServiceNotifier* notifier) { notifier_ = notifier; }
  // True when the config names no segment (see above).
  bool idle() const { return config_.segments.empty(); }

 private:
  struct Loop;
  Status applyPolicy(bool initial);
  void logCounters(const char* event);
  void notify(const std::vector<std::pair<std::string, std::string>>& fields);
  std::string statusText() const;

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
  ServiceNotifier* notifier_ = nullptr;
};

}  // namespace muzzle
