// What every `muzzlectl fleet` command shares: the fleet directory read (and refused with its
// errors), the TLS files (the command line's --ca/--cert/--key over fleet.yaml's), a channel per
// box, and work spread over the boxes with a bound on how many are worked on at once.
#pragma once

#include <signal.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "mgmt/ctl/client.h"
#include "mgmt/ctl/invocation.h"
#include "mgmt/fleet/fleet_dir.h"

namespace muzzle::ctl {

// Boxes worked on at once when neither --parallel nor fleet.yaml's rollout.parallel says.
inline constexpr size_t kDefaultFleetParallel = 32;

// The fleet directory `dir`, or nullopt after printing its errors to `err` (exit kExitInvalid).
std::optional<fleet::FleetDir> loadFleet(const std::string& dir, std::ostream& err);

// The TLS files for the fleet's boxes: each of --ca/--cert/--key/--server-name given on the
// command line, else fleet.yaml's `tls`.
TlsFiles fleetTls(const fleet::FleetDir& fleet, const GlobalOptions& options);

// The member as a Box (name, target) for connect().
Box boxOf(const fleet::Member& member);

// Calls `work(i)` for i in [0, count), at most `parallel` at once (at least 1), and returns when
// all are done. `work` must be safe to call from several threads.
void forEachBounded(size_t count, size_t parallel, const std::function<void(size_t)>& work);

// SIGINT and SIGTERM blocked in this thread and in every thread started after it (gRPC's own
// too: make one before the first channel), so a long fleet command takes them with wait() and
// stops cleanly instead of being killed mid-step; the old mask is put back when it ends.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  // The signal that came within `wait`, or 0.
  int wait(std::chrono::milliseconds wait) const;

 private:
  sigset_t set_, old_;
};

}  // namespace muzzle::ctl
