// `muzzlectl fleet apply`: a fleet's desired policies rolled out in waves, each box with
// commit-confirmed, each wave confirmed only once every box of it passed the health gate.
//
//   wave 1 (the canary) -> wave 2 -> ... ; in each wave, at most `parallel` boxes at once:
//     sample (GetStatus) ... window ... sample      the deny rate before the change
//     apply with confirm_seconds                    the box rolls back by itself without a confirm
//     sample ... window ... sample                  the deny rate after it
//     gate: reachable, queues bound, running the applied revision, no policy-error event since
//           the apply, deny rate <= max(multiple x before, floor)
//   all of the wave passed -> confirm each box of it; then the next wave.
//   any failure (an apply refused, a box unreachable, a gate failed) -> the rollout halts: the
//   wave's boxes are not confirmed (each rolls back by itself at its deadline), later waves are
//   not touched, and the state says why.
//
// The state (RolloutState, fleet.proto) is saved after every step, so the same command run again
// resumes: confirmed boxes are skipped, a box left applied-but-unconfirmed is checked (still
// pending with our revision: gated and confirmed; rolled back: applied again), untouched boxes
// go on as planned. A halted rollout is not resumed: the admin fixes the fleet directory (a new
// desired state is a new rollout) or starts over (`restart`).
//
// Boxes are reached through BoxLink, so the whole procedure runs against fakes in unit tests and
// over gRPC in muzzlectl (mgmt/ctl/fleet_link.h). Time goes through a Sleeper for the same reason.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fw/common/status.h"
#include "muzzle/v1/fleet.pb.h"

namespace muzzle::fleet {

// What the gate reads of a box (GetStatus).
struct BoxSample {
  uint64_t denied = 0;          // sum over its queues of rejected + dropped: every denied flow
  uint32_t queues = 0;          // queues bound
  uint64_t revision = 0;        // running policy revision
  uint64_t pending_revision = 0;  // 0 when no commit awaits confirmation
  uint64_t event_epoch = 0;
  uint64_t last_event_sequence = 0;
  std::chrono::steady_clock::time_point at;  // when the client got the answer
};

struct Applied {
  uint64_t revision = 0;
  uint64_t previous_revision = 0;
  bool unchanged = false;  // the box already ran this text: nothing to confirm
  std::string deadline;    // RFC 3339, when pending
};

// One box as the rollout sees it. Each call may fail (kUnavailable when unreachable; the box's
// own code otherwise, its message kept). Called from the rollout's worker threads, one call at a
// time per box.
class BoxLink {
 public:
  virtual ~BoxLink() = default;
  virtual Result<BoxSample> sample() = 0;
  // The running policy's text and revision, and the pending commit's revision (0: none).
  struct Policy {
    uint64_t revision = 0;
    std::string text;
    uint64_t pending_revision = 0;
  };
  virtual Result<Policy> policy() = 0;
  virtual Result<Applied> apply(const std::string& text, uint32_t confirm_seconds,
                                const std::string& comment) = 0;
  virtual Status confirm(uint64_t revision) = 0;
  // Whether an event named `policy-error` came after (epoch, sequence).
  virtual Result<bool> policyErrorSince(uint64_t epoch, uint64_t sequence) = 0;
};

class Sleeper {
 public:
  virtual ~Sleeper() = default;
  // Returns early (false) when the rollout is being stopped.
  virtual bool sleepFor(std::chrono::milliseconds d) = 0;
};

struct RolloutBox {
  std::string name;
  std::string desired_text;
  std::function<std::unique_ptr<BoxLink>()> connect;  // a link for this box
};

struct RolloutOptions {
  std::string waves = "1,10%,rest";
  uint32_t confirm_seconds = 600;
  uint32_t parallel = 16;
  std::chrono::milliseconds window{10'000};
  double deny_rate_multiple = 3.0;
  double deny_rate_floor = 1.0;  // denials per second
  std::string comment;
  bool restart = false;  // ignore a saved state (halted or not) and start over
};

// One line of progress, as it happens ("wave 2/3: north-07 applied, revision 5, confirm by ...").
using Progress = std::function<void(const std::string& line)>;

struct RolloutResult {
  v1::RolloutState state;  // as saved last
  bool done = false;       // every box confirmed
  bool halted = false;     // state.halted says why
};

// Wave sizes for `spec` over `boxes` boxes: comma-separated counts ("1"), percentages of the
// whole fleet ("10%", rounded up, at least 1) and "rest" (last only). Waves past the fleet's end
// are dropped; boxes left after the last wave form one more. kInvalidArgument naming the bad
// part.
Result<std::vector<size_t>> waveSizes(const std::string& spec, size_t boxes);

// The gate's deny-rate part: `before` and `after` each span one window.
struct GateInput {
  BoxSample before_start, before_end, after_start, after_end;
};
// Empty when the rate is acceptable; else why not ("deny rate 12.4/s after, 0.0/s before").
std::string denyRateProblem(const GateInput& in, double multiple, double floor);

// Runs (or resumes) the rollout. `state_path`: the RolloutState file (read if present, written
// after every step, atomically). Never throws; a state file that cannot be written halts. Holds
// an exclusive lock on `state_path`.lock while it runs: a second rollout on the same state is
// refused (halted, nothing touched).
RolloutResult runRollout(const std::vector<RolloutBox>& boxes, const RolloutOptions& options,
                         const std::string& state_path, Sleeper& sleeper,
                         const Progress& progress);

}  // namespace muzzle::fleet
