// `muzzlectl fleet apply DIR`: the pieces of the command that need no box, so unit tests reach
// them: where each rollout setting comes from, and whether the confirm window is long enough.
#pragma once

#include <cstddef>
#include <string>

#include "fw/common/status.h"
#include "mgmt/fleet/rollout.h"
#include "muzzle/v1/fleet.pb.h"

namespace muzzle::ctl {

// The command line as given; empty / 0: not given.
struct FleetApplyArgs {
  std::string dir;
  std::string waves;
  std::string confirm;  // duration
  std::string window;   // duration
  uint32_t parallel = 0;
  std::string comment;
  bool restart = false;
  std::string state;  // the state file; default DIR/.fleet-rollout.json
};

// The state file's name in the fleet directory when --state is not given.
inline constexpr const char* kRolloutStateName = ".fleet-rollout.json";

// Each setting from the command line, else fleet.yaml's `rollout`/`health`, else
// RolloutOptions' default. The command line's values were checked when it was parsed; a bad
// value in fleet.yaml is kInvalidArgument naming its key ("fleet.yaml: rollout.confirm ...").
Result<fleet::RolloutOptions> rolloutOptions(const FleetApplyArgs& args, const v1::Fleet& file);

// The state file: --state, else DIR/.fleet-rollout.json.
std::string rolloutStatePath(const FleetApplyArgs& args);

// Spare time a confirm window keeps beyond the health windows: calls, a slow box.
inline constexpr uint32_t kConfirmMarginSeconds = 60;

// Empty when the confirm window outlasts the wait of a wave's first box: a box is confirmed
// only once every box of its wave passed its gate, and with W boxes in the largest wave and
// --parallel P the wave takes ceil(W/P) rounds of two windows (before and after). Else the
// usage error, saying what to raise (or shorten).
std::string confirmWindowProblem(const fleet::RolloutOptions& options, size_t boxes);

}  // namespace muzzle::ctl
